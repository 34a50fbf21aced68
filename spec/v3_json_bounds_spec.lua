-- A v3 request body that contains itself, or reaches the same tables through many paths,
-- is a usage error before any I/O, never a hang (walking it costs time exponential in its
-- depth); ordinary bodies, empty arrays marked with json.array(), are encoded as before.
local egoi = require "egoi"
local json = require "egoi.v3.json"
local cjson = require("cjson").new()

local function client()
  local t = { sent = {} }
  function t.request(_, req) t.sent[#t.sent + 1] = req return 201, {}, '{"list_id":1}' end
  function t.close() end
  return egoi.new{ api = "v3", apikey = "0123456789abcdef0123", transport = t, raise = false,
    rate_limit = { state_file = false }, log = function() end }, t
end

describe("v3 JSON bodies", function()
  it("refuse a body that contains itself (two references: no exponential walk)", function()
    local c, t = client()
    local body = { internal_name = "x", tags = json.array() }
    body.a, body.b = body, body
    local r, err = c.lists:create(body)
    assert.is_nil(r)
    assert.equal("INVALID_ARGUMENT", err.code)
    assert.is_truthy(err.message:find("contains itself", 1, true))
    assert.equal(0, #t.sent)
  end)

  it("refuse a body that reaches one table through 2^40 paths, in bounded time", function()
    local c, t = client()
    local node = { v = 1 }
    for _ = 1, 40 do node = { a = node, b = node } end
    local t0 = os.time()
    local r, err = c.lists:create{ internal_name = "x", deep = node }
    assert.is_nil(r)
    assert.equal("INVALID_ARGUMENT", err.code)
    assert.is_true(os.time() - t0 < 60)
    assert.equal(0, #t.sent)
  end)

  it("still encode an ordinary body, shared subtables and empty arrays included", function()
    local c, t = client()
    local shared = { k = "v" }
    local rows = {}
    for i = 1, 2000 do rows[i] = { id = i, s = shared } end
    assert.is_table(c.lists:create{ internal_name = "x", rows = rows, tags = json.array() })
    local sent = cjson.decode(t.sent[1].body)
    assert.equal(2000, #sent.rows)
    assert.equal("v", sent.rows[2000].s.k)
    assert.is_truthy(t.sent[1].body:find('"tags":[]', 1, true))
  end)
end)
