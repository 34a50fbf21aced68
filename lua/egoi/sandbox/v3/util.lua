-- egoi.sandbox.v3.util - helpers shared by the v3 resource handlers: paging,
-- argument checks, the v2 <-> v3 vocabularies, calls into the v2 business logic.
local json = require "egoi.sandbox.v3.json"
local errors = require "egoi.sandbox.v3.errors"

local M = {}

-- v2 subscriber STATUS <-> v3 contact status (egoi-v3-api.md §4.13 #13)
M.STATUS_V3 = { ["0"] = "unconfirmed", ["1"] = "active", ["2"] = "removed", ["3"] = "unconfirmed", ["4"] = "inactive" }
M.STATUS_V2 = { unconfirmed = "0", active = "1", removed = "2", inactive = "4" }
-- v2 extra field type <-> v3 field format
M.FORMAT_V3 = { texto = "text", numero = "number", data = "date", email = "email", telefone = "phone",
                telemovel = "cellphone", lista = "options", opcoes = "options", checkbox = "options", url = "text" }
M.FORMAT_V2 = { text = "texto", number = "numero", date = "data", email = "email", phone = "telefone",
                cellphone = "telemovel", options = "opcoes" }
M.LANGUAGES = { en = true, pt = true, br = true, es = true, de = true, hu = true, fr = true }

-- the string key of an integer id (the state file's JSON numbers come back as floats on Lua 5.4)
function M.key(n) return ("%d"):format(n) end

function M.int(v)
  local n = tonumber(v)
  if not n or n ~= math.floor(n) then return nil end
  return n
end

-- "YYYY-MM-DD HH:MM:SS" (UTC) -> epoch seconds | nil; also accepts ISO 8601 with T and Z
function M.parse_time(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, se = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):?(%d*)")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo < 1 or mo > 12 or d < 1 or d > 31 then return nil end
  -- days from civil (proleptic Gregorian)
  local yy = mo <= 2 and y - 1 or y
  local era = math.floor(yy / 400)
  local yoe = yy - era * 400
  local doy = math.floor((153 * (mo + (mo > 2 and -3 or 9)) + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + (tonumber(se) or 0)
end

-- paging: offset/limit from the query; limit over cfg.v3_max_limit -> 422.
-- page(x, arr, default_limit) -> { total_items, items } | nil, status, body
function M.page(x, arr, default_limit, build)
  local q = x.query
  local offset, limit = 0, default_limit or 10
  if q.offset ~= nil then
    offset = M.int(q.offset)
    if not offset or offset < 0 then return nil, errors.invalid("offset", "greaterThan", "offset must be >= 0") end
  end
  if q.limit ~= nil then
    limit = M.int(q.limit)
    if not limit or limit < 1 then return nil, errors.invalid("limit", "greaterThan", "limit must be >= 1") end
    if limit > x.cfg.v3_max_limit then
      return nil, errors.invalid("limit", "lessThan",
        ("limit must be at most %d"):format(x.cfg.v3_max_limit))
    end
  end
  -- a server that caps lower than asked (--v3-page-cap): fewer items, same total
  if x.cfg.v3_page_cap and limit > x.cfg.v3_page_cap then limit = x.cfg.v3_page_cap end
  local items = json.array()
  for i = offset + 1, math.min(#arr, offset + limit) do items[#items + 1] = build and build(arr[i]) or arr[i] end
  return { total_items = #arr, items = items }
end

-- the member is an object (or absent when optional)
function M.object(v) return json.is_object(v) end

-- call a v2 method's business logic on the shared state: value, code
function M.v2(x, module, method, o)
  local def = require("egoi.sandbox." .. module)[method]
  local ctx = { st = x.st, acc = x.acc, o = o, cfg = x.cfg, now = x.now, fire = x.fire, body_size = 0,
                method = method }
  local v = def.fn(ctx)
  local code = type(v) == "table" and v.ERROR
    or (type(v) == "string" and v ~= "OK" and v:match("^[A-Z_]+$") and v) or nil
  return v, code
end

-- the account's list by path id: list | nil, status, body
function M.list(x, id)
  local l = x.acc.lists[tostring(M.int(id) or "")]
  if not l then return nil, errors.not_found("List") end
  return l
end

-- state kept only by v3 (egoi.sandbox.store)
M.v3state = require("egoi.sandbox.store").v3_state

function M.next_id(acc, kind)
  local s = M.v3state(acc)
  s.seq[kind] = (s.seq[kind] or 0) + 1
  return s.seq[kind]
end

-- reverse a list of ids (v3 orders lists, tags, campaigns desc by default)
function M.ordered(ids, q)
  local out = {}
  local desc = (q.order or "desc") ~= "asc"
  for i = 1, #ids do out[i] = desc and ids[#ids - i + 1] or ids[i] end
  return out
end

return M
