-- v3 sends the key (and the plugin key) as header values. One holding CR, LF or NUL is a
-- usage error before any I/O, naming the option and never showing its value: no raw error
-- from the transport, raise = false honoured, no limiter slot spent.
local egoi = require "egoi"

local function client(extra)
  local t = { sent = 0 }
  function t.request() t.sent = t.sent + 1 return 200, {}, "{}" end
  function t.close() end
  local o = { api = "v3", apikey = "0123456789abcdef0123", transport = t, raise = false,
    rate_limit = { state_file = false }, log = function() end }
  for k, v in pairs(extra) do o[k] = v end
  return egoi.new(o), t
end

describe("v3 header values from the options", function()
  for _, case in ipairs{ { "apikey", "SECRET\r\nX-Evil: 1" }, { "apikey", "SECRET\0" },
                         { "plugin_key", "SECRET\nX" } } do
    it(("refuse a control character in '%s'"):format(case[1]), function()
      local c, t = client{ [case[1]] = case[2] }
      local ok, r, err = pcall(c.call, c, "getMyAccount", {})
      assert.is_true(ok, tostring(r))
      assert.is_nil(r)
      assert.equal("usage", err.kind)
      assert.equal("INVALID_ARGUMENT", err.code)
      assert.is_truthy(err.message:find("'" .. case[1] .. "'", 1, true))
      assert.is_nil(tostring(err):find("SECRET", 1, true))
      assert.equal(0, t.sent)
      assert.equal(0, c:rate_limit_status().used)
    end)
  end

  it("refuse it on the libcurl transport too (which would raise on the header)", function()
    local c = egoi.new{ api = "v3", apikey = "SECRET\r\nX-Evil: 1", url = "http://127.0.0.1:9", raise = false,
      rate_limit = { state_file = false }, retries = 0 }
    local ok, r, err = pcall(c.call, c, "getMyAccount", {})
    assert.is_true(ok, tostring(r))
    assert.equal("INVALID_ARGUMENT", err.code)
    assert.equal(0, c:rate_limit_status().used)
    c:close()
  end)
end)

describe("v3 query values", function()
  it("refuse a table inside a query table instead of sending 'table: 0x...'", function()
    local c, t = client{}
    local r, err = c:call("getAllContacts", { list_id = 7, query = { extra_field_id = { [3] = { "Porto" } } } })
    assert.is_nil(r)
    assert.equal("INVALID_ARGUMENT", err.code)
    assert.is_truthy(err.message:find("'extra_field_id'", 1, true))
    assert.equal(0, t.sent)
  end)
end)
