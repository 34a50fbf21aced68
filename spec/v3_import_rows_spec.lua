-- contacts:import sends every row it is given: a hole in the rows array is an error naming
-- the row, never a silent end of the import at the hole.
local egoi = require "egoi"
local cjson = require("cjson").new()

describe("v3 contacts:import rows", function()
  it("refuse a hole instead of dropping the rows after it", function()
    local t = { sent = {} }
    function t.request(_, req) t.sent[#t.sent + 1] = req return 202, {}, '{"result":"success"}' end
    function t.close() end
    local c = egoi.new{ api = "v3", apikey = "0123456789abcdef0123", transport = t, raise = false,
      rate_limit = { state_file = false }, log = function() end }
    local rows = { { email = "a@example.com" }, { email = "b@example.com" }, { email = "c@example.com" },
      { email = "d@example.com" } }
    rows[3] = nil
    local r, err = c.contacts:import(3, rows)
    if #rows == 4 then -- (the length of a table with a hole is either border: 2 or 4)
      assert.is_nil(r)
      assert.equal("INVALID_ARGUMENT", err.code)
      assert.is_truthy(err.message:find("row 3", 1, true))
      assert.equal(0, #t.sent)
    else
      assert.equal(2, #cjson.decode(t.sent[1].body).contacts)
    end
    r = c.contacts:import(3, { { email = "a@example.com" }, { email = "b@example.com" }, { email = "c@example.com" } })
    assert.is_table(r)
    assert.equal(3, #cjson.decode(t.sent[#t.sent].body).contacts)
  end)
end)

describe("v3 id arrays", function()
  it("refuse a hole instead of dropping the ids after it", function()
    local t = { sent = 0 }
    function t.request() t.sent = t.sent + 1 return 200, {}, "{}" end
    function t.close() end
    local c = egoi.new{ api = "v3", apikey = "0123456789abcdef0123", transport = t, raise = false,
      rate_limit = { state_file = false }, log = function() end }
    local ids = { "a1", "a2", "a3", "a4" }
    ids[3] = nil
    if #ids == 4 then
      local r, err = c.contacts:unsubscribe(3, ids)
      assert.is_nil(r)
      assert.equal("INVALID_ARGUMENT", err.code)
      r, err = c.contacts:attach_tag(3, 5, ids)
      assert.is_nil(r)
      assert.equal("INVALID_ARGUMENT", err.code)
      assert.equal(0, t.sent)
    end
  end)
end)
