-- egoi.sandbox.access - lookups shared by handlers (list, subscriber, campaign),
-- and the derived subscriber indexes behind them.
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

-- Subscriber indexes -------------------------------------------------------
-- A derived cache per list, kept in a weak-keyed side table (so it is never
-- part of the persisted state, and a list that is deleted or replaced by a
-- state load simply loses its cache; a fresh one is built lazily from
-- list.subs / list.order):
--   active  number of records whose STATUS ~= "2"
--   by[KEY] lower-cased value -> { [record] = true }, built on first use of KEY
-- Every change of a record's STATUS or of an indexed field must go through
-- M.set, and every new record through M.added; anything else that rewrites
-- list.subs wholesale must call M.invalidate(list).
local INDEXED = { EMAIL = true, CELLPHONE = true, TELEPHONE = true, FAX = true,
                  FIRST_NAME = true, LAST_NAME = true, BIRTH_DATE = true }
M.INDEXED = INDEXED

local caches = setmetatable({}, { __mode = "k" })

local function counts(r) return r.STATUS ~= "2" end

local function cache(list)
  local c = caches[list]
  if c then return c end
  local active = 0
  for _, r in pairs(list.subs) do if counts(r) then active = active + 1 end end
  c = { active = active, by = {} }
  caches[list] = c
  return c
end

local function put(idx, r, v)
  if type(v) ~= "string" then return end
  local lv = v:lower()
  local b = idx[lv]
  if not b then b = {}; idx[lv] = b end
  b[r] = true
end

local function drop(idx, r, v)
  if type(v) ~= "string" then return end
  local lv = v:lower()
  local b = idx[lv]
  if b then
    b[r] = nil
    if next(b) == nil then idx[lv] = nil end
  end
end

-- index of KEY for list (built on first use)
local function index(list, key)
  assert(INDEXED[key], "field is not indexed")
  local c = cache(list)
  local idx = c.by[key]
  if not idx then
    idx = {}
    for _, r in pairs(list.subs) do put(idx, r, r[key]) end
    c.by[key] = idx
  end
  return idx
end

function M.invalidate(list) caches[list] = nil end

-- a record was just stored in list.subs (and appended to list.order)
function M.added(list, r)
  local c = caches[list]
  if not c then return end -- built lazily, r included
  if counts(r) then c.active = c.active + 1 end
  for key, idx in pairs(c.by) do put(idx, r, r[key]) end
end

-- r[key] = v, keeping the indexes and counts of list consistent
function M.set(list, r, key, v)
  local old = r[key]
  if old == v then return end
  local c = caches[list]
  if c then
    if key == "STATUS" then
      local was = counts(r)
      r[key] = v
      local now = counts(r)
      if was ~= now then c.active = c.active + (now and 1 or -1) end
    end
    local idx = c.by[key]
    if idx then drop(idx, r, old); put(idx, r, v) end
  end
  r[key] = v
end

-- Records whose key equals v case-insensitively, in an unspecified order, are
-- given to fn(r) until it returns true; the first such record is returned.
-- Each candidate is re-checked against its record: a stale entry (a mutation
-- that bypassed M.set) drops the cache and the search is redone on a rebuilt one.
local function search(list, key, v, fn)
  if type(v) ~= "string" then return nil end
  local lv = v:lower()
  for _ = 1, 2 do
    local b = index(list, key)[lv]
    if not b then return nil end
    local stale = false
    for r in pairs(b) do
      local have = r[key]
      if type(have) ~= "string" or have:lower() ~= lv then stale = true break end
      if fn(r) then return r end
    end
    if not stale then return nil end
    M.invalidate(list)
  end
end

-- the first record in list order among those (case-insensitively) matching
-- key = v that satisfy pred (optional)
local function first(list, key, v, pred)
  local found, n, seen = nil, 0, {}
  search(list, key, v, function(r)
    if seen[r] or (pred and not pred(r)) then return false end
    found, n, seen[r] = r, n + 1, true
    return n > 1
  end)
  if n <= 1 then return found end
  local lv = v:lower()
  for _, uid in ipairs(list.order) do -- several candidates: list order decides
    local r = list.subs[uid]
    local have = r and r[key]
    if type(have) == "string" and have:lower() == lv and (not pred or pred(r)) then return r end
  end
end

-- first record (list order) whose key is exactly v, or nil
function M.find_exact(list, key, v)
  return first(list, key, v, function(r) return r[key] == v end)
end

-- true when a record other than the one with UID self_uid has key == v (case-insensitive)
function M.taken(list, key, v, self_uid)
  return search(list, key, v, function(r) return r.UID ~= self_uid end) ~= nil
end

-- subscriber record by UID or e-mail (case-insensitive; the first in list order) or nil
function M.subscriber(list, key)
  if list.subs[key] then return list.subs[key] end
  return first(list, "EMAIL", key)
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

-- non-removed subscribers of the account (sum of the per-list cached counts)
function M.active_count(acc)
  local n = 0
  for _, l in pairs(acc.lists) do n = n + cache(l).active end
  return n
end

return M
