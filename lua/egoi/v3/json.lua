-- egoi.v3.json - JSON request bodies for API v3, with lua-cjson; empty arrays of answers marked.
--
-- lua-cjson (2.1.0, as Debian ships it) writes every empty table as `{}`; v3 schemas tell
-- arrays from objects, so an empty array must be marked: json.array(t) (or json.array()).
-- A marked empty table is written as `[]`; everything else is cjson's own output.
-- decode(decoder, body) marks the other way: every empty array `[]` of an answer comes back as
-- a marked empty table (json.is_array), whichever decoder the client uses, so an answer written
-- out again (egoi --json) keeps `[]` apart from `{}`.
local cjson = require("cjson").new()
cjson.encode_sparse_array(false) -- sparse arrays are an error, not an object with numeric keys

local type, pairs, next, pcall, setmetatable, getmetatable, tostring =
  type, pairs, next, pcall, setmetatable, getmetatable, tostring
local find, gsub, sub, concat = string.find, string.gsub, string.sub, table.concat

local M = {}

local ARRAY = { __name = "egoi.v3.array" }
-- a placeholder string cjson writes as it is (no character it escapes)
local EMPTY = "\1egoi-empty-array\1"
local EMPTY_JSON = cjson.encode(EMPTY)

--- Mark t (or a new table) as a JSON array: written `[]` when empty.
function M.array(t)
  return setmetatable(t or {}, ARRAY)
end

function M.is_array(t)
  return getmetatable(t) == ARRAY
end

-- Bound on the tables one body may hold, counted along every path (a table reached twice
-- counts twice, as cjson writes it twice): a body that reaches the same tables through many
-- paths would otherwise cost time exponential in its depth, here and in cjson.
local MAX_TABLES = 1000000

-- a copy with every marked empty table replaced by the placeholder (nil when there is none)
-- | nil, nil, message for a body that contains itself or is too large
local function mark(v, depth, st)
  if st.path[v] then return nil, nil, "the body contains itself (a table inside its own contents)" end
  if depth > 1000 then return nil, nil, "the body is nested more than 1000 levels deep" end
  st.n = st.n + 1
  if st.n > MAX_TABLES then
    return nil, nil, ("the body holds more than %d tables (counting a table each time it is reached)"):format(
      MAX_TABLES)
  end
  st.path[v] = true
  local found, out = false, {}
  for k, x in pairs(v) do
    if type(x) == "table" then
      if getmetatable(x) == ARRAY and next(x) == nil then
        x, found = EMPTY, true
      else
        local m, _, why = mark(x, depth + 1, st)
        if why then return nil, nil, why end
        if m then x, found = m, true end
      end
    end
    out[k] = x
  end
  st.path[v] = nil
  return found and out or nil
end

--- encode(value) -> string | nil, message
function M.encode(value)
  local v = value
  if type(v) == "table" then
    if getmetatable(v) == ARRAY and next(v) == nil then return "[]" end
    local m, _, why = mark(v, 0, { n = 0, path = {} })
    if why then return nil, why end
    v = m or v
  end
  local ok, s = pcall(cjson.encode, v)
  if not ok then return nil, tostring(s) end
  if v ~= value then
    s = s:gsub(EMPTY_JSON:gsub("%p", "%%%0"), "[]")
  end
  return s
end

-- Answers --------------------------------------------------------------------------------------
-- Neither decoder (core.json_decode, lua-cjson 2.1.0) tells `[]` from `{}`: both give an empty
-- table. Before decoding, every `[]` outside a string is written `[<EMPTY>]` (a one-item array
-- no answer holds: the placeholder is a control character, a word and a control character);
-- after, each such one-item table becomes a marked empty one.

-- the body with its empty arrays holding the placeholder, and how many | nil when it has none.
-- A `[]` is outside a string when an even number of quotes comes before it, counted in a copy
-- of the body with every escape (`\"`, `\\`, ...) blanked: a few passes in C, no Lua loop
-- over the strings.
local function hold_empty_arrays(body)
  local at = find(body, "[", 1, true)
  if not at or not find(body, "%[%s*%]", at) then return nil end -- (the common case)
  local plain = find(body, "\\", 1, true) and gsub(body, "\\.", "__") or body
  local out, n, last, count, quotes, counted = {}, 0, 1, 0, 0, 1
  while at do
    if find(body, "^%s*%]", at + 1) then
      local _, q = gsub(sub(plain, counted, at - 1), '"', "")
      quotes, counted = quotes + q, at
      if quotes % 2 == 0 then
        out[n + 1], out[n + 2], n = sub(body, last, at), EMPTY_JSON, n + 2
        last, count = at + 1, count + 1
      end
    end
    at = find(body, "[", at + 1, true)
  end
  if count == 0 then return nil end
  out[n + 1] = sub(body, last)
  return concat(out), count
end

local function holds_placeholder(t)
  return t[1] == EMPTY and next(t) == 1 and next(t, 1) == nil
end

-- replace the placeholder arrays under v by marked empty tables; returns how many are left
local function release(v, left)
  for k, x in pairs(v) do
    if left == 0 then return 0 end
    if type(x) == "table" then
      if holds_placeholder(x) then
        v[k], left = setmetatable({}, ARRAY), left - 1
      else
        left = release(x, left)
      end
    end
  end
  return left
end

--- decode(decoder, body) -> doc | nil, code, message: decoder(body) (core.json_decode, or the
-- client's lua-cjson + normalize) with every empty array of the answer a marked empty table.
-- A body the decoder refuses is refused as it was sent (its positions unchanged).
function M.decode(decoder, body)
  local held, count = hold_empty_arrays(body)
  if not held then return decoder(body) end
  local doc = decoder(held)
  if doc == nil then return decoder(body) end
  if type(doc) == "table" then
    if holds_placeholder(doc) then return setmetatable({}, ARRAY) end
    release(doc, count)
  end
  return doc
end

return M
