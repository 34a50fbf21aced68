-- egoi.v3.json - JSON request bodies for API v3, with lua-cjson.
--
-- lua-cjson (2.1.0, as Debian ships it) writes every empty table as `{}`; v3 schemas tell
-- arrays from objects, so an empty array must be marked: json.array(t) (or json.array()).
-- A marked empty table is written as `[]`; everything else is cjson's own output.
local cjson = require("cjson").new()
cjson.encode_sparse_array(false) -- sparse arrays are an error, not an object with numeric keys

local type, pairs, next, pcall, setmetatable, getmetatable, tostring =
  type, pairs, next, pcall, setmetatable, getmetatable, tostring

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

return M
