-- egoi.resources.shapes: one result shape per resource method.
--
-- The wire gives the same thing in several shapes: an empty list is "" (REST's empty element),
-- "0" (getExtraFields' false), {} or no key at all; a one-item list can be a bare record; extra
-- field lists come as a key_<id> map of {ID, NAME, TYPE, OPTIONS} (getExtraFields), an array of
-- {id, ref, tipo, opcoes} (getLists), or "0" / "" when there are none; "no tags", "no segments"
-- and "no forms" are errors (NO_TAGS_FOUND, NO_SEGMENTS_FOUND, FORMS_NOT_FOUND). client:call keeps the wire
-- shape; the resource methods pass their results through the shape their catalogue entry names
-- (methods.lua: `shape`, `empty_on`, `returns` for the README):
--
--   list(v)          -> array: nil/""/"0"/false -> {}; an array as it is; a key_<n> map -> its
--                       values in numeric key order; a single record (a map) -> { record }
--   field(f, key)    -> { id =, name =, type =, options = array, field = "extra_<id>" } plus the
--                       other keys the service sent (e.g. listnum)
--   subscriber(r)    -> the record as sent (EXTRA_FIELD_<id> keys and all) with TAGS as an array
--   SHAPES[name](result, args) -> the shaped result of a whole call (nil result: the empty one)
local type, pairs, ipairs, tostring, tonumber, next, sort, floor, match =
  type, pairs, ipairs, tostring, tonumber, next, table.sort, math.floor, string.match

local M = {}

local function is_empty_value(v)
  return v == nil or v == "" or v == "0" or v == false or v == 0
end

-- "5" for 5, 5.0 and "5"
local function text(v)
  if type(v) == "number" and v == floor(v) then return ("%d"):format(v) end
  if v == nil then return nil end
  return tostring(v)
end

local function list(v)
  if is_empty_value(v) then return {} end
  if type(v) ~= "table" then return { v } end
  if next(v) == nil or v[1] ~= nil then return v end
  local keyed, n = {}, 0
  for k in pairs(v) do
    local id = type(k) == "string" and match(k, "^key_(%d+)$")
    if not id then return { v } end -- a single record
    n = n + 1
    keyed[n] = { tonumber(id), k }
  end
  sort(keyed, function(a, b) return a[1] < b[1] end)
  local out = {}
  for i = 1, n do out[i] = v[keyed[i][2]] end
  return out
end
M.list = list

-- keys that field() maps (wire name -> canonical name)
local FIELD_KEYS = { ID = "id", id = "id", NAME = "name", name = "name", ref = "name",
  TYPE = "type", type = "type", tipo = "type", OPTIONS = "options", options = "options", opcoes = "options" }

-- one extra field; `key` is its key in a key_<id> map (the id when the record has none)
local function field(f, key)
  if type(f) ~= "table" then return nil end
  local out = {}
  for k, v in pairs(f) do
    local canon = FIELD_KEYS[k]
    if canon then
      if out[canon] == nil or k == canon then out[canon] = v end
    else
      out[k] = v
    end
  end
  local id = out.id
  if id == nil and type(key) == "string" then id = match(key, "^key_(%d+)$") end
  out.id = text(id)
  out.name = text(out.name)
  out.type = text(out.type)
  out.options = list(out.options)
  out.field = out.id and ("extra_" .. out.id) or nil
  return out
end
M.field = field

-- the fields of a getExtraFields / getLists value, as an array sorted by id
local function id_keyed(v)
  if type(v) ~= "table" or next(v) == nil or v[1] ~= nil then return false end
  for k in pairs(v) do
    if type(k) ~= "string" or not match(k, "^key_%d+$") then return false end
  end
  return true
end

-- (by_position: v was a key_<id> map whose ids 0..n-1 were folded into an array, so a field
-- without an id of its own has its position's)
local function fields(v, by_position)
  local out = {}
  if id_keyed(v) then
    for k, f in pairs(v) do
      if type(f) == "table" then out[#out + 1] = field(f, k) end
    end
  else
    for i, f in ipairs(list(v)) do
      if type(f) == "table" then out[#out + 1] = field(f, by_position and ("key_" .. (i - 1)) or nil) end
    end
  end
  sort(out, function(a, b)
    local x, y = tonumber(a.id), tonumber(b.id)
    if x and y then return x < y end
    return tostring(a.id) < tostring(b.id)
  end)
  return out
end
M.fields = fields

local function subscriber(r)
  if type(r) == "table" and r.TAGS ~= nil then r.TAGS = list(r.TAGS) end
  return r
end
M.subscriber = subscriber

local function records(v, each)
  local out = list(v)
  if each then
    for i = 1, #out do out[i] = each(out[i]) end
  end
  return out
end

local function result_table(v)
  if type(v) == "table" then return v end
  return {}
end

M.SHAPES = {
  -- arrays of records, as sent
  records = function(res) return records(res) end,
  -- getLists: list records with extra_fields as field() records
  lists = function(res)
    return records(res, function(l)
      if type(l) == "table" then l.extra_fields = fields(l.extra_fields) end
      return l
    end)
  end,
  -- getExtraFields: the fields, sorted by id
  fields = function(res) return fields(result_table(res).extra_fields, true) end,
  -- getTags: TAG_LIST's records
  tags = function(res) return records(result_table(res).TAG_LIST) end,
  -- getSegments: each entry's `segment` record
  segments = function(res)
    return records(res, function(e)
      if type(e) == "table" and type(e.segment) == "table" then return e.segment end
      return e
    end)
  end,
  -- addSubscriber: the record
  subscriber = function(res) return subscriber(res) end,
  -- subscriberData: { subscriber = record } or, for "all_subscribers", { subscriber = array }
  subscriber_data = function(res, args)
    res = result_table(res)
    if type(args) == "table" and args.subscriber == "all_subscribers" then
      res.subscriber = records(res.subscriber, subscriber) -- (one record alone: a list of one)
    else
      res.subscriber = subscriber(res.subscriber)
    end
    return res
  end,
}

return M
