-- egoi.sandbox.v3.json - JSON for the v3 API (pure Lua, Lua 5.1-5.4/LuaJIT).
-- Unlike lua-cjson 2.1.0 it keeps [] and {} apart both ways:
--   decode: arrays get metatable ARRAY, objects OBJECT; null is json.null.
--   encode: a table with metatable ARRAY, or with t[1] ~= nil, is an array;
--           json.array() makes an empty one; other tables are objects (keys sorted).
local M = {}

local ARRAY, OBJECT = { __name = "json.array" }, { __name = "json.object" }
M.ARRAY, M.OBJECT = ARRAY, OBJECT
M.null = setmetatable({}, { __name = "json.null", __tostring = function() return "null" end })

function M.array(t) return setmetatable(t or {}, ARRAY) end
function M.object(t) return setmetatable(t or {}, OBJECT) end
function M.is_array(v)
  return type(v) == "table" and (getmetatable(v) == ARRAY or (v[1] ~= nil and getmetatable(v) ~= OBJECT))
end
function M.is_object(v) return type(v) == "table" and v ~= M.null and not M.is_array(v) end

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
              ["\t"] = "\\t" }
local function str(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return ESC[c] or ("\\u%04x"):format(c:byte()) end) .. '"'
end

local function enc(v, out, depth)
  if depth > 64 then error("json: nested too deep", 0) end
  local t = type(v)
  if v == nil or v == M.null then out[#out + 1] = "null"
  elseif t == "boolean" then out[#out + 1] = v and "true" or "false"
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then error("json: cannot encode " .. tostring(v), 0) end
    if v == math.floor(v) and v > -1e15 and v < 1e15 then out[#out + 1] = ("%d"):format(v)
    else out[#out + 1] = ("%.14g"):format(v) end
  elseif t == "string" then out[#out + 1] = str(v)
  elseif t == "table" then
    if M.is_array(v) then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        enc(v[i], out, depth + 1)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = str(k)
        out[#out + 1] = ":"
        local x = v[k]
        if x == nil then x = v[tonumber(k)] end
        enc(x, out, depth + 1)
      end
      out[#out + 1] = "}"
    end
  else error("json: cannot encode a " .. t, 0) end
end

function M.encode(v)
  local out = {}
  enc(v, out, 0)
  return table.concat(out)
end

-- decoding -----------------------------------------------------------------

local function utf8char(n)
  if n < 0x80 then return string.char(n) end
  if n < 0x800 then return string.char(0xC0 + math.floor(n / 64), 0x80 + n % 64) end
  if n < 0x10000 then
    return string.char(0xE0 + math.floor(n / 4096), 0x80 + math.floor(n / 64) % 64, 0x80 + n % 64)
  end
  return string.char(0xF0 + math.floor(n / 262144), 0x80 + math.floor(n / 4096) % 64,
    0x80 + math.floor(n / 64) % 64, 0x80 + n % 64)
end

local function fail(_, i, what) error({ json = ("%s at byte %d"):format(what, i) }, 0) end

local function ws(s, i) return s:find("[^ \t\r\n]", i) or #s + 1 end

local dec

local function dstring(s, i) -- s:sub(i,i) == '"'
  local parts, j = {}, i + 1
  while true do
    local a = s:find('["\\%c]', j)
    if not a then fail(s, i, "unterminated string") end
    parts[#parts + 1] = s:sub(j, a - 1)
    local c = s:sub(a, a)
    if c == '"' then return table.concat(parts), a + 1 end
    if c ~= "\\" then fail(s, a, "control character in string") end
    local e = s:sub(a + 1, a + 1)
    local simple = ({ ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" })[e]
    if simple then parts[#parts + 1] = simple; j = a + 2
    elseif e == "u" then
      local hex = s:match("^%x%x%x%x", a + 2)
      if not hex then fail(s, a, "bad \\u escape") end
      local n = tonumber(hex, 16)
      j = a + 6
      if n >= 0xD800 and n <= 0xDBFF then
        local lo = s:match("^\\u(%x%x%x%x)", j)
        local m = lo and tonumber(lo, 16)
        if not m or m < 0xDC00 or m > 0xDFFF then fail(s, a, "lone surrogate") end
        n = 0x10000 + (n - 0xD800) * 1024 + (m - 0xDC00)
        j = j + 6
      elseif n >= 0xDC00 and n <= 0xDFFF then fail(s, a, "lone surrogate") end
      parts[#parts + 1] = utf8char(n)
    else fail(s, a, "bad escape") end
  end
end

function dec(s, i, depth)
  if depth > 64 then fail(s, i, "nested too deep") end
  i = ws(s, i)
  local c = s:sub(i, i)
  if c == "{" then
    local t = setmetatable({}, OBJECT)
    i = ws(s, i + 1)
    if s:sub(i, i) == "}" then return t, i + 1 end
    while true do
      if s:sub(i, i) ~= '"' then fail(s, i, "expected a member name") end
      local k
      k, i = dstring(s, i)
      i = ws(s, i)
      if s:sub(i, i) ~= ":" then fail(s, i, "expected ':'") end
      local v
      v, i = dec(s, i + 1, depth + 1)
      t[k] = v
      i = ws(s, i)
      local d = s:sub(i, i)
      if d == "}" then return t, i + 1 end
      if d ~= "," then fail(s, i, "expected ',' or '}'") end
      i = ws(s, i + 1)
    end
  elseif c == "[" then
    local t, n = setmetatable({}, ARRAY), 0
    i = ws(s, i + 1)
    if s:sub(i, i) == "]" then return t, i + 1 end
    while true do
      local v
      v, i = dec(s, i, depth + 1)
      n = n + 1
      t[n] = v
      i = ws(s, i)
      local d = s:sub(i, i)
      if d == "]" then return t, i + 1 end
      if d ~= "," then fail(s, i, "expected ',' or ']'") end
      i = i + 1
    end
  elseif c == '"' then return dstring(s, i)
  elseif s:sub(i, i + 3) == "true" then return true, i + 4
  elseif s:sub(i, i + 4) == "false" then return false, i + 5
  elseif s:sub(i, i + 3) == "null" then return M.null, i + 4
  else
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
    if not num or not num:match("^-?0$") and not num:match("^-?[1-9]") and not num:match("^-?0[.eE]") then
      fail(s, i, "unexpected character")
    end
    local v = tonumber(num)
    if not v then fail(s, i, "bad number") end
    return v, i + #num
  end
end

-- decode(text) -> value | nil, message
function M.decode(s)
  if type(s) ~= "string" then return nil, "not a string" end
  local ok, v, i = pcall(dec, s, 1, 0)
  if not ok then
    if type(v) == "table" and v.json then return nil, v.json end
    return nil, tostring(v)
  end
  if ws(s, i) <= #s then return nil, ("trailing data at byte %d"):format(ws(s, i)) end
  return v
end

return M
