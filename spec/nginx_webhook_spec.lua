-- API v3 webhooks received inside a real nginx (egoi.resty_webhook): the sandbox delivers real
-- webhooks (registered over v3 with client.webhooks:ensure) to nginx, and the handler's guards
-- (secret, size, method, content type, garbage, failing handler, dead-letter hook) hold.
local nginx = require "helpers.nginx"
local server = require "helpers.server"
local socket = require "socket"
local cjson = require "cjson"
local egoi = require "egoi"
local webhook = require "egoi.webhook"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local SECRET = "wh-s3cret/+&=value"
local MAX_BODY = 32768

local function wait_for(pred, seconds)
  local deadline = socket.gettime() + (seconds or 10)
  while socket.gettime() < deadline do
    if pred() then return true end
    socket.sleep(0.05)
  end
  return pred()
end

local function lines(path)
  local out = {}
  for _, l in ipairs(server.read_lines(path)) do out[#out + 1] = cjson.decode(l) end
  return out
end

local function q(s)
  return (tostring(s):gsub("[^%w%-_.~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

describe("v3 webhooks in nginx", function()
  if os.getenv("EGOI_TEST_LUA") == "lua5.4" then
    it("runs in the LuaJIT pass (nginx runs LuaJIT)", function() pending("LuaJIT pass of spec/run.sh") end)
    return
  end
  local sb, ng, dir, events, dead, client

  setup(function()
    sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --v3-rate-limit 0 --v3-account-limit 0" }
    dir = nginx.shared_dir()
    events, dead = dir .. "/events.jsonl", dir .. "/dead.jsonl"
    local code = ([[
      local cjson = require "cjson"
      local function append(path, v)
        local f = assert(io.open(path, "a")); f:write(cjson.encode(v), "\n"); f:close()
      end
      local function on_event(ev)
        if ev.email == "fail@example.com" then error("boom") end
        if ev.email == "refuse@example.com" then return false, "refused" end
        append(%q, { kind = ev.kind, action = ev.action, list_id = ev.list_id, contact_id = ev.contact_id,
          email = ev.email, first_name = ev.contact and ev.contact.first_name, imported = ev.imported,
          updated = ev.updated })
        return true
      end
      local function dead_letter(entry)
        if entry.body:find("nodlq", 1, true) then error("the dead-letter store is down") end
        append(%q, entry)
        return true
      end
      return { on_event = on_event, dead_letter = dead_letter }
    ]]):format(events, dead)
    local f = assert(io.open(dir .. "/wh_t.lua", "w")); f:write(code); f:close()
    local extra = ([[
        location = /egoi/webhook {
          access_log off;
          content_by_lua_block {
            package.path = %q .. "/?.lua;" .. package.path
            local t = require "wh_t"
            require("egoi.resty_webhook").handle(t.on_event,
              { secret = %q, max_body = %d, max_events = 50, dead_letter = t.dead_letter })
          }
        }
        location = /egoi/webhook_plain {
          content_by_lua_block {
            require("egoi.resty_webhook").handle(function() error("always fails") end)
          }
        }
    ]]):format(dir, SECRET, MAX_BODY)
    ng = nginx.start{ workers = 1, extra = extra }
    client = egoi.new{ api = "v3", apikey = KEY, url = sb:url(""), rate_limit = false }
  end)

  teardown(function()
    if client then client:close() end
    if ng then ng:stop() end
    if sb then sb:stop() end
    if dir then nginx.remove_dir(dir) end
  end)

  local function post(body, query, ctype, path)
    return nginx.request(ng.port, "POST", (path or "/egoi/webhook") .. (query or ("?secret=" .. q(SECRET))), body,
      { ["Content-Type"] = ctype or "application/json" })
  end

  it("receives the sandbox's webhooks for contacts made, edited and unsubscribed over v3", function()
    local lid = client.lists:create{ internal_name = "hooks", public_name = "Hooks" }.list_id
    local url = webhook.url(ng:url("/egoi/webhook"), SECRET)
    local spec = { list_id = lid, url = url, actions = { "subscription", "edit_subscription", "unsubscribe" },
      fields = { "email", "first_name" } }
    local w, created = client.webhooks:ensure(spec)
    assert.is_true(created)
    local again, created2 = client.webhooks:ensure(spec)
    assert.is_false(created2)
    assert.equal(w.webhook_id, again.webhook_id)

    local id = client.contacts:create(lid, { email = "hook@example.com", first_name = "Ana" }).contact_id
    assert.truthy(wait_for(function() return #server.read_lines(events) >= 1 end))
    client.contacts:update(lid, id, { first_name = "Ana Maria" })
    assert.truthy(wait_for(function() return #server.read_lines(events) >= 2 end))
    client.contacts:unsubscribe(lid, id)
    assert.truthy(wait_for(function() return #server.read_lines(events) >= 3 end))
    local seen = {}
    for _, ev in ipairs(lines(events)) do seen[ev.action] = ev end
    for _, a in ipairs{ "subscription", "edit_subscription", "unsubscribe" } do
      assert.is_table(seen[a], a)
      assert.same({ "webhook", id, "hook@example.com", lid }, { seen[a].kind, seen[a].contact_id, seen[a].email,
        seen[a].list_id })
    end
    assert.equal("Ana", seen.subscription.first_name)
    assert.equal("Ana Maria", seen.edit_subscription.first_name)

    -- an import's callback_url to the same handler: the counts arrive as a kind "import" event
    local before = #server.read_lines(events)
    client.contacts:import(lid, { { email = "i1@example.com" }, { email = "i2@example.com" } },
      { callback_url = url })
    assert.is_true(wait_for(function()
      for _, ev in ipairs(lines(events)) do if ev.kind == "import" then return true end end
      return false
    end), server.read_file(dead) or "")
    local imp
    for _, ev in ipairs(lines(events)) do if ev.kind == "import" then imp = ev end end
    assert.equal(2, imp.imported)
    assert.is_true(#server.read_lines(events) >= before + 1)
    -- neither the key nor the secret is in nginx's log
    local log = ng:error_log()
    assert.is_nil(log:find(KEY, 1, true))
    assert.is_nil(log:find(SECRET, 1, true))
    assert.is_nil(log:find(q(SECRET), 1, true))
  end)

  it("answers garbage with a clear 4xx and keeps it in the dead-letter hook", function()
    local n_events = #server.read_lines(events)
    local st, body = post("{")
    assert.same({ 400, "bad webhook: MALFORMED_JSON\n" }, { st, body })
    st, body = post('{"hello":1}')
    assert.same({ 400, "bad webhook: CALLBACK_MALFORMED\n" }, { st, body })
    st = post("[]")
    assert.equal(400, st)
    st = post('{"action":"subscription"}', nil, "application/x-www-form-urlencoded")
    assert.equal(415, st)
    st = post('{"action":"subscription","contact":{"email":"' .. ("x"):rep(MAX_BODY) .. '"}}')
    assert.equal(413, st)
    local batch = {}
    for i = 1, 51 do batch[i] = '{"action":"subscription"}' end
    st = post("[" .. table.concat(batch, ",") .. "]")
    assert.equal(413, st)
    assert.equal(403, (post('{"action":"subscription"}', "?secret=wrong")))
    assert.equal(403, (post('{"action":"subscription"}', "")))
    assert.equal(403, (post('{"action":"subscription"}', "?secret=" .. q(SECRET) .. "x")))
    st = nginx.request(ng.port, "GET", "/egoi/webhook?secret=" .. q(SECRET))
    assert.equal(405, st)
    -- nothing reached the handler; the 400s and the 415 are kept, without the secret
    assert.equal(n_events, #server.read_lines(events))
    local kept = lines(dead)
    assert.equal(4, #kept, server.read_file(dead))
    assert.same({ "refused", 400, "MALFORMED_JSON", "{" },
      { kept[1].reason, kept[1].status, kept[1].code, kept[1].body })
    assert.same({ "refused", 415 }, { kept[4].reason, kept[4].status })
    for _, e in ipairs(kept) do
      assert.is_nil(cjson.encode(e):find(SECRET, 1, true))
      assert.is_number(e.time)
    end
    -- a spooled body (past client_body_buffer_size) is read back from nginx's file
    local big = cjson.encode{ action = "subscription", contact = { email = "big@example.com",
      first_name = ("v"):rep(20000) } }
    assert.equal(200, (post(big)))
    assert.equal(n_events + 1, #server.read_lines(events))
  end)

  it("keeps events the handler failed on; 500 only when the dead-letter hook did not keep them", function()
    local n_dead, n_events = #server.read_lines(dead), #server.read_lines(events)
    local st, body = post(cjson.encode{ { action = "subscription", contact = { email = "ok1@example.com" } },
      { action = "subscription", contact = { email = "fail@example.com", first_name = "MARKER-4471" } },
      { action = "edit_subscription", contact = { email = "refuse@example.com" } },
      { action = "unsubscribe", contact = { email = "ok2@example.com" } } })
    assert.same({ 200, "OK\n" }, { st, body })
    local evs = lines(events)
    assert.equal(n_events + 2, #evs)
    assert.same({ "ok1@example.com", "ok2@example.com" }, { evs[#evs - 1].email, evs[#evs].email })
    local kept = lines(dead)
    assert.equal(n_dead + 2, #kept)
    assert.same({ "handler_failed", 2, "subscription" }, { kept[#kept - 1].reason, kept[#kept - 1].index,
      kept[#kept - 1].action })
    assert.same({ 3, "edit_subscription" }, { kept[#kept].index, kept[#kept].action })
    -- the hook itself fails: the event is lost to it, so the sender hears 500
    st, body = post(cjson.encode{ action = "subscription",
      contact = { email = "fail@example.com", last_name = "nodlq" } })
    assert.same({ 500, "webhook handler failed\n" }, { st, body })
    -- no hook at all
    st = post('{"action":"subscription"}', "", nil, "/egoi/webhook_plain")
    assert.equal(500, st)
    local log = ng:error_log()
    assert.matches("egoi webhook: handler error", log, 1, true)
    assert.matches("egoi webhook: dead-letter hook failed", log, 1, true)
    assert.is_nil(log:find("MARKER-4471", 1, true))
    assert.is_nil(log:find(SECRET, 1, true))
    -- still serving
    assert.equal(200, (post('{"action":"subscription","contact":{"email":"after@example.com"}}')))
  end)

  it("checks its options when the handler is built", function()
    local rw = require "egoi.resty_webhook"
    assert.has_error(function() rw.webhook_handler("x") end,
      "egoi.resty_webhook.webhook_handler: argument 'fn' must be a function")
    assert.has_error(function() rw.webhook_handler(print, { secret = "" }) end)
    assert.has_error(function() rw.webhook_handler(print, { max_body = 0 }) end)
    assert.has_error(function() rw.webhook_handler(print, { dead_letter = 1 }) end)
    assert.has_error(function() rw.webhook_handler(print, { secrett = "x" }) end,
      "egoi.resty_webhook.webhook_handler: unknown option 'secrett'")
    assert.has_error(function() rw.webhook_handler(print)() end)
  end)
end)
