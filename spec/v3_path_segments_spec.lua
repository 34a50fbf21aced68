-- A path parameter "." or ".." (or such a segment in a raw path) is a usage error before any
-- I/O: HTTP clients and servers fold dot segments away, so DELETE
-- /lists/7/segments/.. would reach /lists/7/, the list itself.
local egoi = require "egoi"

local function client()
  local t = { sent = 0 }
  function t.request() t.sent = t.sent + 1 return 204, {}, "" end
  function t.close() end
  return egoi.new{ api = "v3", apikey = "0123456789abcdef0123", transport = t, raise = false,
    rate_limit = { state_file = false }, log = function() end }, t
end

describe("v3 path parameters", function()
  for _, id in ipairs{ "..", "." } do
    it(("refuse %q as an id"):format(id), function()
      local c, t = client()
      local r, err = c:call("deleteSegment", { list_id = 7, segment_id = id })
      assert.is_nil(r)
      assert.equal("INVALID_ARGUMENT", err.code)
      assert.is_truthy(err.message:find("'segment_id'", 1, true))
      r, err = c.tags:delete(id)
      assert.is_nil(r)
      assert.equal("INVALID_ARGUMENT", err.code)
      assert.equal(0, t.sent)
    end)
  end

  it("refuse dot segments in a raw path, keep other dots", function()
    local c, t = client()
    for _, p in ipairs{ "/lists/7/segments/..", "/lists/./7", "/lists/7/../8?x=1" } do
      local r, err = c:request("DELETE", p)
      assert.is_nil(r)
      assert.equal("INVALID_ARGUMENT", err.code, p)
    end
    assert.equal(0, t.sent)
    assert.is_nil((c:request("DELETE", "/tags/a.b")))
    assert.is_nil((c:call("deleteTag", { tag_id = "...x" })))
    assert.equal(2, t.sent)
  end)
end)

describe("v3 numbers in paths and queries", function()
  it("refuse an id too large for an exact integer, and NaN or an infinity in a query", function()
    local c, t = client()
    for _, v in ipairs{ 1e300, math.huge, 2 ^ 63, 2 ^ 53 } do
      local ok, r, err = pcall(c.call, c, "getList", { list_id = v })
      assert.is_true(ok, tostring(r))
      assert.equal("INVALID_ARGUMENT", err.code)
      assert.is_truthy(err.message:find("'list_id'", 1, true))
    end
    for _, q in ipairs{ { limit = 0 / 0 }, { limit = math.huge }, { a = { -math.huge } } } do
      local r, err = c:call("getAllContacts", { list_id = 1, query = q })
      assert.is_nil(r)
      assert.equal("INVALID_ARGUMENT", err.code)
    end
    assert.equal(0, t.sent)
  end)
end)
