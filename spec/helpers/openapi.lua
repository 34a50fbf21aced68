-- spec/helpers/openapi.lua - validate JSON values against an OpenAPI 3.0 document.
-- A JSON-schema subset: type, properties, required, additionalProperties (false), items,
-- enum, nullable, allOf/oneOf/anyOf, $ref, format (date, date-time, email), pattern (a
-- small ECMA regex subset: literals, ., [classes], \d \w \s, (groups), ? * + {m,n}, ^ $),
-- minimum/maximum, minItems/maxItems, minLength/maxLength. Values come from
-- egoi.sandbox.v3.json, which keeps [] and {} apart.
--
--   local openapi = require "helpers.openapi"
--   local doc = openapi.load("spec/data/v3-openapi.json")
--   local ok, err = doc:response("GET", "/lists/1", 200, body)   -- body decoded or nil (204)
--   local ok, err = doc:request("POST", "/lists", body)   -- oneOf read as anyOf (see below)
--   local ok, err = doc:validate({ ["$ref"] = "#/components/schemas/List" }, value)
local json = require "egoi.sandbox.v3.json"

local M = {}
local Doc = {}
Doc.__index = Doc

-- regex subset ----------------------------------------------------------------

local function class_set(src, i) -- src:sub(i,i) == "[" ; returns test(c), next index
  local j, neg, items = i + 1, false, {}
  if src:sub(j, j) == "^" then neg, j = true, j + 1 end
  local first = true
  while true do
    local c = src:sub(j, j)
    if c == "" then error("unterminated [ in " .. src) end
    if c == "]" and not first then break end
    first = false
    if c == "\\" then
      local e = src:sub(j + 1, j + 1)
      local cls = ({ d = "%d", w = "[%w_]", s = "%s" })[e]
      items[#items + 1] = cls and { pat = cls } or { lo = e, hi = e }
      j = j + 2
    elseif src:sub(j + 1, j + 1) == "-" and src:sub(j + 2, j + 2) ~= "]" and src:sub(j + 2, j + 2) ~= "" then
      items[#items + 1] = { lo = c, hi = src:sub(j + 2, j + 2) }
      j = j + 3
    else
      items[#items + 1] = { lo = c, hi = c }
      j = j + 1
    end
  end
  return function(ch)
    local hit = false
    for _, it in ipairs(items) do
      if it.pat then hit = ch:match("^" .. it.pat .. "$") ~= nil else hit = ch >= it.lo and ch <= it.hi end
      if hit then break end
    end
    return hit ~= neg
  end, j + 1
end

-- parse into a sequence of { test = fn(ch) | seq = {...}, min, max }
local function parse_regex(src)
  local pos = 1
  local function seq(stop)
    local out = { anchor_start = false, anchor_end = false }
    while pos <= #src do
      local c = src:sub(pos, pos)
      local atom
      if c == stop then pos = pos + 1; return out
      elseif c == "^" then out.anchor_start = true; pos = pos + 1
      elseif c == "$" then out.anchor_end = true; pos = pos + 1
      elseif c == "(" then pos = pos + 1; atom = { seq = seq(")") }
      elseif c == "[" then
        local t
        t, pos = class_set(src, pos)
        atom = { test = t }
      elseif c == "\\" then
        local e = src:sub(pos + 1, pos + 1)
        local cls = ({ d = "%d", w = "[%w_]", s = "%s" })[e]
        atom = { test = cls and function(ch) return ch:match("^" .. cls .. "$") ~= nil end
                         or function(ch) return ch == e end }
        pos = pos + 2
      elseif c == "." then atom = { test = function() return true end }; pos = pos + 1
      else atom = { test = function(ch) return ch == c end }; pos = pos + 1 end
      if atom then
        local q = src:sub(pos, pos)
        atom.min, atom.max = 1, 1
        if q == "?" then atom.min, atom.max, pos = 0, 1, pos + 1
        elseif q == "*" then atom.min, atom.max, pos = 0, math.huge, pos + 1
        elseif q == "+" then atom.min, atom.max, pos = 1, math.huge, pos + 1
        elseif q == "{" then
          local m, n, close = src:match("^{(%d+),?(%d*)}()", pos)
          if not m then error("bad quantifier in " .. src) end
          atom.min = tonumber(m)
          atom.max = src:sub(pos, close - 1):find(",") and (n ~= "" and tonumber(n) or math.huge) or atom.min
          pos = close
        end
        out[#out + 1] = atom
      end
    end
    if stop then error("unterminated ( in " .. src) end
    return out
  end
  return seq(nil)
end

-- match seq items k.. at s position i; returns end positions via callback (backtracking)
local function match_seq(items, k, s, i, cont)
  if k > #items then return cont(i) end
  local a = items[k]
  local function one(j, after)
    if a.seq then return match_seq(a.seq, 1, s, j, after) end
    if j <= #s and a.test(s:sub(j, j)) then return after(j + 1) end
    return false
  end
  -- greedy first: try more repetitions before fewer
  local function greedy(n, j)
    if n < a.max and one(j, function(j2) return j2 > j and greedy(n + 1, j2) end) then return true end
    return n >= a.min and match_seq(items, k + 1, s, j, cont)
  end
  return greedy(0, i)
end

function M.regex(src)
  local re = parse_regex(src)
  return function(s)
    local last = re.anchor_start and 1 or #s + 1
    for start = 1, last do
      if match_seq(re, 1, s, start, function(e) return not re.anchor_end or e == #s + 1 end) then return true end
    end
    return false
  end
end

-- schema validation ----------------------------------------------------------------

local FORMATS = {
  date = function(s) return s:match("^%d%d%d%d%-%d%d%-%d%d$") ~= nil end,
  -- RFC 3339, or E-goi's own "YYYY-MM-DD HH:MM:SS" (the spec's only example)
  ["date-time"] = function(s) return s:match("^%d%d%d%d%-%d%d%-%d%d[T ]%d%d:%d%d:%d%d") ~= nil end,
  email = function(s) return s:match("^[^@%s]+@[^@%s]+$") ~= nil end,
}

local function is_int(v) return type(v) == "number" and v == math.floor(v) and v > -2^53 and v < 2^53 end

local function typeof(v)
  if v == json.null then return "null" end
  local t = type(v)
  if t == "table" then return json.is_array(v) and "array" or "object" end
  if t == "number" then return is_int(v) and "integer" or "number" end
  return t
end

function Doc:resolve(ref)
  local node = self.data
  for part in ref:gsub("^#/", ""):gmatch("[^/]+") do
    node = node[part]
    if node == nil then error("unresolved $ref " .. ref) end
  end
  return node
end

function Doc:check(schema, v, at, errs)
  if schema == nil or schema == json.null then return end
  if schema["$ref"] then return self:check(self:resolve(schema["$ref"]), v, at, errs) end
  local n0 = #errs
  local function fail(msg) errs[#errs + 1] = (at == "" and "$" or at) .. ": " .. msg end
  if v == json.null then
    if schema.nullable then return end
    if schema.type then fail("null where " .. schema.type .. " expected") return end
  end
  local t = typeof(v)
  local want = schema.type
  local format = schema.format
  if want == "date" then want, format = "string", "date" end -- the vendor's EmailReport says type: date
  if want then
    local ok = t == want or (want == "number" and t == "integer")
    if not ok then fail(("%s where %s expected"):format(t, want)) return end
  end
  if schema.enum then
    local hit = false
    for _, e in ipairs(schema.enum) do if e == v then hit = true break end end
    if not hit then fail(("%s not in enum"):format(tostring(v))) end
  end
  if t == "string" then
    if format and FORMATS[format] and not FORMATS[format](v) then
      fail(("%q is not a %s"):format(v, format))
    end
    if schema.pattern then
      self.regexes[schema.pattern] = self.regexes[schema.pattern] or M.regex(schema.pattern)
      if not self.regexes[schema.pattern](v) then fail(("%q does not match /%s/"):format(v, schema.pattern)) end
    end
    if schema.minLength and #v < schema.minLength then fail("shorter than " .. schema.minLength) end
    if schema.maxLength and #v > schema.maxLength then fail("longer than " .. schema.maxLength) end
  elseif t == "integer" or t == "number" then
    if schema.minimum and v < schema.minimum then fail(v .. " below minimum " .. schema.minimum) end
    if schema.maximum and v > schema.maximum then fail(v .. " above maximum " .. schema.maximum) end
  elseif t == "object" then
    for _, r in ipairs(schema.required or {}) do
      if v[r] == nil then fail("missing required member " .. r) end
    end
    local props = schema.properties or {}
    for k, sub in pairs(props) do
      if v[k] ~= nil then self:check(sub, v[k], at .. "." .. k, errs) end
    end
    if schema.additionalProperties == false then
      for k in pairs(v) do if props[k] == nil then fail("unexpected member " .. tostring(k)) end end
    elseif type(schema.additionalProperties) == "table" then
      for k, x in pairs(v) do
        if props[k] == nil then self:check(schema.additionalProperties, x, at .. "." .. k, errs) end
      end
    end
  elseif t == "array" then
    if schema.minItems and #v < schema.minItems then fail("fewer than " .. schema.minItems .. " items") end
    if schema.maxItems and #v > schema.maxItems then fail("more than " .. schema.maxItems .. " items") end
    if schema.items then
      for i, x in ipairs(v) do self:check(schema.items, x, ("%s[%d]"):format(at, i - 1), errs) end
    end
  end
  for _, sub in ipairs(schema.allOf or {}) do self:check(sub, v, at, errs) end
  local function count(list)
    local n, notes = 0, {}
    for i, sub in ipairs(list) do
      local e = {}
      self:check(sub, v, at, e)
      if #e == 0 then n = n + 1 else notes[#notes + 1] = ("#%d: %s"):format(i, e[1]) end
    end
    return n, notes
  end
  if schema.oneOf then
    local n, notes = count(schema.oneOf)
    if n == 0 or (n > 1 and not self.lax_oneof) then
      local why = n == 0 and " [" .. table.concat(notes, "; ") .. "]" or ""
      fail(("matches %d of oneOf (want 1)%s"):format(n, why))
    end
  end
  if schema.anyOf then
    local n, notes = count(schema.anyOf)
    if n == 0 then fail("matches none of anyOf [" .. table.concat(notes, "; ") .. "]") end
  end
  return #errs == n0
end

-- validate(schema, value) -> true | false, "path: problem\n..."
function Doc:validate(schema, v)
  local errs = {}
  self:check(schema, v, "", errs)
  if #errs == 0 then return true end
  return false, table.concat(errs, "\n")
end

-- the operation for an actual path (templates {x} match one segment; literal segments win)
function Doc:operation(method, path)
  path = path:gsub("%?.*$", "")
  local best, best_score
  for tpl, ops in pairs(self.data.paths) do
    local pat = "^" .. tpl:gsub("[%-%.]", "%%%0"):gsub("{[^}]+}", "[^/]+") .. "$"
    if path:match(pat) and ops[method:lower()] then
      local _, literal = tpl:gsub("/[^{/][^/]*", "")
      if not best_score or literal > best_score then best, best_score = ops[method:lower()], literal end
    end
  end
  return best
end

function Doc:response(method, path, status, body)
  local op = self:operation(method, path)
  if not op then return false, ("%s %s is not in the document"):format(method, path) end
  local key = tostring(status)
  if op.responses[key] == nil then
    return false, ("%s %s: status %s is not documented"):format(method, path, key)
  end
  local schema = op.responses[key]
  if schema == json.null then
    if body ~= nil then return false, ("%s %s: %s has no body in the document"):format(method, path, key) end
    return true
  end
  if body == nil then return false, ("%s %s: %s needs a body"):format(method, path, key) end
  local ok, err = self:validate(schema, body)
  if not ok then return false, ("%s %s %s:\n%s"):format(method, path, key, err) end
  return true
end

-- Request bodies read oneOf as anyOf: the document's branches overlap there (send now vs
-- schedule differ only by an optional schedule_date; extra values by a read-only `format`).
function Doc:request(method, path, body)
  local op = self:operation(method, path)
  if not op then return false, ("%s %s is not in the document"):format(method, path) end
  if not op.requestBody then return true end
  self.lax_oneof = true
  local ok, err = self:validate(op.requestBody, body)
  self.lax_oneof = false
  if not ok then return false, ("request %s %s:\n%s"):format(method, path, err) end
  return true
end

function M.load(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  local data = assert(json.decode(text))
  return setmetatable({ data = data, regexes = {} }, Doc)
end

return M
