-- egoi.check - argument checks at the public boundary: unknown names (with the closest known
-- name as a hint) and value kinds (ids, counts, text, flags, lists). Pure functions, no I/O;
-- they return a message (or nil when all is well) and leave raising or returning to the caller,
-- which knows the client's error mode.
local type, pairs, ipairs, tostring, tonumber, setmetatable, error =
  type, pairs, ipairs, tostring, tonumber, setmetatable, error
local floor, huge, min = math.floor, math.huge, math.min
local concat, sort = table.concat, table.sort

local check = {}

---------------------------------------------------------------------------
-- names

-- Optimal string alignment distance (Levenshtein plus adjacent swaps), case-insensitive.
local function distance(a, b)
  a, b = a:lower(), b:lower()
  local la, lb = #a, #b
  if a == b then return 0 end
  if la == 0 then return lb end
  if lb == 0 then return la end
  local prev2, prev, cur = {}, {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur[0] = i
    local ca = a:byte(i)
    for j = 1, lb do
      local cb = b:byte(j)
      local cost = ca == cb and 0 or 1
      local d = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if i > 1 and j > 1 and ca == b:byte(j - 1) and a:byte(i - 1) == cb then
        d = min(d, prev2[j - 2] + 1)
      end
      cur[j] = d
    end
    prev2, prev, cur = prev, cur, prev2
  end
  return prev[lb]
end
check.distance = distance

--- The known name closest to `name` (nil when none is close enough to be a likely typo).
function check.closest(name, names)
  if type(name) ~= "string" then return nil end
  local limit = #name <= 3 and 1 or 2
  local best, bestd
  for _, n in ipairs(names) do
    local d = distance(name, n)
    if d <= limit and (bestd == nil or d < bestd or (d == bestd and n < best)) then
      best, bestd = n, d
    end
  end
  return best
end

local sets = setmetatable({}, { __mode = "k" })
local function set_of(names)
  local s = sets[names]
  if not s then
    s = {}
    for _, n in ipairs(names) do s[n] = true end
    sets[names] = s
  end
  return s
end
check.set_of = set_of

-- "unknown <what> 'x' (did you mean 'y'?)", names prefixed (e.g. "rate_limit.")
local function unknown_message(what, name, names, prefix)
  prefix = prefix or ""
  local s = ("unknown %s '%s%s'"):format(what, prefix, tostring(name))
  local best = check.closest(name, names)
  if best then
    s = s .. (" (did you mean '%s%s'?)"):format(prefix, best)
  elseif #names <= 12 then
    local sorted = {}
    for i, n in ipairs(names) do sorted[i] = prefix .. n end
    sort(sorted)
    s = s .. (#sorted > 0 and (" (known: " .. concat(sorted, ", ") .. ")") or " (it takes none)")
  end
  return s
end
check.unknown_message = unknown_message

--- nil when every key of `t` is a string listed in `names` (or matches a key of `patterns`,
-- a map of Lua patterns); else a message "unknown option 'x' (did you mean 'y'?)". Keys are visited in
-- sorted order so that the message is deterministic.
function check.names(t, names, what, prefix, patterns)
  local known = set_of(names)
  local bad
  for k in pairs(t) do
    if type(k) ~= "string" then
      return ("%s names must be strings, got %s key %s"):format(what, type(k), tostring(k))
    end
    if not known[k] then
      local ok = false
      for p in pairs(patterns or {}) do
        if k:match(p) then ok = true break end
      end
      if not ok and (bad == nil or k < bad) then bad = k end
    end
  end
  if bad then return unknown_message(what, bad, names, prefix) end
  return nil
end

---------------------------------------------------------------------------
-- values

--- A short, safe description of a value for messages: `true`, `-3`, `"abc"`, `a table`.
function check.show(v)
  local t = type(v)
  if t == "string" then
    if #v > 40 then v = v:sub(1, 40) .. "..." end
    return (("%q"):format(v):gsub("\\\n", "\\n"))
  elseif t == "number" or t == "boolean" or t == "nil" then
    return tostring(v)
  end
  return "a " .. t
end

local function is_int(v)
  return type(v) == "number" and v == v and v ~= huge and v ~= -huge and v == floor(v)
end

-- integer value of a number or a string of digits (nil otherwise)
local function int_of(v)
  if is_int(v) then return v end
  if type(v) == "string" and v:match("^%d+$") and #v <= 15 then return tonumber(v) end
  return nil
end

local function is_text(v)
  local t = type(v)
  return t == "string" or (t == "number" and v == v and v ~= huge and v ~= -huge)
end

-- A list as the service sees it: a Lua array, or a table whose keys are all non-negative
-- integers or strings of digits (PHP reads `tags[0]=1&tags[1]=2` as a list either way; the
-- CLI's `egoi call ... tags.1=5` builds such a table).
local function is_array(v)
  if type(v) ~= "table" then return false end
  for k in pairs(v) do
    if not ((is_int(k) and k >= 0) or (type(k) == "string" and k:match("^%d+$"))) then return false end
  end
  return true
end

local function is_id(v)
  local n = int_of(v)
  return n ~= nil and n >= 1 and n < 2 ^ 53
end

local function all(v, pred)
  if not is_array(v) then return false end
  for _, x in pairs(v) do
    if not pred(x) then return false end
  end
  return true
end

-- kind -> { test, description }
local KINDS = {
  any = { function() return true end, "anything" },
  id = { is_id, "a positive integer id (a number or a string of digits)" },
  count = { function(v) local n = int_of(v) return n ~= nil and n >= 0 end,
    "a non-negative integer" },
  positive = { function(v) local n = int_of(v) return n ~= nil and n >= 1 end,
    "a positive integer" },
  text = { is_text, "a string" },
  flag = { function(v) return v == true or v == false or v == 0 or v == 1 or v == "0" or v == "1" end,
    "a flag (true/false, 0/1 or \"0\"/\"1\")" },
  ids = { function(v) return all(v, is_id) end, "a list of positive integer ids" },
  texts = { function(v) return all(v, is_text) end, "a list of strings" },
  text_or_texts = { function(v) return is_text(v) or all(v, is_text) end,
    "a string or a list of strings" },
  rows = { function(v) return all(v, function(r) return type(r) == "table" end) end,
    "a list of tables (one per subscriber)" },
  segment = { function(v)
      return is_id(v) or (type(v) == "string" and v:lower() == "all") or all(v, is_id)
    end, "a segment id, \"ALL\" or a list of segment ids" },
}
check.KINDS = KINDS

-- {"range", lo, hi}: an integer lo..hi (number or digit string)
local function range_test(spec, v)
  local n = int_of(v)
  return n ~= nil and n >= spec[2] and n <= spec[3]
end

--- nil when `v` is of kind `spec` ("id", "text", ..., or { "range", lo, hi }); else a
-- phrase "must be <what>, got <value>".
function check.value(spec, v)
  local ok, what
  if type(spec) == "table" then
    ok = range_test(spec, v)
    local vals = {}
    for i = spec[2], spec[3] do vals[#vals + 1] = tostring(i) end
    what = "one of " .. concat(vals, ", ")
  else
    local k = KINDS[spec]
    if not k then error("check.value: unknown kind " .. tostring(spec), 2) end
    ok, what = k[1](v), k[2]
  end
  if ok then return nil end
  return ("must be %s, got %s"):format(what, check.show(v))
end

--- Check every present argument of `t` that `types` (name -> kind) names. Keys are visited in
-- sorted order. Returns nil or "argument 'x' must be ..., got ...".
function check.values(t, types, patterns)
  local keys = {}
  for k in pairs(t) do
    if type(k) == "string" then keys[#keys + 1] = k end
  end
  sort(keys)
  for _, k in ipairs(keys) do
    local spec = types[k]
    if spec == nil and patterns then
      for p, s in pairs(patterns) do
        if k:match(p) then spec = s break end
      end
    end
    if spec ~= nil then
      local why = check.value(spec, t[k])
      if why then return ("argument '%s' %s"):format(k, why) end
    end
  end
  return nil
end

check.is_array = is_array

return check
