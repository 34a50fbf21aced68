-- The rate limiter on Redis (egoi.limiter.redis): one window for the account, shared by
-- processes and nginx workers, against a real redis-server (spec/helpers/redis.lua).
local core = require "egoi.core"
local egoi = require "egoi"
local rl = require "egoi.limiter.redis"
local redis = require "helpers.redis"
local server = require "helpers.server"
local read_file = server.read_file

local n_keys = 0
local function new_key()
  n_keys = n_keys + 1
  return ("spec-key-%d-%d-%d"):format(n_keys, math.random(1, 1e9), math.floor(core.now()))
end

local function lim_for(r, key, calls, window, extra)
  local o = { url = r:url(), key = core.key_id(key), calls = calls, window = window }
  for k, v in pairs(extra or {}) do o[k] = v end
  return rl.new(o)
end

describe("redis limiter: URL #redis", function()
  it("parses redis://[user:password@]host[:port][/db]", function()
    local c = assert(rl.parse_url("redis://alice:p%40ss%3Aw%2Frd@10.0.0.5:6380/3"))
    assert.same({ host = "10.0.0.5", port = 6380, db = 3, user = "alice", password = "p@ss:w/rd" }, c)
    c = assert(rl.parse_url("redis://:secret@localhost"))
    assert.same({ host = "localhost", port = 6379, db = 0, password = "secret" }, c)
    c = assert(rl.parse_url("redis://[::1]:7000/"))
    assert.same({ host = "::1", port = 7000, db = 0 }, c)
  end)

  it("refuses other URLs with a message that hides the password", function()
    for _, u in ipairs{ "http://h", "redis://", "redis://:pw@h:99999", "redis://u:topsecret@h/x",
      "redis://u:topsecret@" } do
      local c, msg = rl.parse_url(u)
      assert.is_nil(c, u)
      assert.is_string(msg)
      assert.is_nil(msg:find("topsecret", 1, true), msg)
    end
    local ok, err = pcall(egoi.new, { apikey = "k", rate_limit = { redis = "redis://u:topsecret@h/x" } })
    assert.is_false(ok)
    assert.equal("usage", err.kind)
    assert.matches("rate_limit.redis", err.message, 1, true)
    assert.is_nil(tostring(err):find("topsecret", 1, true))
    ok, err = pcall(egoi.new, { apikey = "k", rate_limit = { redis = "redis://h", on_unavailable = "maybe" } })
    assert.is_false(ok)
    assert.matches("on_unavailable", err.message, 1, true)
  end)
end)

describe("redis limiter: one process #redis", function()
  local r

  setup(function() r = redis.start() end)
  teardown(function() if r then r:stop() end end)

  it("admits `calls` per rolling window, then names the wait", function()
    local lim = lim_for(r, new_key(), 3, 1)
    for _ = 1, 3 do assert.is_true((lim:reserve(0))) end
    local ok, wait = lim:reserve(0)
    assert.is_false(ok)
    assert.is_true(wait > 0 and wait <= 1, tostring(wait))
    local used, remaining, reset_in = lim:status(0)
    assert.same({ 3, 0 }, { used, remaining })
    assert.is_true(reset_in > 0 and reset_in <= 1)
    core.sleep(wait)
    local ok2, slot = lim:reserve(0)
    assert.is_true(ok2)
    assert.same({ true, true }, { lim:commit(slot, 0) })
    lim:close()
    assert.equal(rl.Limiter, getmetatable(lim))
    assert.matches("closed", tostring(lim))
  end)

  it("ignores the `now` arguments: the time is Redis' own", function()
    local lim = lim_for(r, new_key(), 1, 0.3)
    assert.is_true((lim:reserve(1e12)))    -- a host clock far in the future
    local ok, wait = lim:reserve(-1e12)    -- ... and far in the past
    assert.is_false(ok)
    assert.is_true(wait > 0 and wait <= 0.3)
    lim:close()
  end)

  it("commit moves the stamp to the end of the exchange", function()
    local lim = lim_for(r, new_key(), 1, 0.5)
    local _, slot = lim:reserve(0)
    core.sleep(0.3)
    assert.same({ true, true }, { lim:commit(slot, 0) })
    local ok, wait = lim:reserve(0)
    assert.is_false(ok)
    assert.is_true(wait > 0.4, "the window counts from the commit: " .. wait)
    assert.same({ true, false }, { lim:commit(slot, 0) }) -- a second commit moves nothing more
    lim:close()
  end)

  it("each client applies its own budget to the shared history, and keeps what longer windows need", function()
    local key = new_key()
    local long = lim_for(r, key, 5, 3)
    local short = lim_for(r, key, 2, 0.4)
    assert.is_true((long:reserve(0)))
    assert.is_true((long:reserve(0)))
    assert.is_false((short:reserve(0)))     -- 2 in its 0.4 s already
    core.sleep(0.45)
    assert.is_true((short:reserve(0)))      -- its window is clear; the call counts for all
    local u, rem = long:status(0)
    assert.same({ 3, 2 }, { u, rem })
    core.sleep(0.45)
    assert.is_true((short:reserve(0)))      -- and did not trim the long window's history
    local used, remaining = long:status(0)
    assert.same({ 4, 1 }, { used, remaining })
    assert.is_true((long:reserve(0)))
    assert.is_false((long:reserve(0)))
    local ok, wait = short:reserve(0)
    assert.is_false(ok)                     -- the last two calls are younger than 0.4 s
    assert.is_true(wait <= 0.4)
    long:close(); short:close()
  end)

  it("keeps the account's hour of history for a budget that joins later", function()
    local key = new_key()
    local short = lim_for(r, key, 5, 0.2)
    for _ = 1, 5 do assert.is_true((short:reserve(0))) end
    core.sleep(0.25)
    for _ = 1, 5 do assert.is_true((short:reserve(0))) end -- trims nothing the hour needs
    local hourly = lim_for(r, key, 12, 3600)
    local used, remaining = hourly:status(0)
    assert.same({ 10, 2 }, { used, remaining })
    assert.is_true((hourly:reserve(0)))
    assert.is_true((hourly:reserve(0)))
    assert.is_false((hourly:reserve(0)))
    local ttl = assert(r:command("PTTL", "egoi:rl:{" .. core.key_id(key) .. "}:t"))
    assert.is_true(ttl > 3500000, tostring(ttl))
    short:close(); hourly:close()
  end)

  it("block: nobody sharing the window is admitted before it ends; a later block never shortens it", function()
    local key = new_key()
    local a, b = lim_for(r, key, 100, 10), lim_for(r, key, 5, 1)
    assert.is_true(a:block(0, 0.6))
    assert.is_true(b:block(0, 0.1))
    local ok, wait = b:reserve(0)
    assert.is_false(ok)
    assert.is_true(wait > 0.3 and wait <= 0.6, tostring(wait))
    local used, remaining, reset_in = a:status(0)
    assert.same({ 100, 0 }, { used, remaining })
    assert.is_true(reset_in > 0.3)
    core.sleep(wait)
    assert.is_true((b:reserve(0)))
    a:close(); b:close()
  end)

  it("fill: the window is full from now for every budget", function()
    local key = new_key()
    local a, b = lim_for(r, key, 3, 0.5), lim_for(r, key, 10, 0.3)
    assert.is_true(a:fill(0))
    assert.is_false((a:reserve(0)))
    local ok, wait = b:reserve(0)
    assert.is_false(ok)
    assert.is_true(wait > 0.1 and wait <= 0.3)
    a:close(); b:close()
  end)

  it("names its keys from the key id (never the key) and lets them expire after a window of silence", function()
    local key = new_key()
    local lim = lim_for(r, key, 2, 0.5, { history_window = 0 })
    assert.is_true((lim:reserve(0)))
    local keys = assert(r:command("KEYS", "*" .. core.key_id(key) .. "*"))
    table.sort(keys)
    assert.same({ "egoi:rl:{" .. core.key_id(key) .. "}:m", "egoi:rl:{" .. core.key_id(key) .. "}:t" }, keys)
    local all = assert(r:command("KEYS", "*"))
    for _, k in ipairs(all) do assert.is_nil(k:find(key, 1, true)) end
    local ttl = assert(r:command("PTTL", keys[2]))
    assert.is_true(ttl > 0 and ttl <= 1500, tostring(ttl))
    for _ = 1, 60 do
      if #assert(r:command("KEYS", "*" .. core.key_id(key) .. "*")) == 0 then break end
      core.sleep(0.1)
    end
    assert.same({}, assert(r:command("KEYS", "*" .. core.key_id(key) .. "*")))
    lim:close()
  end)

  it("loads the script again after SCRIPT FLUSH (NOSCRIPT)", function()
    local lim = lim_for(r, new_key(), 2, 1)
    assert.is_true((lim:reserve(0)))
    assert.equal("OK", r:command("SCRIPT", "FLUSH"))
    assert.is_true((lim:reserve(0)))
    assert.is_false((lim:reserve(0)))
    lim:close()
  end)

  it("a key of the wrong type: LIMITER_WRONG_TYPE, naming the key id only", function()
    local key = new_key()
    assert.equal("OK", r:command("SET", "egoi:rl:{" .. core.key_id(key) .. "}:t", "not a zset"))
    local lim = lim_for(r, key, 2, 1)
    for _, op in ipairs{ "reserve", "status", "fill" } do
      local ok, code, msg = lim[op](lim, 0)
      assert.is_nil(ok, op)
      assert.equal("LIMITER_WRONG_TYPE", code)
      assert.matches(core.key_id(key), msg, 1, true)
      assert.is_nil(msg:find(key, 1, true))
    end
    lim:close()
  end)

  it("after fork() the child opens its own connection (parent and child at once)", function()
    local okp, unistd = pcall(require, "posix.unistd")
    local okw, wait = pcall(require, "posix.sys.wait")
    if not (okp and okw) then
      pending("lua-posix (posix.unistd) is not installed for this interpreter")
      return
    end
    local key = new_key()
    local lim = lim_for(r, key, 1000, 60)
    assert.is_true((lim:reserve(0)))          -- connected before the fork
    local pid = unistd.fork()
    if pid == 0 then
      local bad = 0
      for _ = 1, 50 do if lim:reserve(0) ~= true then bad = bad + 1 end end
      unistd._exit(bad == 0 and 0 or 1)
    end
    local bad = 0
    for _ = 1, 50 do if lim:reserve(0) ~= true then bad = bad + 1 end end
    local _, how, status = wait.wait(pid)
    assert.equal(0, bad)
    assert.same({ "exited", 0 }, { how, status })
    assert.equal(101, (lim:status(0)))
    lim:close()
  end)

  it("a prefix of its own", function()
    local key = new_key()
    local lim = lim_for(r, key, 1, 1, { prefix = "app7:" })
    assert.is_true((lim:reserve(0)))
    assert.equal(1, r:command("EXISTS", "app7:{" .. core.key_id(key) .. "}:t"))
    assert.is_true((lim_for(r, key, 1, 1):reserve(0))) -- another prefix: another window
    lim:close()
  end)
end)

describe("redis limiter: faults #redis", function()
  local socket = require "socket"

  it("Redis unreachable: LIMITER_UNAVAILABLE at once", function()
    local port = server.refused_port()
    local lim = rl.new{ url = ("redis://:topsecret@127.0.0.1:%d/0"):format(port), key = "abc", calls = 1 }
    local t0 = core.now()
    local ok, code, msg = lim:reserve(0)
    assert.is_nil(ok)
    assert.equal("LIMITER_UNAVAILABLE", code)
    assert.matches("127.0.0.1:" .. port, msg, 1, true)
    assert.is_nil(msg:find("topsecret", 1, true))
    assert.is_nil(tostring(lim):find("topsecret", 1, true))
    assert.is_nil(tostring(lim.conn):find("topsecret", 1, true))
    assert.is_true(core.now() - t0 < 5)
    local used, scode = lim:status(0)
    assert.is_nil(used)
    assert.equal("LIMITER_UNAVAILABLE", scode)
    lim:close()
  end)

  it("Redis too slow: LIMITER_UNAVAILABLE after the timeout", function()
    -- a listening socket that never answers: the connection is accepted by the kernel, then silence
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    local lim = rl.new{ url = ("redis://127.0.0.1:%d/0"):format(port), key = "abc", calls = 1, timeout = 0.3 }
    local t0 = core.now()
    local ok, code, msg = lim:reserve(0)
    local took = core.now() - t0
    s:close()
    assert.is_nil(ok)
    assert.equal("LIMITER_UNAVAILABLE", code)
    assert.matches("timed out", msg)
    assert.is_true(took >= 0.2 and took < 5, tostring(took))
    lim:close()
  end)

  it("Redis restarted (data and script cache gone): unavailable while down, then a fresh window", function()
    local r = redis.start()
    local key = new_key()
    local lim = lim_for(r, key, 2, 30)
    assert.is_true((lim:reserve(0)))
    assert.is_true((lim:reserve(0)))
    assert.is_false((lim:reserve(0)))
    r:kill()
    local ok, code = lim:reserve(0)
    assert.is_nil(ok)
    assert.equal("LIMITER_UNAVAILABLE", code)
    r:restart()
    assert.is_true((lim:reserve(0)))            -- reconnected, script loaded again, history gone
    r:kill()
    r:restart()
    assert.is_true((lim:reserve(0)))            -- the kept connection died idle: retried on a new one
    assert.is_true((lim:reserve(0)))
    assert.is_false((lim:reserve(0)))
    lim:close()
    r:stop()
  end)

  it("a kept connection the server reset: a clean error each time, the process lives on", function()
    -- in a child without luasocket (which ignores SIGPIPE for the whole process): core.redis
    -- holds SIGPIPE blocked around its writes, should one ever meet a reset connection
    local srv = server.start{ cmd = "python3 spec/servers/redis_rst.py {port}" }
    local lua = os.getenv("EGOI_TEST_LUA") or (jit and "luajit" or "lua5.4")
    local out = os.tmpname()
    local code = ([[
      local core = require "egoi.core"
      local lim = require("egoi.limiter.redis").new{ url = "redis://127.0.0.1:%d/0", key = "abc", calls = 1 }
      for _ = 1, 4 do
        local ok, code = lim:reserve(0)
        io.write(tostring(ok), " ", tostring(code), "\n")
        core.sleep(0.1) -- the reset arrives while the connection is kept
      end
      io.write("alive\n")
    ]]):format(srv.port)
    local rc = os.execute(("%s -e '%s' >%s 2>&1"):format(lua, code:gsub("'", "'\\''"), out))
    local text = read_file(out) or ""
    os.remove(out)
    srv:stop()
    assert.is_true(rc == true or rc == 0, text)
    assert.matches("alive", text)
    local n = 0
    for _ in text:gmatch("nil LIMITER_UNAVAILABLE") do n = n + 1 end
    assert.equal(4, n, text)
  end)

  describe("AUTH", function()
    local r
    setup(function()
      local rights = "~egoi:rl:* +evalsha +script|load +time +@sortedset +@hash +pexpire"
      r = redis.start{ password = "adm:in@pw", users = { "alice on >al/ice " .. rights .. " +select",
        "carol on >carolpw " .. rights,
        "bob on >bobpw ~other:* +@all" } }
    end)
    teardown(function() if r then r:stop() end end)

    it("requirepass: the password from the URL (percent-encoded)", function()
      local lim = rl.new{ url = r:url(), key = "k1", calls = 1 }
      assert.is_true((lim:reserve(0)))
      lim:close()
    end)

    it("an ACL user", function()
      local lim = rl.new{ url = r:url{ user = "alice", password = "al/ice", db = 2 }, key = "k2", calls = 1 }
      assert.is_true((lim:reserve(0)))
      assert.is_false((lim:reserve(0)))
      lim:close()
    end)

    it("wrong password, no password, unknown user, a user without the keys: LIMITER_AUTH_FAILED", function()
      for _, u in ipairs{ r:url{ password = "wrong-secret" }, r:url{ password = false },
        r:url{ user = "mallory", password = "wrong-secret" }, r:url{ user = "bob", password = "bobpw" },
        r:url{ user = "carol", password = "carolpw", db = 1 } } do -- carol may not SELECT
        local lim = rl.new{ url = u, key = "k3", calls = 1 }
        local ok, code, msg = lim:reserve(0)
        assert.is_nil(ok, u)
        assert.equal("LIMITER_AUTH_FAILED", code, msg)
        for _, secret in ipairs{ "wrong-secret", "adm:in@pw", "al/ice", "bobpw", "carolpw" } do
          assert.is_nil(msg:find(secret, 1, true), msg)
        end
        lim:close()
      end
    end)
  end)
end)

describe("redis limiter: the client #redis", function()
  local r, counter, http

  setup(function()
    http = require "socket.http"
    r = redis.start()
    counter = server.start{ cmd = "python3 spec/servers/counter.py {port}" }
  end)
  teardown(function()
    if counter then counter:stop() end
    if r then r:stop() end
  end)

  local function arrivals()
    local body = assert(http.request(counter:url("/log")))
    local n = 0
    for _ in body:gmatch("[^\n]+") do n = n + 1 end
    return n
  end

  local function client(opts, logged)
    local rlopts = { redis = opts.redis or r:url(), calls = 2, window = 60, wait = false,
      on_unavailable = opts.on, state_file = opts.state_file }
    return egoi.new{ apikey = opts.apikey or new_key(), url = counter:url("/api"), raise = false,
      retries = 0, rate_limit = rlopts, keepalive = false, -- (counter.py does not read POST bodies)
      log = function(level, msg) logged[#logged + 1] = level .. ": " .. msg end }
  end

  it("shares one window between clients of the same key; rate_limit_status reads it", function()
    local key, logged = new_key(), {}
    local a, b = client({ apikey = key }, logged), client({ apikey = key }, logged)
    local before = arrivals()
    a:call("getUserData", {})
    b:call("getUserData", {})
    local _, err = a:call("getUserData", {})
    assert.equal("RATE_LIMITED", err.code)
    assert.equal(before + 2, arrivals())
    local st = b:rate_limit_status()
    assert.same({ 2, 0 }, { st.used, st.remaining })
    a:close(); b:close()
  end)

  it("fails closed: Redis down -> a rate_limit error and no call sent", function()
    local logged = {}
    local c = client({ redis = ("redis://:topsecret@127.0.0.1:%d/0"):format(server.refused_port()) }, logged)
    local before = arrivals()
    local res, err = c:call("getUserData", {})
    assert.is_nil(res)
    assert.equal("rate_limit", err.kind)
    assert.equal("LIMITER_UNAVAILABLE", err.code)
    assert.is_nil(tostring(err):find("topsecret", 1, true))
    assert.equal(before, arrivals())
    c:close()
  end)

  it("on_unavailable = \"local\": the host's own limiter, with a warning", function()
    local logged = {}
    local d = os.tmpname()
    local c = client({ redis = ("redis://127.0.0.1:%d/0"):format(server.refused_port()), on = "local",
      state_file = d }, logged)
    local before = arrivals()
    c:call("getUserData", {})
    c:call("getUserData", {})
    local _, err = c:call("getUserData", {})
    assert.equal("RATE_LIMITED", err.code) -- the local window (2 / 60 s) still holds
    assert.equal(before + 2, arrivals())
    assert.equal(1, #logged, table.concat(logged, "\n"))
    assert.matches("unavailable", logged[1], 1, true)
    assert.matches("own limiter", logged[1], 1, true)
    c:close()
    os.remove(d)
  end)
end)

describe("redis limiter: egoi limits (EGOI_RATE_REDIS) #redis", function()
  local r
  setup(function() r = redis.start{ password = "cli-secret" } end)
  teardown(function() if r then r:stop() end end)

  local function egoi_cli(args, env)
    local out = os.tmpname()
    local parts = { "env -u EGOI_URL EGOI_APIKEY=cli-spec-key-0123456789",
      "LUA_CPATH='" .. (os.getenv("LUA_CPATH") or ""):gsub("/jit/", "/5.4/") .. "'" }
    for k, v in pairs(env) do parts[#parts + 1] = k .. "='" .. v .. "'" end
    local ok, _, code = os.execute(table.concat(parts, " ") .. " lua5.4 bin/egoi " .. args .. " >" .. out .. " 2>&1")
    if type(ok) == "number" then code = ok / 256 end
    local text = read_file(out) or ""
    os.remove(out)
    return code, text
  end

  it("shows the shared window, and fails with exit 4 when Redis cannot be used", function()
    local lim = rl.new{ url = r:url(), key = core.key_id("cli-spec-key-0123456789"), calls = 150, window = 3600 }
    assert.is_true((lim:reserve(0)))
    lim:close()
    local code, out = egoi_cli("limits", { EGOI_RATE_REDIS = r:url() })
    assert.equal(0, code, out)
    assert.matches("1 of 150 calls used in the current 1h00m window shared in redis://127.0.0.1:" .. r.port .. "/0",
      out, 1, true)
    code, out = egoi_cli("--json limits", { EGOI_RATE_REDIS = r:url() })
    assert.equal(0, code, out)
    local doc = require("cjson").decode(out)
    assert.equal(1, doc.used)
    assert.equal("redis://127.0.0.1:" .. r.port .. "/0", doc.shared)
    code, out = egoi_cli("limits", { EGOI_RATE_REDIS = r:url{ password = "not-the-cli-secret" } })
    assert.equal(4, code, out)
    assert.matches("LIMITER_AUTH_FAILED", out, 1, true)
    assert.is_nil(out:find("secret", 1, true), out)
    local dead = ("redis://:cli-secret@127.0.0.1:%d/0"):format(server.refused_port())
    code, out = egoi_cli("lists", { EGOI_RATE_REDIS = dead,
      EGOI_URL = "http://127.0.0.1:1/" })
    assert.equal(4, code, out)
    assert.matches("LIMITER_UNAVAILABLE", out, 1, true)
    assert.is_nil(out:find("secret", 1, true), out)
  end)
end)

describe("redis limiter: several hosts and a 2-worker nginx on one Redis #multiprocess #redis", function()
  local nginx = require "helpers.nginx"
  local http = require "socket.http"
  local r, counter, ng
  local pids = {}
  local EXTRA = [[
        location = /r/run { content_by_lua_block { require("nginx_redis").run() } }
        location = /r/call { content_by_lua_block { require("nginx_redis").call() } }
  ]]

  before_each(function()
    r = redis.start()
    counter = server.start{ cmd = "python3 spec/servers/counter.py {port}" }
    ng = nginx.start{ workers = 2, extra = EXTRA }
  end)

  after_each(function()
    for _, pid in ipairs(pids) do os.execute("kill " .. pid .. " 2>/dev/null") end
    pids = {}
    if ng then ng:stop() end
    if counter then counter:stop() end
    if r then r:stop() end
  end)

  local function q(s) return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end)) end

  -- 3 processes (both interpreters) + 4 long requests into the 2 nginx workers
  local function run_all(calls, window, duration, start_at, key, during)
    local tmp = os.tmpname()
    local outs = {}
    local luas = { "lua5.4", "luajit", os.getenv("EGOI_TEST_LUA") or "lua5.4" }
    for i, lua in ipairs(luas) do
      local cpath = lua == "luajit" and "build/jit/?.so;;" or "build/5.4/?.so;;"
      outs[i] = ("%s.w%d"):format(tmp, i)
      os.execute(("LUA_CPATH='%s' %s spec/helpers/redis_worker.lua %d '%s' %d %g %g %.6f %s >'%s' 2>&1"
        .. " </dev/null & echo $! >'%s.pid'"):format(cpath, lua, counter.port, r:url(), calls, window,
        duration, start_at, key, outs[i], outs[i]))
      pids[#pids + 1] = tonumber((read_file(outs[i] .. ".pid") or ""):match("%d+"))
    end
    local path = ("/r/run?redis=%s&port=%d&calls=%d&window=%g&duration=%g&start_at=%.6f&key=%s"):format(
      q(r:url()), counter.port, calls, window, duration, start_at, key)
    local reqs = {}
    for i = 1, 4 do reqs[i] = { method = "GET", path = path } end
    if during then during() end
    local res = nginx.fire(ng.port, reqs, duration + 60)
    local made, failed, codes = 0, 0, {}
    local workers = {}
    for i = 1, 4 do
      assert.equal(200, res[i].status, res[i].error)
      local doc = require("cjson").decode(res[i].body)
      assert.equal("cosocket", doc.backend)
      assert.equal(0, doc.errors)
      made, failed = made + doc.made, failed + doc.failed
      for _, c in ipairs(doc.codes) do codes[c] = true end
      workers[doc.worker] = true
    end
    local nworkers = 0
    for _ in pairs(workers) do nworkers = nworkers + 1 end
    for i = 1, #outs do
      local out
      for _ = 1, 600 do
        out = read_file(outs[i]) or ""
        if out:match("done") then break end
        core.sleep(0.1)
      end
      local m, _, f, e, cs = out:match("done (%d+) (%d+) (%d+) (%d+) ?(%S*)")
      assert.is_not_nil(m, out)
      assert.equal("0", e, out)
      made, failed = made + tonumber(m), failed + tonumber(f)
      for c in cs:gmatch("[^,]+") do codes[c] = true end
      os.remove(outs[i]); os.remove(outs[i] .. ".pid")
    end
    pids = {}
    os.remove(tmp)
    local body = assert(http.request(counter:url("/log")))
    local t = {}
    for line in body:gmatch("[^\n]+") do t[#t + 1] = tonumber(line) end
    table.sort(t)
    return t, made, failed, codes, nworkers
  end

  local function worst_window(t, window, from)
    local worst = 0
    for i = 1, #t do
      if t[i] >= (from or -math.huge) then
        local n = 0
        -- 1 ms allowance: the arrival log and Redis read the same clock at different moments
        for j = i, #t do if t[j] < t[i] + window - 1e-3 then n = n + 1 else break end end
        if n > worst then worst = n end
      end
    end
    return worst
  end

  it("never more than 10 calls in any 2 s, and the budget used (>= 90 %)", function()
    local calls, window, duration = 10, 2, 5.5
    local start_at = core.now() + 2
    local t, made, failed, _, nworkers = run_all(calls, window, duration, start_at, new_key())
    assert.equal(made, #t)
    assert.equal(0, failed)
    assert.equal(2, nworkers)
    local worst = worst_window(t, window)
    assert.is_true(worst <= calls, ("%d arrivals within %g s"):format(worst, window))
    local max = calls * math.ceil(duration / window)
    assert.is_true(#t <= max, #t .. " > " .. max)
    assert.is_true(#t >= 0.9 * max, ("only %d of %d calls made"):format(#t, max))
  end)

  it("the client inside nginx uses cosockets; fails closed, or falls back to the shdict", function()
    local up = server.start{ cmd = "python3 spec/servers/nginx_upstream.py {port}" }
    local dead = ("redis://:topsecret@127.0.0.1:%d/0"):format(server.refused_port())
    local function call(redis_url, on)
      local st, body = nginx.request(ng.port, "GET", "/r/call?redis=" .. q(redis_url) .. "&url="
        .. q(up:url("/api")) .. (on and "&on=" .. on or ""))
      assert.equal(200, st, body)
      return require("cjson").decode(body), body
    end
    local doc = call(r:url())
    assert.equal("cosocket", doc.backend)
    assert.is_true(doc.code == nil or doc.kind ~= "rate_limit", doc.err)
    assert.equal(1, doc.used)
    local body
    doc, body = call(dead)
    assert.equal("LIMITER_UNAVAILABLE", doc.code)
    assert.equal("rate_limit", doc.kind)
    assert.is_nil(body:find("topsecret", 1, true))
    doc, body = call(dead, "local")
    assert.is_true(doc.code == nil or doc.kind ~= "rate_limit", doc.err)
    assert.matches("own limiter", body, 1, true)
    assert.is_nil(body:find("topsecret", 1, true))
    up:stop()
  end)

  it("Redis killed and restarted mid-run: nothing is sent while it is down, then the window holds again", function()
    local calls, window, duration = 10, 2, 7
    local start_at = core.now() + 2
    -- killed while every client waits for the slots that free at start_at + 4: they find
    -- Redis gone then, and must send nothing until it is back
    local killed_at = start_at + 3
    local back_at = killed_at + 2 -- the earliest the new server can answer
    local t, _, failed, codes = run_all(calls, window, duration, start_at, new_key(), function()
      r:schedule_restart(killed_at - core.now(), 2)
    end)
    assert.is_true(failed > 0, "no reservation failed while Redis was down")
    for c in pairs(codes) do assert.equal("LIMITER_UNAVAILABLE", c) end
    -- after the kill, nothing arrives until the restart (0.3 s for calls already in flight)
    for _, a in ipairs(t) do
      assert.is_false(a > killed_at + 0.3 and a < back_at, ("an arrival at %.3f while Redis was down"):format(a))
    end
    assert.is_true(worst_window(t, window) <= 2 * calls)
    assert.is_true(worst_window(t, window, back_at) <= calls)
    local after = 0
    for _, a in ipairs(t) do if a >= back_at then after = after + 1 end end
    assert.is_true(after >= 0.9 * calls, ("only %d calls after the restart"):format(after))
  end)
end)
