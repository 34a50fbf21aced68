rockspec_format = "3.0"
package = "egoi"
version = "scm-1"
source = {
   url = "git+file:///work/main",
}
description = {
   summary = "Client for the E-goi marketing API v2 (REST and XML-RPC), with a C core",
   detailed = [[
A Lua module with a C core (libcurl transport, PHP-style form encoding,
XML-RPC with libexpat, an exact cross-process rate limiter) that drives every
method of the E-goi v2 API as resource tables, raises structured errors, and
ships a local stateful sandbox of the service.
]],
   license = "MIT",
}
dependencies = {
   "lua >= 5.1",
   "lua-cjson",
}
external_dependencies = {
   CURL = { header = "curl/curl.h", library = "curl" },
   EXPAT = { header = "expat.h", library = "expat" },
}
build = {
   type = "builtin",
   modules = {
      ["egoi.core"] = {
         sources = {
            "csrc/core.c", "csrc/errors.c", "csrc/encode.c", "csrc/decode.c",
            "csrc/xmlrpc.c", "csrc/transport.c", "csrc/ratelimit.c",
         },
         defines = { "_DEFAULT_SOURCE", "_GNU_SOURCE" },
         libraries = { "curl", "expat" },
         incdirs = { "$(CURL_INCDIR)", "$(EXPAT_INCDIR)" },
         libdirs = { "$(CURL_LIBDIR)", "$(EXPAT_LIBDIR)" },
      },
      ["egoi"] = "lua/egoi/init.lua",
      ["egoi.client"] = "lua/egoi/client.lua",
      ["egoi.errors"] = "lua/egoi/errors.lua",
      ["egoi.methods"] = "lua/egoi/methods.lua",
      ["egoi.resources"] = "lua/egoi/resources/init.lua",
      ["egoi.resources.subscribers"] = "lua/egoi/resources/subscribers.lua",
      ["egoi.transport.curl"] = "lua/egoi/transport/curl.lua",
   },
   install = {
      bin = {
         ["egoi-sandbox"] = "bin/egoi-sandbox",
      },
   },
}
