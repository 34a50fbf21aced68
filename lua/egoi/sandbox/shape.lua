-- egoi.sandbox.shape - result value kinds shared by the REST and XML-RPC encoders.
--   list(t)  : positional list  (REST key_0.., XML-RPC array)
--   idmap(t) : map keyed by ids (REST key_<id>, XML-RPC struct with numeric names)
--   plain table with string keys : map;  string/number : scalar; boolean : "1"/"0"
local M = {}

local LIST = { kind = "list" }
local IDMAP = { kind = "idmap" }

function M.list(t) return setmetatable(t or {}, LIST) end
function M.idmap(t) return setmetatable(t or {}, IDMAP) end

function M.kind(v)
  local tv = type(v)
  if tv == "table" then
    local mt = getmetatable(v)
    if mt == LIST then return "list" end
    if mt == IDMAP then return "idmap" end
    if v[1] ~= nil then return "list" end
    return "map"
  end
  return "scalar"
end

function M.str(v)
  if v == nil then return "" end
  if v == true then return "1" end
  if v == false then return "0" end
  if type(v) == "number" then
    if v == math.floor(v) and v > -1e15 and v < 1e15 then return ("%d"):format(v) end
    return (("%.6f"):format(v):gsub("0+$", ""):gsub("%.$", ""))
  end
  return tostring(v)
end

-- sorted keys of a map (id maps numerically)
function M.keys(t, numeric)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  if numeric then
    table.sort(ks, function(a, b)
      local na, nb = tonumber(a), tonumber(b)
      if na and nb then return na < nb end
      return tostring(a) < tostring(b)
    end)
  else
    table.sort(ks, function(a, b) return tostring(a) < tostring(b) end)
  end
  return ks
end

return M
