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

-- a copy with every marked empty table replaced by the placeholder (nil when there is none)
local function mark(v, depth)
  if depth > 100 then return nil end
  local found, out = false, {}
  for k, x in pairs(v) do
    if type(x) == "table" then
      if getmetatable(x) == ARRAY and next(x) == nil then
        x, found = EMPTY, true
      else
        local m = mark(x, depth + 1)
        if m then x, found = m, true end
      end
    end
    out[k] = x
  end
  return found and out or nil
end

--- encode(value) -> string | nil, message
function M.encode(value)
  local v = value
  if type(v) == "table" then
    if getmetatable(v) == ARRAY and next(v) == nil then return "[]" end
    v = mark(v, 0) or v
  end
  local ok, s = pcall(cjson.encode, v)
  if not ok then return nil, tostring(s) end
  if v ~= value then
    s = s:gsub(EMPTY_JSON:gsub("%p", "%%%0"), "[]")
  end
  return s
end

return M
