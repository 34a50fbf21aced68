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
      ["egoi.callback"] = "lua/egoi/callback.lua",
      ["egoi.errors"] = "lua/egoi/errors.lua",
      ["egoi.bulk"] = "lua/egoi/bulk.lua",
      ["egoi.callback"] = "lua/egoi/callback.lua",
      ["egoi.cli"] = "lua/egoi/cli/init.lua",
      ["egoi.cli.output"] = "lua/egoi/cli/output.lua",
      ["egoi.cli.progress"] = "lua/egoi/cli/progress.lua",
      ["egoi.cli.sandbox"] = "lua/egoi/cli/sandbox.lua",
      ["egoi.client"] = "lua/egoi/client.lua",
      ["egoi.csv"] = "lua/egoi/csv.lua",
      ["egoi.errors"] = "lua/egoi/errors.lua",
      ["egoi"] = "lua/egoi/init.lua",
      ["egoi.limiter.file"] = "lua/egoi/limiter/file.lua",
      ["egoi.limiter.shdict"] = "lua/egoi/limiter/shdict.lua",
      ["egoi.methods"] = "lua/egoi/methods.lua",
      ["egoi.resources"] = "lua/egoi/resources/init.lua",
      ["egoi.resources.subscribers"] = "lua/egoi/resources/subscribers.lua",
      ["egoi.resty"] = "lua/egoi/resty.lua",
      ["egoi.retry_after"] = "lua/egoi/retry_after.lua",
      ["egoi.sandbox.access"] = "lua/egoi/sandbox/access.lua",
      ["egoi.sandbox.api"] = "lua/egoi/sandbox/api.lua",
      ["egoi.sandbox.app"] = "lua/egoi/sandbox/app.lua",
      ["egoi.sandbox.callbacks"] = "lua/egoi/sandbox/callbacks.lua",
      ["egoi.sandbox.cli"] = "lua/egoi/sandbox/cli.lua",
      ["egoi.sandbox.conn"] = "lua/egoi/sandbox/conn.lua",
      ["egoi.sandbox.envelope"] = "lua/egoi/sandbox/envelope.lua",
      ["egoi.sandbox.form"] = "lua/egoi/sandbox/form.lua",
      ["egoi.sandbox.http"] = "lua/egoi/sandbox/http.lua",
      ["egoi.sandbox.loop"] = "lua/egoi/sandbox/loop.lua",
      ["egoi.sandbox.m_account"] = "lua/egoi/sandbox/m_account.lua",
      ["egoi.sandbox.m_campaigns"] = "lua/egoi/sandbox/m_campaigns.lua",
      ["egoi.sandbox.m_lists"] = "lua/egoi/sandbox/m_lists.lua",
      ["egoi.sandbox.m_subscribers"] = "lua/egoi/sandbox/m_subscribers.lua",
      ["egoi.sandbox.main"] = "lua/egoi/sandbox/main.lua",
      ["egoi.sandbox.outbound"] = "lua/egoi/sandbox/outbound.lua",
      ["egoi.sandbox.ratelimit"] = "lua/egoi/sandbox/ratelimit.lua",
      ["egoi.sandbox.shape"] = "lua/egoi/sandbox/shape.lua",
      ["egoi.sandbox.store"] = "lua/egoi/sandbox/store.lua",
      ["egoi.sandbox.util"] = "lua/egoi/sandbox/util.lua",
      ["egoi.sandbox.xmlrpc"] = "lua/egoi/sandbox/xmlrpc.lua",
      ["egoi.transport.curl"] = "lua/egoi/transport/curl.lua",
      ["egoi.transport.resty"] = "lua/egoi/transport/resty.lua",
   },
   install = {
      bin = {
         ["egoi-sandbox"] = "bin/egoi-sandbox",
         ["egoi"] = "bin/egoi",
      },
   },
}
