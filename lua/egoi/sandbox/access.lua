-- egoi.sandbox.access - lookups shared by handlers (list, subscriber, campaign).
local util = require "egoi.sandbox.util"

local M = {}

-- list | nil, error-result
function M.list(ctx, missing, notfound)
  local id = util.str(ctx.o.listid)
  if not id then return nil, util.err(missing or "LIST_MISSING") end
  local l, owner = ctx.st:find_list(id)
  if not l then return nil, util.err(notfound or "LIST_NOT_FOUND") end
  if owner ~= ctx.acc then return nil, util.err("NO_ACCESS") end
  return l
end

-- subscriber record by UID or e-mail (case-insensitive) or nil
function M.subscriber(list, key)
  if list.subs[key] then return list.subs[key] end
  local lk = key:lower()
  for _, uid in ipairs(list.order) do
    local r = list.subs[uid]
    if r.EMAIL and r.EMAIL:lower() == lk then return r end
  end
end

-- campaign | nil, error-result
function M.campaign(ctx)
  local h = util.str(ctx.o.campaign) or util.str(ctx.o.hash)
  if not h then return nil, util.err("NO_CAMPAIGN") end
  local c = ctx.acc.campaigns[h]
  if not c then
    for _, cc in pairs(ctx.acc.campaigns) do if cc.REF == h then c = cc end end
  end
  if not c then return nil, util.err("CAMPAIGN_NOT_FOUND") end
  return c
end

function M.active_count(acc)
  local n = 0
  for _, l in pairs(acc.lists) do
    for _, r in pairs(l.subs) do if r.STATUS ~= "2" then n = n + 1 end end
  end
  return n
end

return M
