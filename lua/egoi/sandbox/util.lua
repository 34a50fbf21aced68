-- egoi.sandbox.util - small helpers shared by the method handlers.
local M = {}

function M.err(code) return { ERROR = code } end

-- non-empty trimmed string or nil
function M.str(v)
  if type(v) ~= "string" then return nil end
  v = v:match("^%s*(.*%S)") or ""
  if v == "" then return nil end
  return v
end

-- values of an array-like option ({"0"=..,"1"=..} or a scalar) in index order
function M.seq(v)
  if v == nil then return {} end
  if type(v) ~= "table" then
    if v == "" then return {} end
    return { v }
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  local n = #keys
  -- the usual shapes, already in order: "0".."n-1" (PHP form arrays) or 1..n
  local dense0, dense1 = true, true
  for i = 1, n do
    if dense0 and v[tostring(i - 1)] == nil then dense0 = false end
    if dense1 and v[i] == nil then dense1 = false end
    if not dense0 and not dense1 then break end
  end
  if dense0 or dense1 then
    local out = {}
    for i = 1, n do out[i] = v[dense0 and tostring(i - 1) or i] end
    return out
  end
  table.sort(keys, function(a, b)
    local na, nb = tonumber(a), tonumber(b)
    if na and nb then return na < nb end
    return tostring(a) < tostring(b)
  end)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = v[k] end
  return out
end

function M.on(v) return v == "1" or v == "true" or v == "on" or v == "yes" end

-- first present option among names
function M.pick(o, ...)
  for i = 1, select("#", ...) do
    local v = M.str(o[select(i, ...)])
    if v then return v end
  end
end

function M.utf8len(s)
  local n = 0
  for _ in s:gmatch("[^\128-\191]") do n = n + 1 end
  return n
end

function M.valid_email(e)
  if #e > 254 then return false end
  local l, d = e:match("^([%w%.!#$%%&'*+/=?^_`{|}~%-]+)@([%w%-]+%.[%w%.%-]+)$")
  return l ~= nil and not d:find("%.%.") and not d:match("^[%.%-]") and not d:match("[%.%-]$")
end

-- local-part / domain conventions that simulate the remote checks (doc/SANDBOX.md)
function M.email_problem(e)
  if not M.valid_email(e) then return "EMAIL_ADDRESS_INVALID" end
  local l, d = e:lower():match("^(.*)@(.*)$")
  if d:match("%.invalid$") or d == "invalid" then return "EMAIL_ADDRESS_INVALID_MX_ERROR" end
  if l == "nonexistent" or l:match("^nonexistent[+.]") then return "EMAIL_ADDRESS_INVALID_DOESNT_EXIST" end
end

function M.valid_phone(p) return p:match("^%d%d?%d?%-%d+$") ~= nil and #p <= 24 end

-- YYYY-MM-DD or DD-MM-YYYY -> YYYY-MM-DD | nil
function M.date(s)
  local y, m, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then d, m, y = s:match("^(%d%d)%-(%d%d)%-(%d%d%d%d)$") end
  if not y then return nil end
  if tonumber(m) < 1 or tonumber(m) > 12 or tonumber(d) < 1 or tonumber(d) > 31 then return nil end
  return y .. "-" .. m .. "-" .. d
end

function M.b64decode(s)
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  if s:find("[^%w%+/=%s]") then return nil end
  s = s:gsub("%s", "")
  local out, bits, nbits = {}, 0, 0
  for c in s:gmatch(".") do
    if c == "=" then break end
    bits = bits * 64 + (alphabet:find(c, 1, true) - 1)
    nbits = nbits + 6
    if nbits >= 8 then
      nbits = nbits - 8
      local p = 2 ^ nbits
      local byte = math.floor(bits / p)
      out[#out + 1] = string.char(byte)
      bits = bits - byte * p
    end
  end
  return table.concat(out)
end

function M.copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = type(v) == "table" and M.copy(v) or v end
  return c
end

-- apply start/limit paging to an array
function M.page(arr, o)
  local start = tonumber(o.start) or 0
  local limit = tonumber(o.limit) or #arr
  local out = {}
  for i = start + 1, math.min(#arr, start + limit) do out[#out + 1] = arr[i] end
  return out
end

return M
