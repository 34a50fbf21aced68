-- egoi.sandbox.routes: a plain table from path to codec; exact paths first, then
-- the longest matching prefix (how the v3 routes and any further protocol plug in).
local routes = require "egoi.sandbox.routes"

describe("egoi.sandbox.routes", function()
  local saved_prefixes
  before_each(function()
    saved_prefixes = routes.prefixes
    package.loaded["spec.fake_codec_a"] = { serve = function() return "a" end }
    package.loaded["spec.fake_codec_b"] = { serve = function() return "b" end }
  end)
  after_each(function()
    routes.prefixes = saved_prefixes
    routes.paths["/v3/exact"] = nil
  end)

  it("maps the four v2 endpoints to their codecs", function()
    assert.equal("egoi.sandbox.codec_rest", routes.paths["/v2/rest.php"].codec)
    assert.equal("egoi.sandbox.codec_xmlrpc", routes.paths["/v2/xmlrpc.php"].codec)
    assert.same({ codec = "egoi.sandbox.codec_soap", endpoint = "soap" }, routes.paths["/v2/soap.php"])
    assert.same({ codec = "egoi.sandbox.codec_soap", endpoint = "soap_any" }, routes.paths["/v2/soap_any.php"])
    assert.is_nil(routes.find("/v2/nothing.php"))
  end)

  it("takes new routes by one table entry: exact paths, then the longest prefix", function()
    routes.prefixes = { { prefix = "/v3/", codec = "spec.fake_codec_a" },
                        { prefix = "/v3/lists", codec = "spec.fake_codec_b" } }
    routes.paths["/v3/exact"] = { codec = "spec.fake_codec_b", extra = 1 }
    local r, c = routes.find("/v3/lists/7")
    assert.equal("b", c.serve())
    assert.equal("/v3/lists", r.prefix)
    r, c = routes.find("/v3/contacts")
    assert.equal("/v3/", r.prefix)
    assert.equal("a", c.serve())
    r, c = routes.find("/v3/exact")
    assert.equal(1, r.extra)
    assert.equal("b", c.serve())
  end)
end)
