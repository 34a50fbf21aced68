-- egoi.sandbox.v3.deliver - outbound JSON POSTs of the v3 API: webhooks on contact
-- changes (over v2 or v3: one account state) and the callback_url of imports, exports
-- and advanced reports. The webhook payload is not documented by E-goi: the sandbox's
-- is an invention (egoi-v3-api.md §8 #16, doc/SANDBOX.md).
local json = require "egoi.sandbox.v3.json"
local outbound = require "egoi.sandbox.outbound"
local loopmod = require "egoi.sandbox.loop"
local store = require "egoi.sandbox.store"
local u = require "egoi.sandbox.v3.util"

local M = {}
local Out = {}
Out.__index = Out

-- v2 subscriber event -> v3 webhook action
M.ACTIONS = { add = "subscription", edit = "edit_subscription", remove = "unsubscribe" }
local STATUS = { ["0"] = "unconfirmed", ["1"] = "active", ["2"] = "removed", ["3"] = "unconfirmed", ["4"] = "inactive" }
local BASE = { email = "EMAIL", first_name = "FIRST_NAME", last_name = "LAST_NAME", cellphone = "CELLPHONE",
               phone = "TELEPHONE", birth_date = "BIRTH_DATE", language = "LANGUAGE" }
local DEFAULT_FIELDS = { "email", "cellphone", "first_name", "last_name" }

function M.new(loop, cfg, log, st)
  return setmetatable({ loop = loop, cfg = cfg, log = log, st = st }, Out)
end

-- post value as JSON to url from a loop task, after delay seconds (default 0)
function Out:post_json(url, value, label, delay)
  local body = json.encode(value)
  self.loop:spawn(function()
    if delay and delay > 0 then self.loop:sleep(delay) end
    local t0 = loopmod.now()
    local status, err = outbound.post(self.loop, url, body, "application/json", self.cfg.callback_timeout)
    local host, port = outbound.parse_url(url)
    self.log(("%s %s:%s -> %s"):format(label, host or "?", port or "?", status or ("failed: " .. tostring(err))), t0)
  end)
end

function Out.payload(_, w, action, r)
  local contact = { contact_id = r.UID, status = STATUS[r.STATUS or "1"] or "active" }
  local fields = #w.fields > 0 and w.fields or DEFAULT_FIELDS
  for _, f in ipairs(fields) do
    local key = BASE[f]
    local id = tostring(f):gsub("^extra_", "")
    if key then contact[f] = r[key]
    elseif (r.extra or {})[id] ~= nil then contact["extra_" .. id] = r.extra[id] end
  end
  return { webhook_id = w.webhook_id, list_id = w.list_id, action = action, date = store.date(), contact = contact }
end

-- the webhooks of the list's account that listen to the event
function Out:fire(list, event, r)
  local action = M.ACTIONS[event]
  local _, acc = self.st:find_list(list.listnum)
  if not action or not acc or not acc.v3 then return end
  for _, id in ipairs(acc.v3.webhook_order) do
    local w = acc.v3.webhooks[u.key(id)]
    if w and u.key(w.list_id) == list.listnum then
      for _, a in ipairs(w.actions) do
        if a == action then self:post_json(w.url, self:payload(w, action, r), "webhook " .. action) break end
      end
    end
  end
end

-- fire(list, event, record) that does v2's callbacks and then the v3 webhooks
function Out:wrap(v2fire)
  return function(list, event, r)
    v2fire(list, event, r)
    self:fire(list, event, r)
  end
end

return M
