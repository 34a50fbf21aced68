-- nginx embedding: a private nginx (ngx_lua, from examples/nginx/nginx.conf) on
-- loopback, the sandbox, and a python upstream (spec/servers/nginx_upstream.py).
local nginx = require "helpers.nginx"
local server = require "helpers.server"
local socket = require "socket"
local cjson = require "cjson"
local egoi = require "egoi"

local APIKEY = "0123456789abcdef0123456789abcdef01234567" -- the sandbox's default account
local SECRET = "s3cret-callback"
local MAX_BODY = 65536

-- test-only locations (inside the example's server block)
local EXTRA = [[
        resolver_timeout 1s;
        location = /t/hello { return 200 "hello over TLS"; }
        location = /t/call  { content_by_lua_block { require("nginx_t").call() } }
        location = /t/raw   { content_by_lua_block { require("nginx_t").raw() } }
        location = /t/timer { content_by_lua_block { require("nginx_t").timer() } }
        location = /t/set   { set_by_lua_block $r { return require("nginx_t").in_set() } return 200 $r; }
        location = /t/cb_fail {
            content_by_lua_block {
                require("egoi.resty").handle_callback(function(ev) error({ "not a string" }) end)
            }
        }
]]

local function q(s)
  return (tostring(s):gsub("[^%w%-_.~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function form(t)
  local out = {}
  for k, v in pairs(t) do out[#out + 1] = q(k) .. "=" .. q(v) end
  table.sort(out)
  return table.concat(out, "&")
end

local function decode(body)
  local ok, v = pcall(cjson.decode, body or "")
  return ok and v or nil
end

local read_lines = server.read_lines

local function wait_for(pred, seconds)
  local deadline = socket.gettime() + (seconds or 10)
  while socket.gettime() < deadline do
    if pred() then return true end
    socket.sleep(0.05)
  end
  return pred()
end

describe("nginx embedding", function()
  local up, sb, ng, shared, plain, list_signup, list_cb
  local cb_log

  setup(function()
    up = server.start{ cmd = "python3 spec/servers/nginx_upstream.py {port}" }
    sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --rate-limit 0 --quiet" }
    plain = egoi.new{ apikey = APIKEY, url = sb:url("/v2/rest.php"), rate_limit = false }
    list_signup = plain.lists:create{ nome = "signup", idioma_lista = "en", canal_email = 1 }.LIST_ID
    list_cb = plain.lists:create{ nome = "callbacks", idioma_lista = "en", canal_email = 1 }.LIST_ID
    shared = nginx.shared_dir()
    cb_log = shared .. "/callbacks.jsonl"
    -- a self-signed certificate: the same server also listens with TLS (port @PORT_TLS@)
    assert(os.execute(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost"
      .. " -keyout %s/key.pem -out %s/cert.pem >/dev/null 2>&1"):format(shared, shared)))
    local tls = ("listen 127.0.0.1:@PORT_TLS@ ssl; ssl_certificate %s/cert.pem; ssl_certificate_key %s/key.pem;\n")
      :format(shared, shared)
    ng = nginx.start{ workers = 1, extra = tls .. EXTRA, env = {
      EGOI_APIKEY = APIKEY, EGOI_URL = sb:url("/v2/rest.php"), EGOI_LIST_ID = tostring(list_signup),
      EGOI_CALLBACK_SECRET = SECRET, EGOI_CALLBACK_LOG = cb_log, EGOI_CALLBACK_MAX_BODY = tostring(MAX_BODY),
    } }
  end)

  teardown(function()
    if ng then ng:stop() end
    if sb then sb:stop() end
    if up then up:stop() end
    nginx.remove_dir(shared)
  end)

  describe("POST /signup", function()
    it("adds a subscriber to the sandbox through nginx", function()
      local st, body = nginx.request(ng.port, "POST", "/signup",
        form{ email = "new+user@example.com", first_name = "José" })
      assert.equal(200, st, body)
      local doc = decode(body)
      assert.is_true(doc.ok)
      assert.is_string(doc.uid)
      local data = plain.subscribers:get{ list_id = list_signup, subscriber = "new+user@example.com" }
      assert.equal(doc.uid, data.subscriber.UID)
      assert.equal("José", data.subscriber.FIRST_NAME)
      assert.equal("new+user@example.com", data.subscriber.EMAIL)
    end)

    it("answers 400 without an e-mail and 405 for GET", function()
      local st, body = nginx.request(ng.port, "POST", "/signup", form{ first_name = "x" })
      assert.equal(400, st)
      assert.equal("EMAIL_REQUIRED", decode(body).error.code)
      assert.equal(405, (nginx.request(ng.port, "GET", "/signup")))
    end)

    it("reports an API error as JSON (raise = false) and never logs the key", function()
      nginx.request(ng.port, "POST", "/signup", form{ email = "dup@example.com" })
      local st, body = nginx.request(ng.port, "POST", "/signup", form{ email = "dup@example.com" })
      assert.equal(422, st, body)
      local doc = decode(body)
      assert.is_false(doc.ok)
      assert.equal("api", doc.error.kind)
      assert.equal("EMAIL_ALREADY_EXISTS", doc.error.code)
      assert.is_nil(body:find(APIKEY, 1, true))
      assert.is_nil(ng:error_log():find(APIKEY, 1, true))
    end)
  end)

  describe("resty transport", function()
    local function raw(path, extra)
      local st, body = nginx.request(ng.port, "GET", "/t/raw?url=" .. q(up:url(path)) .. (extra or ""))
      assert.equal(200, st, body)
      return decode(body)
    end

    it("is chosen automatically in content_by_lua and keeps connections alive", function()
      local st, body = nginx.request(ng.port, "GET", "/t/call?url=" .. q(up:url("/api")))
      assert.equal(200, st)
      local doc = decode(body)
      assert.is_true(doc.ok, body)
      assert.is_true(doc.resty)
      assert.equal("Upstream", doc.first_name)
      local r = raw("/api", "&n=3&post=1")
      for i = 1, 3 do assert.equal(200, r[i].status) end
      assert.equal(0, r[2].num_connects) -- reused from the pool
      assert.equal(0, r[3].num_connects)
    end)

    it("reads chunked bodies (extensions, trailers) and bodies ended by close", function()
      local r = raw("/chunked", "&post=1")
      assert.equal(200, r[1].status)
      assert.same({ Egoi_Api = { getUserData = { FIRST_NAME = "Upstream", status = "success" } } },
        decode(r[1].body))
      r = raw("/close", "&n=2")
      assert.equal(200, r[1].status)
      assert.equal(r[1].body, r[2].body)
      assert.equal(1, r[2].num_connects) -- "Connection: close" was not pooled
    end)

    it("passes Retry-After and caps the response size", function()
      local r = raw("/retry")
      assert.equal(429, r[1].status)
      assert.equal(7, r[1].retry_after)
      r = raw("/big?n=100000", "&max=1000")
      assert.equal("RESPONSE_TOO_LARGE", r[1].code)
      r = raw("/big?n=1000", "&max=1000")
      assert.equal(1000, r[1].len)
    end)

    it("maps failures to the C core's codes with 'sent'", function()
      local r = raw("/nothing")
      assert.equal("GOT_NOTHING", r[1].code)
      assert.is_true(r[1].sent)
      r = raw("/partial")
      assert.equal("PARTIAL_FILE", r[1].code)
      r = raw("/api?delay=3", "&timeout=0.5")
      assert.equal("TIMEOUT", r[1].code)
      assert.is_true(r[1].sent)
      local refused = "http://127.0.0.1:" .. server.refused_port() .. "/"
      local st, body = nginx.request(ng.port, "GET", "/t/raw?url=" .. q(refused))
      assert.equal(200, st)
      r = decode(body)
      assert.equal("COULDNT_CONNECT", r[1].code)
      assert.is_false(r[1].sent)
      st, body = nginx.request(ng.port, "GET", "/t/raw?url=" .. q("ftp://127.0.0.1/"))
      assert.equal(200, st)
      assert.equal("URL_MALFORMAT", decode(body)[1].code)
    end)

    it("speaks TLS: verification on by default, off only when asked", function()
      local url = ("https://localhost:%d/t/hello"):format(ng.ports.TLS)
      local st, body = nginx.request(ng.port, "GET", "/t/raw?url=" .. q(url:gsub("localhost", "127.0.0.1")))
      assert.equal(200, st)
      local r = decode(body)
      assert.equal("PEER_FAILED_VERIFICATION", r[1].code, body)
      assert.is_false(r[1].sent)
      st, body = nginx.request(ng.port, "GET", "/t/raw?verify=0&n=2&url=" .. q(url:gsub("localhost", "127.0.0.1")))
      assert.equal(200, st)
      r = decode(body)
      assert.equal(200, r[1].status, body)
      assert.equal("hello over TLS", r[1].body)
      assert.equal(0, r[2].num_connects) -- the TLS connection was pooled
    end)

    it("refuses to run in a phase without cosockets, and works in timers", function()
      local st, body = nginx.request(ng.port, "GET", "/t/set")
      assert.equal(200, st)
      local doc = decode(body)
      assert.equal("set", doc.phase)
      assert.is_false(doc.phase_ok)
      assert.equal("UNSUPPORTED_PHASE", doc.code)
      assert.is_false(doc.sent)
      st, body = nginx.request(ng.port, "GET", "/t/timer?url=" .. q(up:url("/api")))
      assert.equal(200, st)
      doc = decode(body)
      assert.equal("timer", doc.phase)
      assert.is_true(doc.resty)
      assert.is_true(doc.ok, body)
    end)
  end)

  -- A structural proof, not a benchmark: with blocking I/O one worker would
  -- need 20 x 1 s; with cosockets the 20 calls overlap.
  it("does not block the worker: 20 concurrent 1 s upstream calls on one worker", function()
    local reqs = {}
    for i = 1, 20 do
      reqs[i] = { method = "GET", path = "/t/call?url=" .. q(up:url("/api?delay=1")) .. "&method=call" .. i }
    end
    local t0 = socket.gettime()
    local res = nginx.fire(ng.port, reqs, 60)
    local elapsed = socket.gettime() - t0
    local pids = {}
    for i = 1, 20 do
      assert.equal(200, res[i].status, res[i].error)
      local doc = decode(res[i].body)
      assert.is_true(doc.ok, res[i].body)
      assert.is_true(doc.resty)
      pids[doc.worker] = true
    end
    local n = 0
    for _ in pairs(pids) do n = n + 1 end
    assert.equal(1, n)
    -- blocking would take 20 x 1 s; the bound leaves a busy machine plenty of room
    assert.is_true(elapsed < 15, ("20 calls took %.1fs"):format(elapsed))
  end)

  describe("callbacks", function()
    local function post_cb(body, query, ctype)
      return nginx.request(ng.port, "POST", "/egoi/callback" .. (query or ("?secret=" .. q(SECRET))), body,
        { ["Content-Type"] = ctype or "application/x-www-form-urlencoded" })
    end

    it("receives the sandbox's add/edit/remove callbacks as parsed events", function()
      local fid = plain.fields:add_extra_field{ list_id = list_cb, name = "cidade", type = "texto" }.NEW_ID
      assert.is_not_nil(fid)
      plain.callbacks:edit{ list_id = list_cb, callback_url = ng:url("/egoi/callback?secret=" .. q(SECRET)),
        notif_api_9 = 1, notif_api_10 = 1, notif_api_14 = 1 }
      local added = plain.subscribers:add{ list_id = list_cb, email = "cb@example.com", first_name = "João",
        ["extra_" .. fid] = "Lisboa & Porto" }
      assert.truthy(wait_for(function() return #read_lines(cb_log) >= 1 end))
      plain.subscribers:edit{ list_id = list_cb, subscriber = added.UID, first_name = "Zé" }
      assert.truthy(wait_for(function() return #read_lines(cb_log) >= 2 end))
      plain.subscribers:remove{ list_id = list_cb, subscriber = added.UID }
      assert.truthy(wait_for(function() return #read_lines(cb_log) >= 3 end))
      local evs = {}
      for _, line in ipairs(read_lines(cb_log)) do
        local ev = decode(line)
        evs[ev.event] = ev
      end
      local add, edit, remove = evs.add, evs.edit, evs.remove
      assert.equal("addSubscriber", add.action)
      assert.equal(added.UID, add.uid)
      assert.equal(tostring(list_cb), add.list)
      assert.equal("cb@example.com", add.email)
      assert.equal("João", add.fields.first_name)
      assert.equal("", add.fields.cellphone) -- empty elements are kept
      assert.equal("Lisboa & Porto", add.extra[tostring(fid)])
      assert.equal("editSubscriber", edit.action)
      assert.equal("Zé", edit.fields.first_name)
      assert.equal(added.UID, edit.uid)
      assert.equal("removeSubscriber", remove.action)
      assert.equal(added.UID, remove.uid)
      assert.equal(3, #read_lines(cb_log))
    end)

    it("refuses garbage, oversized bodies and a wrong secret, and keeps serving", function()
      local before = #read_lines(cb_log)
      local st, body = post_cb("foo=bar")
      assert.equal(400, st)
      assert.matches("CALLBACK_UNKNOWN_ACTION", body)
      st, body = post_cb("addSubscriber=" .. q("<subscriber><UID>1</UID"))
      assert.equal(400, st)
      assert.matches("MALFORMED_XML", body)
      st, body = post_cb("addSubscriber=" .. q('<!DOCTYPE s [<!ENTITY x "y">]><subscriber>&x;</subscriber>'))
      assert.equal(400, st)
      assert.matches("DOCTYPE_FORBIDDEN", body)
      st = post_cb("addSubscriber=x&removeSubscriber=y")
      assert.equal(400, st)
      st = post_cb("")
      assert.equal(400, st)
      st = post_cb("addSubscriber=" .. ("x"):rep(MAX_BODY + 10))
      assert.equal(413, st)
      st = post_cb("addSubscriber=x", "?secret=wrong")
      assert.equal(403, st)
      st = post_cb("addSubscriber=x", "")
      assert.equal(403, st)
      st = nginx.request(ng.port, "GET", "/egoi/callback?secret=" .. q(SECRET))
      assert.equal(405, st)
      -- a valid callback larger than client_body_buffer_size (spooled to a file by nginx)
      local parts = { "<subscriber><UID>big1</UID><LIST>9</LIST><EMAIL>big@example.com</EMAIL>" }
      for i = 1, 400 do parts[#parts + 1] = ("<EXTRA_FIELD_%d>%s</EXTRA_FIELD_%d>"):format(i, ("v"):rep(40), i) end
      parts[#parts + 1] = "</subscriber>"
      local big = "editSubscriber=" .. q(table.concat(parts))
      assert.is_true(#big > 16 * 1024 and #big < MAX_BODY)
      st, body = post_cb(big)
      assert.equal(200, st, body)
      assert.equal("OK\n", body)
      local lines = read_lines(cb_log)
      assert.equal(before + 1, #lines)
      local ev = decode(lines[#lines])
      assert.equal("big1", ev.uid)
      assert.equal(("v"):rep(40), ev.extra["400"])
      -- the worker is still fine
      st = post_cb("removeSubscriber=" .. q("<subscriber><UID>u2</UID><LIST>9</LIST></subscriber>"))
      assert.equal(200, st)
      assert.equal(before + 2, #read_lines(cb_log))
    end)

    it("answers 500 when the handler fails and logs no body", function()
      local st, body = nginx.request(ng.port, "POST", "/t/cb_fail",
        "addSubscriber=" .. q("<subscriber><UID>MARKER-7731</UID></subscriber>"))
      assert.equal(500, st)
      assert.equal("callback handler failed\n", body)
      local log = ng:error_log()
      assert.matches("egoi callback: handler error", log, 1, true)
      assert.is_nil(log:find("MARKER-7731", 1, true))
      assert.equal(200, (post_cb("removeSubscriber=" .. q("<subscriber><UID>u3</UID></subscriber>"))))
    end)
  end)

  describe("with 4 workers", function()
    local ng4, counter

    setup(function()
      counter = server.start{ cmd = "python3 spec/servers/nginx_upstream.py {port}" }
      ng4 = nginx.start{ workers = 4, extra = EXTRA }
    end)

    teardown(function()
      if ng4 then ng4:stop() end
      if counter then counter:stop() end
    end)

    it("shares one exact rolling window (10 calls / 2 s) through lua_shared_dict", function()
      local N = 100
      local reqs = {}
      for i = 1, N do
        reqs[i] = { method = "GET", path = "/t/call?rl=10/2&url=" .. q(counter:url("/api")) .. "&method=m" .. i }
      end
      local res = nginx.fire(ng4.port, reqs, 90)
      local pids, npids = {}, 0
      for i = 1, N do
        assert.equal(200, res[i].status, res[i].error)
        local doc = decode(res[i].body)
        assert.is_true(doc.ok, res[i].body)
        assert.is_true(doc.rl_used >= 1 and doc.rl_used <= 10)
        assert.equal(10, doc.rl_used + doc.rl_remaining)
        if not pids[doc.worker] then pids[doc.worker] = true; npids = npids + 1 end
      end
      assert.is_true(npids >= 2, "all requests were served by one worker")
      local st, log = nginx.request(counter.port, "GET", "/log")
      assert.equal(200, st)
      local t = {}
      for line in log:gmatch("[^\n]+") do t[#t + 1] = tonumber(line) end
      assert.equal(N, #t)
      table.sort(t)
      local worst = 0
      for i = 1, #t do
        local n = 0
        for j = i, #t do
          if t[j] < t[i] + 2 then n = n + 1 else break end
        end
        if n > worst then worst = n end
      end
      assert.is_true(worst <= 10, ("%d arrivals within 2 s"):format(worst))
      -- the window is used, not just respected: the first 10 slots are taken at once, so
      -- 10 arrivals fall within 2 s unless the machine stalls; half of it is a generous bound
      assert.is_true(worst >= 5, ("only %d arrivals within 2 s"):format(worst))
    end)
  end)
end)
