-- Failure semantics against a real loopback server that fails on purpose
-- (spec/servers/flaky.py): reads recover, writes are sent exactly once.
local server = require "helpers.server"
local egoi = require "egoi"
local cjson = require("cjson").new()
local socket_http = require "socket.http"

local KEY = "0123456789abcdef0123456789abcdef01234567"

describe("failure semantics (flaky loopback server)", function()
  local srv
  local n = 0
  setup(function() srv = server.start{ cmd = "python3 spec/servers/flaky.py {port}" } end)
  teardown(function() srv:stop() end)

  local function scenario(mode, count)
    n = n + 1
    local tag = mode .. n
    local c = egoi.new{ apikey = KEY, rate_limit = false, retries = 2, timeout = 0.5,
      backoff = 0.01, url = srv:url(("/v2/rest.php?tag=%s&mode=%s&n=%d"):format(tag, mode, count)) }
    local function counts()
      local body = assert(socket_http.request(srv:url("/count?tag=" .. tag)))
      return cjson.decode(body)
    end
    return c, counts
  end

  for _, mode in ipairs{ "500", "stall", "drop", "internal" } do
    it("a read-only call recovers from '" .. mode .. "'", function()
      local c, counts = scenario(mode, 2)
      local lists = c.lists:all()
      c:close()
      assert.equal("ok", lists[1].title)
      assert.equal(3, counts().getLists)
    end)

    it("sendEmail is sent exactly once on '" .. mode .. "'", function()
      local c, counts = scenario(mode, 1)
      local ok, err = pcall(c.send.email, c.send, { listID = 1, campaign = "h1", segment = "ALL" })
      c:close()
      assert.is_false(ok)
      assert.is_false(err.retryable)
      assert.equal("sendEmail", err.method)
      assert.equal(1, counts().sendEmail)
    end)
  end

  it("a read that keeps failing gives up after the retries", function()
    local c, counts = scenario("500", 100)
    local ok, err = pcall(c.lists.all, c.lists)
    c:close()
    assert.is_false(ok)
    assert.equal("http", err.kind)
    assert.equal(500, err.http_status)
    assert.equal(3, counts().getLists)
  end)
end)
