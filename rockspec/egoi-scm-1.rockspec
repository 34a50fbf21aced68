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
   HIREDIS = { header = "hiredis/hiredis.h", library = "hiredis" },
}
build = {
   type = "builtin",
   modules = {
      ["egoi.core"] = {
         sources = {
            "csrc/core.c", "csrc/errors.c", "csrc/encode.c", "csrc/decode.c",
            "csrc/xmlrpc.c", "csrc/transport.c", "csrc/ratelimit.c", "csrc/redis.c",
         },
         defines = { "_DEFAULT_SOURCE", "_GNU_SOURCE" },
         libraries = { "curl", "expat", "hiredis" },
         incdirs = { "$(CURL_INCDIR)", "$(EXPAT_INCDIR)", "$(HIREDIS_INCDIR)" },
         libdirs = { "$(CURL_LIBDIR)", "$(EXPAT_LIBDIR)", "$(HIREDIS_LIBDIR)" },
      },
      ["egoi.callback"] = "lua/egoi/callback.lua",
      ["egoi.errors"] = "lua/egoi/errors.lua",
      ["egoi.bulk"] = "lua/egoi/bulk.lua",
      ["egoi.callback"] = "lua/egoi/callback.lua",
      ["egoi.check"] = "lua/egoi/check.lua",
      ["egoi.cli"] = "lua/egoi/cli/init.lua",
      ["egoi.cli.output"] = "lua/egoi/cli/output.lua",
      ["egoi.cli.progress"] = "lua/egoi/cli/progress.lua",
      ["egoi.cli.sandbox"] = "lua/egoi/cli/sandbox.lua",
      ["egoi.client"] = "lua/egoi/client.lua",
      ["egoi.csv"] = "lua/egoi/csv.lua",
      ["egoi.deadletter"] = "lua/egoi/deadletter.lua",
      ["egoi.errors"] = "lua/egoi/errors.lua",
      ["egoi"] = "lua/egoi/init.lua",
      ["egoi.limiter.redis"] = "lua/egoi/limiter/redis.lua",
      ["egoi.limiter.redis_cosocket"] = "lua/egoi/limiter/redis_cosocket.lua",
      ["egoi.limiter.redis_script"] = "lua/egoi/limiter/redis_script.lua",
      ["egoi.limiter.shdict"] = "lua/egoi/limiter/shdict.lua",
      ["egoi.methods"] = "lua/egoi/methods.lua",
      ["egoi.options"] = "lua/egoi/options.lua",
      ["egoi.resources"] = "lua/egoi/resources/init.lua",
      ["egoi.resources.shapes"] = "lua/egoi/resources/shapes.lua",
      ["egoi.resources.subscribers"] = "lua/egoi/resources/subscribers.lua",
      ["egoi.resty"] = "lua/egoi/resty.lua",
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
      ["egoi.sandbox.v3"] = "lua/egoi/sandbox/v3/init.lua",
      ["egoi.sandbox.v3.deliver"] = "lua/egoi/sandbox/v3/deliver.lua",
      ["egoi.sandbox.v3.errors"] = "lua/egoi/sandbox/v3/errors.lua",
      ["egoi.sandbox.v3.json"] = "lua/egoi/sandbox/v3/json.lua",
      ["egoi.sandbox.v3.limits"] = "lua/egoi/sandbox/v3/limits.lua",
      ["egoi.sandbox.v3.r_campaigns"] = "lua/egoi/sandbox/v3/r_campaigns.lua",
      ["egoi.sandbox.v3.r_contacts"] = "lua/egoi/sandbox/v3/r_contacts.lua",
      ["egoi.sandbox.v3.r_lists"] = "lua/egoi/sandbox/v3/r_lists.lua",
      ["egoi.sandbox.v3.r_misc"] = "lua/egoi/sandbox/v3/r_misc.lua",
      ["egoi.sandbox.v3.util"] = "lua/egoi/sandbox/v3/util.lua",
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
