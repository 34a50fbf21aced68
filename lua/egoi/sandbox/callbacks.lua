-- egoi.sandbox.callbacks - list callbacks: event -> flag, XML body, async POST.
local form = require "egoi.sandbox.form"
local envelope = require "egoi.sandbox.envelope"
local outbound = require "egoi.sandbox.outbound"
local loopmod = require "egoi.sandbox.loop"

local M = {}

-- API-driven events (§5.1): add via API = 9, remove via API = 10, edit via API = 14
M.EVENTS = { add = { flag = "9", field = "addSubscriber" }, remove = { flag = "10", field = "removeSubscriber" },
             edit = { flag = "14", field = "editSubscriber" } }

local ORDER = { "UID", "LIST", "EMAIL", "CELLPHONE", "TELEPHONE", "FAX", "FIRST_NAME", "LAST_NAME", "BIRTH_DATE",
  "STATUS", "LANGUAGE", "ADD_DATE", "MODIFICATION_DATE", "REMOVE_METHOD", "REMOVE_DATE", "REMOVE_REASON" }

function M.xml(r)
  local parts = { '<?xml version="1.0" encoding="UTF-8"?>\n<subscriber>' }
  for _, k in ipairs(ORDER) do
    parts[#parts + 1] = ("<%s>%s</%s>"):format(k, envelope.xesc(r[k] or ""), k)
  end
  local ids = {}
  for id in pairs(r.extra or {}) do ids[#ids + 1] = id end
  table.sort(ids, function(a, b) return (tonumber(a) or 0) < (tonumber(b) or 0) end)
  for _, id in ipairs(ids) do
    parts[#parts + 1] = ("<EXTRA_FIELD_%s>%s</EXTRA_FIELD_%s>"):format(id, envelope.xesc(r.extra[id]), id)
  end
  parts[#parts + 1] = "</subscriber>"
  return table.concat(parts)
end

-- returns a function fire(list, event, record) that schedules deliveries on loop
function M.dispatcher(loop, cfg, log)
  return function(list, event, r)
    local ev = M.EVENTS[event]
    local cb = list.callback
    if not ev or not cb or cb.url == "" or cb.flags[ev.flag] ~= "1" then return end
    local url = cb.url
    local body = ev.field .. "=" .. form.escape(M.xml(r))
    loop:spawn(function()
      local t0 = loopmod.now()
      local status, err = outbound.post(loop, url, body, "application/x-www-form-urlencoded", cfg.callback_timeout)
      local host, port = outbound.parse_url(url)
      local result = status or ("failed: " .. tostring(err))
      log(("callback %s %s:%s -> %s"):format(ev.field, host or "?", port or "?", result), t0)
    end)
  end
end

return M
