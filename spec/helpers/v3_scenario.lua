-- spec/helpers/v3_scenario.lua - the v3 workflow of the sandbox over raw HTTP, shared by
-- luacheck: ignore 311 (each step reassigns st, b; not every answer is inspected)
-- spec/sandbox_v3_spec.lua (behaviour) and spec/openapi_spec.lua (every answer against
-- the vendor schemas). client(s) records every exchange in client.log.
local socket = require "socket"
local json = require "egoi.sandbox.v3.json"
local assert = require "luassert"

local M = {}
M.KEY = "0123456789abcdef0123456789abcdef01234567"

-- one HTTP/1.1 exchange on a fresh connection (Connection: close): status, headers (lower-case
-- names), body. Raw, because LuaSocket's http.request drops the headers and body of a 408.
local function exchange(port, method, path, headers, body)
  local conn = assert(socket.connect("127.0.0.1", port))
  conn:settimeout(10)
  local lines = { ("%s %s HTTP/1.1"):format(method, path), "Host: 127.0.0.1:" .. port, "Connection: close" }
  for k, v in pairs(headers) do lines[#lines + 1] = k .. ": " .. v end
  if body then lines[#lines + 1] = "Content-Length: " .. #body end
  assert(conn:send(table.concat(lines, "\r\n") .. "\r\n\r\n" .. (body or "")))
  local raw = conn:receive("*a")
  conn:close()
  local head, rest = raw:match("^(.-)\r\n\r\n(.*)$")
  local status = tonumber(head:match("^HTTP/1%.%d (%d%d%d)"))
  local h = {}
  for k, v in head:gmatch("\r\n([^:\r\n]+):%s*([^\r\n]*)") do h[k:lower()] = v end
  return status, h, rest:sub(1, tonumber(h["content-length"] or #rest))
end
M.exchange = exchange

-- client(server) -> c; c:call(method, path, body, headers) -> status, decoded body|nil, headers, raw
-- (headers.Apikey = false sends none); every exchange is kept in c.log
function M.client(s, key)
  local c = { log = {} }
  function c.call(_, method, path, body, headers)
    local h = { Apikey = key or M.KEY }
    for k, v in pairs(headers or {}) do h[k] = v end
    if h.Apikey == false then h.Apikey = nil end
    local raw_body = body
    if type(body) == "table" then raw_body = json.encode(body) end
    if raw_body then h["Content-Type"] = h["Content-Type"] or "application/json" end
    local code, rh, raw = exchange(s.port, method, path, h, raw_body)
    local decoded = raw ~= "" and assert(json.decode(raw)) or nil
    c.log[#c.log + 1] = { method = method, path = path, request = type(body) == "table" and body or nil,
                          status = code, body = decoded, headers = rh }
    return code, decoded, rh, raw
  end
  return c
end

-- a loopback HTTP receiver: r.url, r:next(timeout) -> { method, path, headers, body } | nil
function M.receiver()
  local srv = assert(socket.bind("127.0.0.1", 0))
  local _, port = srv:getsockname()
  local r = { url = ("http://127.0.0.1:%d/hook"):format(port) }
  local function accept(timeout)
    srv:settimeout(timeout)
    local conn = srv:accept()
    if not conn then return nil end
    conn:settimeout(5)
    local line = conn:receive("*l")
    local req = { headers = {} }
    req.method, req.path = (line or ""):match("^(%u+) (%S+)")
    while true do
      local hl = conn:receive("*l")
      if not hl or hl == "" then break end
      local k, v = hl:match("^([^:]+):%s*(.*)$")
      if k then req.headers[k:lower()] = v end
    end
    req.body = conn:receive(tonumber(req.headers["content-length"] or 0)) or ""
    req.json = json.decode(req.body)
    conn:send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    conn:close()
    return req
  end
  r.pending = {}
  -- the first delivery (received before or now) for which pred(req) is true, or nil after timeout
  function r.find(_, pred, timeout)
    for i, req in ipairs(r.pending) do
      if pred(req) then table.remove(r.pending, i) return req end
    end
    local deadline = socket.gettime() + (timeout or 5)
    while socket.gettime() < deadline do
      local req = accept(math.max(0.01, deadline - socket.gettime()))
      if req then
        if pred(req) then return req end
        r.pending[#r.pending + 1] = req
      end
    end
  end
  function r.close() srv:close() end
  return r
end

-- the whole workflow; returns what later checks need
function M.run(c, recv)
  local out = {}
  local st, b = c:call("POST", "/ping")
  assert.same({ 200, "pong" }, { st, b.result })
  st, b = c:call("GET", "/my-account")
  assert.equal(200, st)
  assert.equal("100001", b.general_info.client_id)

  -- lists
  st, b = c:call("POST", "/lists", { internal_name = "Newsletter", public_name = "Our news" })
  assert.equal(201, st)
  local lid = b.list_id
  out.list_id = lid
  assert.equal("Our news", b.public_name)
  st, b = c:call("PATCH", "/lists/" .. lid, { internal_name = "Newsletter 2026" })
  assert.same({ 200, "Newsletter 2026" }, { st, b.internal_name })
  st, b = c:call("GET", "/lists/" .. lid)
  assert.same({ 200, 0 }, { st, b.stats.total_contacts })
  st, b = c:call("GET", "/lists?limit=1&offset=0")
  assert.equal(200, st)
  assert.equal(1, #b.items)

  -- fields
  st, b = c:call("POST", "/lists/" .. lid .. "/fields/extra", { name = "city", format = "text" })
  assert.equal(201, st)
  local fid = b.field_id
  out.field_id = fid
  st, b = c:call("PATCH", "/lists/" .. lid .. "/fields/extra/" .. fid, { name = "town", unique = false })
  assert.same({ 200, "town" }, { st, b.name })
  st, b = c:call("PATCH", "/lists/" .. lid .. "/fields/base/cellphone", { unique = true })
  assert.same({ 200, true }, { st, b.unique })
  st, b = c:call("GET", "/lists/" .. lid .. "/fields")
  assert.equal(200, st)
  assert.is_true(json.is_array(b))
  assert.equal("town", b[#b].name)

  -- webhook before the contacts, so their creation is delivered
  st, b = c:call("POST", "/webhooks", { list_id = lid, url = recv.url, actions = { "subscription", "unsubscribe" },
                                         fields = { "email", "first_name", fid } })
  assert.equal(200, st)
  out.webhook_id = b.webhook_id

  -- contacts
  local ids = {}
  for i = 1, 12 do
    st, b = c:call("POST", "/lists/" .. lid .. "/contacts", { base = { email = ("user%d@example.com"):format(i),
      first_name = "User" .. i, status = "active", language = "en" },
      extra = { { field_id = tonumber(fid), value = "Porto" } } })
    assert.equal(201, st)
    ids[i] = b.contact_id
  end
  out.contacts = ids
  out.hook = assert(recv:find(function(q)
    return q.json and q.json.action == "subscription" and q.json.contact.contact_id == ids[1] end),
      "no webhook delivery")
  st, b = c:call("POST", "/lists/" .. lid .. "/contacts", { base = { email = "USER1@example.com" } })
  assert.equal(409, st)
  assert.same({ ids[1] }, b.errors.contacts)
  st, b = c:call("POST", "/lists/" .. lid .. "/contacts", { base = { email = "x@example.com", status = "gone" } })
  assert.equal(422, st)

  -- paging: every item exactly once
  local seen, offset = {}, 0
  repeat
    st, b = c:call("GET", ("/lists/%d/contacts?limit=5&offset=%d"):format(lid, offset))
    assert.equal(200, st)
    assert.equal(12, b.total_items)
    for _, item in ipairs(b.items) do
      assert.is_nil(seen[item.base.contact_id])
      seen[item.base.contact_id] = true
    end
    offset = offset + 5
  until #b.items < 5
  for _, id in ipairs(ids) do assert.is_true(seen[id]) end
  st, b = c:call("GET", "/lists/" .. lid .. "/contacts?email=user3@example.com")
  assert.same({ 200, 1, ids[3] }, { st, b.total_items, b.items[1].base.contact_id })
  st, b = c:call("GET", "/lists/" .. lid .. "/contacts/" .. ids[2])
  assert.same({ 200, "User2", "Porto" }, { st, b.base.first_name, b.extra[1].value })
  st, b = c:call("PATCH", "/lists/" .. lid .. "/contacts/" .. ids[2], { base = { last_name = "Second" } })
  assert.same({ 200, ids[2] }, { st, b.contact_id })
  st, b = c:call("GET", "/contacts/search?type=email&contact=user2@example.com")
  assert.same({ 200, ids[2], lid }, { st, b.items[1].contact_id, b.items[1].list_id })

  -- tags
  st, b = c:call("POST", "/tags", { name = "vip", color = "#FF0000" })
  assert.equal(201, st)
  local tag = b.tag_id
  out.tag_id = tag
  st, b = c:call("POST", "/lists/" .. lid .. "/contacts/actions/attach-tag", { tag_id = tag,
    contacts = { ids[1], ids[2] } })
  assert.same({ 202, "success" }, { st, b.result })
  st, b = c:call("GET", "/lists/" .. lid .. "/contacts/" .. ids[1])
  assert.same({ tag }, b.tags)
  st, b = c:call("POST", "/lists/" .. lid .. "/contacts/actions/detach-tag", { tag_id = tag, contacts = { ids[2] } })
  assert.equal(202, st)
  st, b = c:call("GET", "/tags")
  assert.same({ 200, 1 }, { st, b.total_items })
  st, b = c:call("PUT", "/tags/" .. tag, { name = "VIP" })
  assert.same({ 200, "VIP" }, { st, b.name })

  -- bulk import (callback to the receiver)
  st, b = c:call("POST", "/lists/" .. lid .. "/contacts/actions/import-bulk", { mode = "update",
    compare_field = "email",
    callback_url = recv.url, contacts = { { base = { email = "user1@example.com", last_name = "One" } },
                                           { base = { email = "bulk@example.com" } } } })
  assert.same({ 202, "success" }, { st, b.result })
  out.import = assert(recv:find(function(q) return q.json and q.json.imported end), "no import callback")

  -- unsubscribe
  st, b = c:call("POST", "/lists/" .. lid .. "/contacts/actions/unsubscribe", { data = {
    { contact_id = ids[12], unsubscription_method = "api", unsubscription_reason = "other" },
    { contact_id = "ffffffffff" } } })
  assert.equal(200, st)
  assert.same({ ids[12] }, b.success)
  assert.same({ "ffffffffff" }, b.errors.contact_not_in_list)
  out.unsub_hook = assert(recv:find(function(q) return q.json and q.json.action == "unsubscribe" end),
    "no unsubscribe webhook")

  -- senders, segments
  st, b = c:call("POST", "/senders/email", { name = "News", email = "news@example.com" })
  assert.equal(201, st)
  local sender = b.sender_id
  st, b = c:call("GET", "/senders/email")
  assert.equal(200, st)
  assert.is_true(#b.items >= 2)
  st, b = c:call("GET", "/senders/cellphone")
  assert.equal(200, st)
  st, b = c:call("GET", "/lists/" .. lid .. "/segments")
  assert.same({ 200, 0 }, { st, b.total_items })

  -- campaigns: create, patch, send, report
  st, b = c:call("POST", "/campaigns/email", { list_id = lid, internal_name = "Launch", subject = "Hello",
    sender_id = sender, content = { type = "html", body = "<p>Hello</p>" } })
  assert.equal(201, st)
  local hash = b.campaign_hash
  out.hash = hash
  st, b = c:call("PATCH", "/campaigns/email/" .. hash, { subject = "Hello there" })
  assert.same({ 200, hash }, { st, b.campaign_hash })
  st, b = c:call("POST", "/campaigns/email/" .. hash .. "/actions/send", { list_id = lid,
    segments = { type = "none" } })
  assert.same({ 200, "success" }, { st, b.result })
  st, b = c:call("GET", "/campaigns?campaign_hash=" .. hash)
  assert.same({ 200, "sending", "email" }, { st, b.items[1].status, b.items[1].channel })
  st, b = c:call("GET", "/reports/email/" .. hash)
  assert.equal(200, st)
  assert.equal(12, b.overall.sends) -- 12 created + 1 imported - 1 unsubscribed
  st, b = c:call("POST", "/lists/" .. lid .. "/contacts",
    { base = { cellphone = "351-912345678", first_name = "Mobile" } })
  assert.equal(201, st)
  out.mobile = b.contact_id
  st, b = c:call("POST", "/campaigns/sms", { list_id = lid, internal_name = "SMS one", sender_id = 2,
    content = { type = "text", message = "Hi" } })
  assert.equal(201, st)
  local sms = b.campaign_hash
  st, b = c:call("POST", "/campaigns/sms/" .. sms .. "/actions/send", { list_id = lid, destination_field = "cellphone",
    segments = { type = "none" } })
  assert.same({ 202, "success" }, { st, b.result })
  st, b = c:call("GET", "/reports/sms/" .. sms)
  assert.equal(200, st)

  -- a scheduled send is a queued operation until its date
  st, b = c:call("POST", "/campaigns/email", { list_id = lid, internal_name = "Later", sender_id = sender,
    content = { type = "html", body = "<p>Later</p>" } })
  local later = b.campaign_hash
  st, b = c:call("POST", "/campaigns/email/" .. later .. "/actions/send", { list_id = lid, segments = { type = "none" },
    schedule_date = "2099-01-01 10:00:00" })
  assert.equal(200, st)
  st, b = c:call("GET", "/operations")
  assert.same({ 200, 1, "queued", later }, { st, b.total_items, b.items[1].status,
    b.items[1].operation_data.campaign_hash })
  local op = b.items[1].operation_id
  st, b = c:call("POST", "/operations/actions/pause", { operations = { op, 999 } })
  assert.same({ 200, { op }, { 999 } }, { st, b.success, b.error.operation_not_found })
  st, b = c:call("POST", "/operations/actions/cancel", { operations = { op } })
  assert.same({ 200, { op } }, { st, b.success })
  st, b = c:call("GET", "/operations")
  assert.same({ 200, 0 }, { st, b.total_items })

  -- advanced reports
  st, b = c:call("POST", "/reports/advanced/sends", { title = "Sends", range = { start = "2026-01-01 00:00:00",
    ["end"] = "2026-12-31 23:59:59" },
    lists = { lid }, columns = { list_base_fields = { "email" }, list_extra_fields = json.array(), campaign_fields = {
      internal_name = true, campaign_hash = true, group = true, channel = true, type = true, sender = true } },
    options = { notify = json.array() } })
  assert.same({ 202, "success" }, { st, b.result })
  st, b = c:call("GET", "/reports/advanced")
  assert.same({ 200, 1 }, { st, b.total_items })

  -- errors
  st, b = c:call("GET", "/lists/9999")
  assert.same({ 404, "NotFound", 404 }, { st, b.title, b.status })
  st, b = c:call("GET", "/lists", nil, { Apikey = "nope" })
  assert.same({ 401, "Unauthorized" }, { st, b.title })
  st, b = c:call("POST", "/lists", "{not json")
  assert.same({ 400, "Bad Request" }, { st, b.title })
  st, b = c:call("POST", "/lists", { public_name = "no internal" })
  assert.same({ 422, "Unprocessable Entity" }, { st, b.title })
  assert.is_table(b.errors.internal_name)
  st, b = c:call("GET", "/lists?limit=1001")
  assert.equal(422, st)

  -- deletes
  st = c:call("DELETE", "/campaigns/" .. later)
  assert.equal(204, st)
  st, b = c:call("DELETE", "/campaigns/" .. hash)
  assert.same({ 409 }, { st })
  st = c:call("DELETE", "/lists/" .. lid .. "/fields/extra/" .. fid)
  assert.equal(204, st)
  st = c:call("DELETE", "/webhooks/" .. out.webhook_id)
  assert.equal(204, st)
  st, b = c:call("GET", "/webhooks")
  assert.same({ 200, 0 }, { st, b.total_items })
  st = c:call("DELETE", "/tags/" .. tag)
  assert.equal(204, st)
  return out
end

return M
