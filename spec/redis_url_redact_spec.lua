-- A Redis URL's password never shows in an error, whatever it holds ('/', '@') and even when
-- the URL is mistyped (the message names the URL to help, with the credentials replaced).
local egoi = require "egoi"
local redis = require "egoi.limiter.redis"

local KEY = "0123456789abcdef0123456789abcdef01234567"

describe("Redis URL messages", function()
  local cases = {
    "redis://u:pa/SECRET@host:99999",
    "redis://u:p@SECRET@host:99999",
    "redis:/u:SECRET@host",
    "redis//:SECRET@host",
    "rediss://u:SECRET@host",
    "redis://u:SECRET/x@h/abc",
    "redis://:SECRET@h:0",
  }
  for _, url in ipairs(cases) do
    it("hide the password of " .. url:gsub("SECRET", "..."), function()
      local ok, err = pcall(egoi.new, { apikey = KEY, rate_limit = { redis = url } })
      assert.is_false(ok)
      assert.equal("usage", err.kind)
      assert.is_nil(tostring(err):find("SECRET", 1, true), tostring(err))
      assert.is_nil(redis.redact(url):find("SECRET", 1, true))
    end)
  end

  it("keep a URL without credentials as it is", function()
    assert.equal("redis://127.0.0.1:6379/2", redis.redact("redis://127.0.0.1:6379/2"))
    assert.equal("redis://***@127.0.0.1:6379/2", redis.redact("redis://u:p@127.0.0.1:6379/2"))
  end)
end)

describe("Redis options out of range", function()
  it("give a message with the range (core.redis) and a usage error (egoi.new)", function()
    local core = require "egoi.core"
    local ok, err = pcall(core.redis, { db = 1e7 })
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("redis: option 'db' must be from 0 to", 1, true), tostring(err))
    ok, err = pcall(core.redis, { timeout = 0 })
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("option 'timeout' must be from", 1, true), tostring(err))
    ok, err = pcall(egoi.new, { apikey = KEY, rate_limit = { redis = "redis://:SECRET@127.0.0.1:6379/99999999999" } })
    assert.is_false(ok)
    assert.equal("usage", err.kind)
    assert.is_truthy(err.message:find("database number", 1, true))
    assert.is_nil(err.message:find("SECRET", 1, true))
  end)
end)

describe("Redis timeouts out of range", function()
  it("are usage errors naming the rate_limit option", function()
    for _, rl in ipairs{ { redis_timeout = 1e7 }, { redis_connect_timeout = 0.00001 }, { redis_timeout = 0 / 0 } } do
      rl.redis = "redis://127.0.0.1:6379/0"
      local ok, err = pcall(egoi.new, { apikey = KEY, rate_limit = rl })
      assert.is_false(ok)
      assert.equal("usage", err.kind, tostring(err))
      assert.is_truthy(err.message:find("'rate_limit.redis_", 1, true), err.message)
    end
  end)
end)
