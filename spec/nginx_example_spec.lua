-- The shipped nginx example (examples/nginx) as a user runs it: the "Try it" recipe of
-- doc/OPENRESTY.md pasted into a shell, junk floods against /signup that must not starve real
-- signups or callbacks, and failed callbacks kept in the dead-letter file and replayed.
local nginx = require "helpers.nginx"
local server = require "helpers.server"
local socket = require "socket"
local cjson = require "cjson"
local egoi = require "egoi"

local APIKEY = "0123456789abcdef0123456789abcdef01234567" -- the sandbox's default account
local SECRET = "s3cret-callback"

local function q(s)
  return (tostring(s):gsub("[^%w%-_.~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function run(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  p:close()
  return out
end

-- one HTTP/1.0 POST from the loopback address `from` (127.0.0.0/8 all reach 127.0.0.1)
local function post(port, from, path, body)
  local c = socket.tcp()
  c:settimeout(15)
  assert(c:bind(from, 0))
  assert(c:connect("127.0.0.1", port))
  assert(c:send(("POST %s HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    .. "Content-Length: %d\r\n\r\n%s"):format(path, #body, body)))
  local raw = c:receive("*a") or ""
  c:close()
  local status = tonumber(raw:match("^HTTP/%d%.%d (%d+)"))
  local doc = raw:match("\r\n\r\n(.*)$")
  local ok, v = pcall(cjson.decode, doc or "")
  return status, ok and v or doc, raw
end

local function callback_body(uid, list)
  return "addSubscriber=" .. q("<subscriber><UID>" .. uid .. "</UID><LIST>" .. list
    .. "</LIST><EMAIL>x@example.com</EMAIL></subscriber>")
end

describe("the nginx example", function()
  it("runs the doc/OPENRESTY.md recipe as written (ports swapped for free ones)", function()
    local doc = assert(server.read_file(nginx.REPO .. "/doc/OPENRESTY.md"))
    local script = assert(doc:match("## Try it.-```sh\n(.-)```"), "no Try it recipe")
    local sb_port, ng_port = server.free_port(), server.free_port()
    script = script:gsub("8080", tostring(sb_port)):gsub("8081", tostring(ng_port))
    local private = run("mktemp -d"):match("%S+")
    -- on any failure: stop what the recipe started (its own variables) and clean up
    script = "trap 'echo \"prefix=$dir\"; nginx -p \"$dir\" -c nginx.conf -s quit 2>/dev/null;"
      .. " kill $sandbox 2>/dev/null; sleep 0.5; rm -rf \"$dir\"' EXIT\n" .. script
    local file = private .. "/recipe.sh"
    local f = assert(io.open(file, "w"))
    f:write(script)
    f:close()
    -- a user's shell: not the module paths busted runs with (bin/egoi would honour a LUA_CPATH
    -- naming the LuaJIT build)
    local out = run("cd " .. sh_quote(nginx.REPO) .. " && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4"
      .. " -u LUA_CPATH_5_4 XDG_RUNTIME_DIR=" .. sh_quote(private) .. " timeout 120 sh " .. sh_quote(file))
    os.execute("rm -rf " .. sh_quote(private))
    assert.matches("created list 1", out, 1, true)
    assert.matches('"ok":true', out, 1, true)
    assert.matches('"uid":"%w+"', out)
    assert.is_nil(out:find("[emerg]", 1, true), out)
    -- the recipe's last line stopped what it started
    local prefix = assert(out:match("prefix=(%S+)"))
    local left
    for _ = 1, 50 do
      left = run("ps -eo args | grep -F -- " .. sh_quote("-p " .. prefix) .. " | grep -v grep")
      if left == "" then break end
      socket.sleep(0.1)
    end
    assert.equal("", left)
  end)

  describe("under a junk flood", function()
    local sb, ng, shared, plain, list, dead, cb_log

    setup(function()
      sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --rate-limit 0 --quiet" }
      plain = egoi.new{ apikey = APIKEY, url = sb:url("/v2/rest.php"), rate_limit = false }
      list = plain.lists:create{ nome = "signups", idioma_lista = "en", canal_email = 1 }.LIST_ID
      shared = nginx.shared_dir()
      dead = shared .. "/callbacks.dead"
      cb_log = shared .. "/callbacks.jsonl"
      ng = nginx.start{ workers = 2, env = {
        EGOI_APIKEY = APIKEY, EGOI_URL = "http://127.0.0.1:" .. sb.port, -- a bare URL
        EGOI_LIST_ID = tostring(list), EGOI_CALLBACK_SECRET = SECRET, EGOI_CALLBACK_LOG = cb_log,
        EGOI_CALLBACK_LOOKUP = "1", EGOI_CALLBACK_DEAD_LETTER = dead,
        -- a small account so the flood is quick: 20 calls an hour, 5 kept for callbacks
        EGOI_RATE_CALLS = "20", EGOI_CALLBACK_RESERVE = "5", EGOI_SIGNUP_PER_ADDRESS = "3",
      } }
    end)

    teardown(function()
      if ng then ng:stop() end
      if sb then sb:stop() end
      nginx.remove_dir(shared)
    end)

    local function subscribers()
      return tonumber(plain.lists:all{ listID = list }[1].subs_total)
    end

    local uids = {}

    it("limits one address: 170 junk POSTs in a burst cost 3 calls, a real signup still works", function()
      local t0, counts = socket.gettime(), {}
      for i = 1, 170 do
        local st, doc, raw = post(ng.port, "127.0.0.2", "/signup", "email=junk" .. i .. "%40example.com")
        counts[st] = (counts[st] or 0) + 1
        if st == 200 then uids[#uids + 1] = doc.uid end
        if st == 429 then
          assert.equal("TOO_MANY_SIGNUPS", doc.error.code)
          local retry = tonumber(raw:match("\r\nRetry%-After: (%d+)"))
          assert.is_true(retry >= 3500 and retry <= 3600, tostring(retry))
        end
      end
      assert.is_true(socket.gettime() - t0 < 60)
      assert.same({ [200] = 3, [429] = 167 }, counts)
      assert.equal(3, subscribers())
      -- not an e-mail address: refused before any call
      local st, doc = post(ng.port, "127.0.0.3", "/signup", "email=nope")
      assert.equal(400, st)
      assert.equal("EMAIL_ADDRESS_INVALID", doc.error.code)
      st, doc = post(ng.port, "127.0.0.3", "/signup", "email=real%40example.org&first_name=Ana")
      assert.equal(200, st, cjson.encode(doc))
      assert.equal(4, subscribers())
    end)

    it("keeps the callbacks' share when a flood from many addresses spends the signups' one", function()
      local ok, limited = 0, 0
      for a = 10, 49 do
        for i = 1, 3 do
          local st, doc = post(ng.port, "127.0.0." .. a, "/signup", ("email=j%d.%d%%40example.com"):format(a, i))
          if st == 200 then
            ok = ok + 1
          else
            assert.equal(429, st)
            limited = limited + 1
            assert.equal("rate_limit", doc.error.kind)
          end
        end
      end
      -- the signup share is 20 - 5 = 15 calls: 4 spent above, 11 left for the flood
      assert.equal(11, ok)
      assert.equal(109, limited)
      assert.equal(15, subscribers())
      -- callbacks that each need a call (subscriberData) still get through: 5 reserved
      for i = 1, 3 do
        local st = post(ng.port, "127.0.0.2", "/egoi/callback?secret=" .. q(SECRET), callback_body(uids[i], list))
        assert.equal(200, st)
      end
      local logged = server.read_lines(cb_log)
      assert.equal(3, #logged)
      for i = 1, 3 do
        local rec = cjson.decode(logged[i])
        assert.equal(uids[i], rec.uid)
        assert.equal("1", rec.status) -- read back through the API
      end
    end)

    it("keeps a callback the handler failed on in the dead-letter file, for replay", function()
      -- an unknown subscriber: the handler's subscriberData raises SUBSCRIBER_NOT_FOUND
      local st, body = post(ng.port, "127.0.0.5", "/egoi/callback?secret=" .. q(SECRET),
        callback_body("nosuchuid", list))
      assert.equal(500, st)
      assert.matches("kept for replay", body, 1, true)
      local lines = server.read_lines(dead)
      assert.equal(1, #lines)
      local text = server.read_file(dead)
      assert.is_nil(text:find(APIKEY, 1, true))
      assert.is_nil(text:find(SECRET, 1, true))
      assert.equal("600", run("stat -c %a " .. sh_quote(dead)):match("%d+"))
      local rec = cjson.decode(lines[1])
      assert.equal("nosuchuid", rec.uid)
      assert.matches("SUBSCRIBER_NOT_FOUND", rec.reason, 1, true)
      assert.is_nil(ng:error_log():find(APIKEY, 1, true))
      -- replayed outside nginx (cron, a shell) with the handler fixed
      local seen = {}
      local sum = assert(require("egoi.callback").replay(dead, function(ev) seen[#seen + 1] = ev.uid end))
      assert.equal(1, sum.replayed)
      assert.same({ "nosuchuid" }, seen)
      assert.same({}, server.read_lines(dead))
    end)
  end)
end)
