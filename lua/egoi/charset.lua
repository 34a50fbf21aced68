-- egoi.charset - UTF-8 checks and the single-byte encodings an import file may come in.
--
--   charset.utf8_problem(s)        -> nil when s is valid UTF-8, else byte position, byte
--   charset.decode(s, encoding)    -> UTF-8 string | nil, position, byte (bytes the encoding
--                                     does not define); encoding "latin1" | "windows-1252"
--   charset.sanitize(s)            -> s with each invalid byte replaced by U+FFFD
--   charset.normalize_name(name)   -> "utf-8" | "latin1" | "windows-1252" | nil
--
-- Valid UTF-8 here is RFC 3629: shortest forms only, no surrogates (U+D800-DFFF), nothing
-- above U+10FFFF. Pure Lua (LuaJIT has no utf8 library); ASCII-only strings cost one find.
local charset = {}

local byte, char, find, sub, concat = string.byte, string.char, string.find, string.sub, table.concat

local NAMES = {
  ["utf-8"] = "utf-8", utf8 = "utf-8",
  latin1 = "latin1", ["latin-1"] = "latin1", ["iso-8859-1"] = "latin1", iso88591 = "latin1",
  ["iso8859-1"] = "latin1",
  ["windows-1252"] = "windows-1252", cp1252 = "windows-1252", windows1252 = "windows-1252",
}

function charset.normalize_name(name)
  if type(name) ~= "string" then return nil end
  return NAMES[name:lower()]
end

-- length of the valid sequence starting at i, or nil
local function seq_len(s, i, n)
  local c = byte(s, i)
  if c < 0x80 then return 1 end
  if c < 0xC2 or c > 0xF4 then return nil end
  local c2 = byte(s, i + 1)
  if not c2 or c2 < 0x80 or c2 > 0xBF then return nil end
  if c < 0xE0 then return 2 end
  if c == 0xE0 and c2 < 0xA0 then return nil end       -- overlong
  if c == 0xED and c2 > 0x9F then return nil end       -- surrogates
  if c == 0xF0 and c2 < 0x90 then return nil end       -- overlong
  if c == 0xF4 and c2 > 0x8F then return nil end       -- above U+10FFFF
  if i + 2 > n then return nil end
  local c3 = byte(s, i + 2)
  if c3 < 0x80 or c3 > 0xBF then return nil end
  if c < 0xF0 then return 3 end
  if i + 3 > n then return nil end
  local c4 = byte(s, i + 3)
  if c4 < 0x80 or c4 > 0xBF then return nil end
  return 4
end

function charset.utf8_problem(s)
  local i = find(s, "[\128-\255]")
  if not i then return nil end
  local n = #s
  while i do
    local l = seq_len(s, i, n)
    if not l then return i, byte(s, i) end
    i = find(s, "[\128-\255]", i + l)
  end
  return nil
end

function charset.sanitize(s)
  if not charset.utf8_problem(s) then return s end
  local out, n, i, len = {}, 0, 1, #s
  while i <= len do
    local j = find(s, "[\128-\255]", i) or len + 1
    if j > i then n = n + 1; out[n] = sub(s, i, j - 1) end
    if j > len then break end
    local l = seq_len(s, j, len)
    n = n + 1
    if l then
      out[n] = sub(s, j, j + l - 1)
      i = j + l
    else
      out[n] = "\239\191\189"
      i = j + 1
    end
  end
  return concat(out)
end

local floor = math.floor
local function utf8_of(cp)
  if cp < 0x800 then return char(0xC0 + floor(cp / 64), 0x80 + cp % 64) end
  return char(0xE0 + floor(cp / 4096), 0x80 + floor(cp / 64) % 64, 0x80 + cp % 64)
end

-- windows-1252 0x80-0x9F (nil: undefined in that encoding)
local CP1252 = {
  [0x80] = 0x20AC, [0x82] = 0x201A, [0x83] = 0x0192, [0x84] = 0x201E, [0x85] = 0x2026,
  [0x86] = 0x2020, [0x87] = 0x2021, [0x88] = 0x02C6, [0x89] = 0x2030, [0x8A] = 0x0160,
  [0x8B] = 0x2039, [0x8C] = 0x0152, [0x8E] = 0x017D, [0x91] = 0x2018, [0x92] = 0x2019,
  [0x93] = 0x201C, [0x94] = 0x201D, [0x95] = 0x2022, [0x96] = 0x2013, [0x97] = 0x2014,
  [0x98] = 0x02DC, [0x99] = 0x2122, [0x9A] = 0x0161, [0x9B] = 0x203A, [0x9C] = 0x0153,
  [0x9E] = 0x017E, [0x9F] = 0x0178,
}

local TABLES = { latin1 = {}, ["windows-1252"] = {} }
for b = 0x80, 0xFF do
  TABLES.latin1[char(b)] = utf8_of(b)
  local cp = b >= 0xA0 and b or CP1252[b]
  if cp then TABLES["windows-1252"][char(b)] = utf8_of(cp) end
end

function charset.decode(s, encoding)
  local t = TABLES[encoding]
  if not t then
    if encoding == "utf-8" then
      local pos, b = charset.utf8_problem(s)
      if pos then return nil, pos, b end
      return s
    end
    error("charset.decode: unknown encoding " .. tostring(encoding), 2)
  end
  if not find(s, "[\128-\255]") then return s end
  local bad
  local out = s:gsub("[\128-\255]", function(c)
    local u = t[c]
    if not u and not bad then bad = c end
    return u
  end)
  if bad then
    local pos = find(s, bad, 1, true)
    return nil, pos, byte(bad)
  end
  return out
end

return charset
