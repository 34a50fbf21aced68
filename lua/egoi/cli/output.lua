-- egoi.cli.output - human tables, JSON documents and error lines for the `egoi` command.
local cjson = require("cjson").new()
local charset = require "egoi.charset"
local v3json = require "egoi.v3.json"

local output = {}

local type, tostring, pairs, ipairs, next, setmetatable, getmetatable =
  type, tostring, pairs, ipairs, next, setmetatable, getmetatable
local concat, sort = table.concat, table.sort

cjson.encode_sparse_array(true)

--- Mark t as a JSON array (so an empty one prints [] rather than {}); returns t. The mark is
-- egoi.v3.json's, which v3 answers carry on their empty arrays.
function output.array(t)
  return v3json.array(t)
end

-- written where an empty array goes, then replaced by [] in the text (cjson 2.1.0 writes every
-- empty table as {}); a control character, a word and a control character: no answer's string
local EMPTY = "\1egoi-empty-array\1"
local EMPTY_JSON = cjson.encode(EMPTY)
local EMPTY_PATTERN = EMPTY_JSON:gsub("%p", "%%%0")

-- the document with every string (keys too) valid UTF-8 (invalid bytes become U+FFFD) and
-- every marked empty array the placeholder; st.empty counts those
local function clean(v, depth, st)
  if type(v) == "string" then return charset.sanitize(v) end
  if type(v) ~= "table" or depth > 100 then return v end
  if v3json.is_array(v) and next(v) == nil then
    st.empty = st.empty + 1
    return EMPTY
  end
  local out = {}
  for k, x in pairs(v) do out[clean(k, depth + 1, st)] = clean(x, depth + 1, st) end
  return setmetatable(out, getmetatable(v))
end

--- One JSON document (a line) on `out` (default io.stdout); never invalid UTF-8, whatever
-- the service sent; an empty array (output.array, or one of a v3 answer) is [], an empty
-- object {}.
function output.json(doc, out)
  out = out or io.stdout
  local st = { empty = 0 }
  local text = cjson.encode(clean(doc, 0, st))
  if st.empty > 0 then text = text:gsub(EMPTY_PATTERN, "[]") end
  out:write(text, "\n")
end

-- display width of a UTF-8 string (code points; good enough for names)
local function width(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

local function text(v)
  if v == nil then return "" end
  if type(v) == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = text(v[i]) end
    return concat(parts, ",")
  end
  return (tostring(v):gsub("[\r\n\t]", " "))
end

--- A table: `columns` = { { key =, title = }, … }, rows = array of records.
function output.table(columns, rows, out)
  out = out or io.stdout
  local w = {}
  for i, c in ipairs(columns) do w[i] = width(c.title) end
  local cells = {}
  for r, row in ipairs(rows) do
    cells[r] = {}
    for i, c in ipairs(columns) do
      local v = text(row[c.key])
      cells[r][i] = v
      if width(v) > w[i] then w[i] = width(v) end
    end
  end
  local function line(vals)
    local parts = {}
    for i, v in ipairs(vals) do
      parts[i] = i < #vals and (v .. (" "):rep(w[i] - width(v))) or v
    end
    out:write(concat(parts, "  "), "\n")
  end
  local titles = {}
  for i, c in ipairs(columns) do titles[i] = c.title end
  line(titles)
  for _, vals in ipairs(cells) do line(vals) end
end

--- key: value lines for a flat or nested result, keys sorted.
function output.tree(v, out, indent)
  out = out or io.stdout
  indent = indent or ""
  if type(v) ~= "table" then
    out:write(indent, text(v), "\n")
    return
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  if #keys == 0 then out:write(indent, "(empty)\n") end
  for _, k in ipairs(keys) do
    local x = v[k]
    local label = type(k) == "number" and ("[" .. k .. "]") or tostring(k)
    if type(x) == "table" and next(x) ~= nil then
      out:write(indent, label, ":\n")
      output.tree(x, out, indent .. "  ")
    else
      out:write(indent, label, ": ", type(x) == "table" and "" or text(x), "\n")
    end
  end
end

--- `egoi: CODE: message` on stderr.
function output.error(code, message, hint)
  io.stderr:write("egoi: ", tostring(code), ": ", tostring(message), "\n")
  if hint then io.stderr:write("egoi: hint: ", hint, "\n") end
end

--- Human-readable byte count.
function output.bytes(n)
  if n >= 1024 * 1024 then return ("%.1f MB"):format(n / 1048576) end
  if n >= 1024 then return ("%.1f kB"):format(n / 1024) end
  return ("%d B"):format(n)
end

--- Human-readable duration.
function output.duration(s)
  s = math.floor(s + 0.5)
  local floor = math.floor
  if s >= 3600 then return ("%dh%02dm"):format(floor(s / 3600), floor((s % 3600) / 60)) end
  if s >= 60 then return ("%dm%02ds"):format(floor(s / 60), s % 60) end
  return ("%ds"):format(s)
end

return output
