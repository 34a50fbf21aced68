-- egoi.protocol.v3 - E-goi API v3 (https://api.egoiapp.com): REST verbs and paths, the key in
-- an `Apikey` header, JSON bodies (lua-cjson, egoi.v3.json), JSON answers (core.json_decode,
-- as the client's other protocols). A method is an operation id of egoi.v3.operations
-- (options: path parameters by name, `query`, `body`) or a raw request (client:request).
--
-- Beside build/parse it has what the pipeline asks of a protocol with a catalogue and limit
-- headers of its own (doc/ARCHITECTURE.md "Protocols"): catalogue, success, limits, raw,
-- resources, business_errors = false.
local ops = require "egoi.v3.operations"
local json = require "egoi.v3.json"

local type, pairs, ipairs, tostring, tonumber, setmetatable, floor =
  type, pairs, ipairs, tostring, tonumber, setmetatable, math.floor
local concat, sort = table.concat, table.sort

local M = {
  name = "v3",
  default_url = "https://api.egoiapp.com",
  catalogue = ops,
  business_errors = false, -- v3 says everything with its status and error body
}

-- the value parse returns for an answer without a body (204): the client returns nil
M.NOTHING = setmetatable({}, { __name = "egoi.v3.nothing", __newindex = function() error("read-only", 2) end })

local VERBS = { GET = true, POST = true, PUT = true, PATCH = true, DELETE = true }

local function usage(method, message)
  return { kind = "usage", code = "INVALID_ARGUMENT", message = message, method = method }
end

local function escape(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function scalar(v)
  if type(v) == "boolean" then return v and "true" or "false" end
  if type(v) == "number" then
    if v == floor(v) and v > -2^53 and v < 2^53 then return ("%d"):format(v) end
    return ("%.17g"):format(v)
  end
  return tostring(v)
end

local SCALAR = { string = true, number = true, boolean = true }

-- a NaN or an infinity has no query form (it went out as "-nan" / "inf")
local function finite(v)
  return type(v) ~= "number" or (v == v and v ~= math.huge and v ~= -math.huge)
end

-- style=form, explode=true: k=v, an array repeats k, a table value k[sub]=v; sorted keys
local function query_string(method, q)
  local keys = {}
  for k in pairs(q) do
    if type(k) ~= "string" then return nil, usage(method, method .. ": query keys must be strings") end
    keys[#keys + 1] = k
  end
  sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = q[k]
    local tv = type(v)
    if tv == "table" then
      for sk, x in pairs(v) do
        if not SCALAR[type(x)] or not SCALAR[type(sk)] or not finite(x) then
          return nil, usage(method, ("%s: query value '%s' must hold strings, numbers or booleans, got %s"):format(
            method, k, not SCALAR[type(sk)] and (type(sk) .. " key") or finite(x) and type(x) or tostring(x)))
        end
      end
      if v[1] ~= nil or json.is_array(v) then
        for _, x in ipairs(v) do parts[#parts + 1] = escape(k) .. "=" .. escape(scalar(x)) end
      else
        local sub = {}
        for sk in pairs(v) do sub[#sub + 1] = tostring(sk) end
        sort(sub)
        for _, sk in ipairs(sub) do
          local x = v[sk] == nil and v[tonumber(sk)] or v[sk]
          parts[#parts + 1] = escape(k) .. "%5B" .. escape(sk) .. "%5D=" .. escape(scalar(x))
        end
      end
    elseif (tv == "string" or tv == "number" or tv == "boolean") and finite(v) then
      parts[#parts + 1] = escape(k) .. "=" .. escape(scalar(v))
    else
      return nil, usage(method, ("%s: query value '%s' must be a string, finite number, boolean or table, got %s")
        :format(method, k, tv == "number" and tostring(v) or tv))
    end
  end
  return concat(parts, "&")
end

-- headers per client context (the key is read once through ctx.arguments)
local header_cache = setmetatable({}, { __mode = "k" })
local function headers_for(ctx, with_body)
  local h = header_cache[ctx]
  if not h then
    local a = ctx.arguments({})
    -- they go out as header values: a CR, LF or NUL would make the transport raise (or split
    -- the head); refuse before any I/O, naming the option, never its value
    for _, name in ipairs{ "apikey", "plugin_key" } do
      if type(a[name]) == "string" and a[name]:find("[%c]") then
        return nil, ("option '%s' holds a control character (CR, LF, NUL, ...): it cannot be sent"
          .. " in a v3 header"):format(name)
      end
    end
    local base = { Apikey = a.apikey, Accept = "application/json", PluginKey = a.plugin_key }
    local body = { ["Content-Type"] = "application/json" }
    for k, v in pairs(base) do body[k] = v end
    h = { base, body }
    header_cache[ctx] = h
  end
  return with_body and h[2] or h[1]
end

local function expand(entry, options)
  local missing
  local path = entry.path:gsub("{([%w_]+)}", function(p)
    local v = options[p]
    if type(v) == "number" and v == floor(v) and v >= 1 and v < 2 ^ 53 then return ("%d"):format(v) end
    -- "." and ".." are dot segments: an HTTP client or the server folds them away, and
    -- DELETE /lists/7/segments/.. would reach /lists/7/ (the list itself)
    if type(v) == "string" and v ~= "" and v ~= "." and v ~= ".." then return escape(v) end
    missing = missing or p
    return ""
  end)
  if missing then
    return nil, usage(entry.name, ("%s: argument '%s' is required (a positive integer below 2^53, or a"
      .. " non-empty string other than '.' and '..')"):format(entry.name, missing))
  end
  return path
end

function M.build(ctx, method, options, entry)
  if not entry then
    -- not an operation of the v3 catalogue: a v2 name (with the way over v3) or unknown
    local err = ops.unknown(method)
    return nil, { kind = err.kind, code = err.code, message = err.message }
  end
  local path, err = entry.raw_path
  if not path then
    path, err = expand(entry, options)
    if not path then return nil, err end
  end
  local url = ctx.url:gsub("/+$", "") .. path
  local q = options.query
  if q ~= nil then
    if type(q) ~= "table" then return nil, usage(method, method .. ": argument 'query' must be a table") end
    local qs
    qs, err = query_string(method, q)
    if not qs then return nil, err end
    if qs ~= "" then url = url .. (url:find("?", 1, true) and "&" or "?") .. qs end
  end
  local body = options.body
  if body ~= nil then
    if entry.verb == "GET" or entry.verb == "DELETE" then
      return nil, usage(method, ("%s: a %s request takes no body"):format(method, entry.verb))
    end
    if type(body) ~= "table" then
      return nil, usage(method, method .. ": argument 'body' must be a table (it is sent as JSON)")
    end
    local s, why = json.encode(body)
    if not s then
      return nil, usage(method, method .. ": cannot encode the body as JSON: " .. ctx.scrub(why))
    end
    body = s
  end
  local headers, why = headers_for(ctx, body ~= nil)
  if not headers then return nil, usage(method, method .. ": " .. why) end
  return { verb = entry.verb, url = url, headers = headers, body = body }
end

--- raw(verb, path, opts) -> method, options, entry | nil, errfields (client:request)
function M.raw(verb, path, opts)
  local where = "request"
  if type(verb) ~= "string" or not VERBS[verb:upper()] then
    return nil, usage(nil, where .. ": argument 'verb' must be GET, POST, PUT, PATCH or DELETE")
  end
  verb = verb:upper()
  if type(path) ~= "string" or path:sub(1, 1) ~= "/" or path:find("[%s%c]") then
    return nil, usage(nil, where .. ": argument 'path' must be a path starting with '/' (no spaces)")
  end
  for seg in path:gsub("[?#].*$", ""):gmatch("[^/]+") do
    if seg == "." or seg == ".." then
      -- folded away on the way: the call would reach another resource than the one named
      return nil, usage(nil, where .. ": argument 'path' must not hold '.' or '..' segments")
    end
  end
  if opts ~= nil and type(opts) ~= "table" then
    return nil, usage(nil, where .. ": argument 'opts' must be a table or nil")
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "query" and k ~= "body" then
      return nil, usage(nil, ("%s: unknown option '%s' (known: body, query)"):format(where, tostring(k)))
    end
  end
  local method = verb .. " " .. path:gsub("%?.*$", "")
  return method, { query = opts.query, body = opts.body },
    { name = method, verb = verb, path = path, raw_path = path, params = {}, read_only = verb == "GET" }
end

--- success(status): any 2xx
function M.success(status)
  return status >= 200 and status < 300
end

-- stable upper-case codes per status (the titles vary: "NotFound", "Payload Too Large")
local CODES = {
  [400] = "BAD_REQUEST", [401] = "UNAUTHORIZED", [403] = "FORBIDDEN", [404] = "NOT_FOUND",
  [405] = "METHOD_NOT_ALLOWED", [408] = "REQUEST_TIMEOUT", [409] = "CONFLICT",
  [413] = "REQUEST_ENTITY_TOO_LARGE", [422] = "UNPROCESSABLE_ENTITY", [429] = "TOO_MANY_REQUESTS",
  [500] = "INTERNAL_SERVER_ERROR", [503] = "SERVICE_UNAVAILABLE",
}
M.CODES = CODES

local function code_of(status, title)
  local c = CODES[status]
  if c then return c end
  if type(title) == "string" and title ~= "" then
    c = title:gsub("(%l)(%u)", "%1_%2"):upper():gsub("[^%w]+", "_"):gsub("^_+", ""):gsub("_+$", "")
    if c ~= "" then return c end
  end
  return "HTTP_" .. status
end

-- scrub every string of a decoded error body, keys too (the `errors` map's names go into the
-- message): the key never leaves in an error
local function scrubbed(ctx, v, depth)
  if type(v) == "string" then return ctx.scrub(v) end
  if type(v) ~= "table" or depth > 20 then return v end
  local out = {}
  for k, x in pairs(v) do out[type(k) == "string" and ctx.scrub(k) or k] = scrubbed(ctx, x, depth + 1) end
  return out
end

function M.parse(ctx, response)
  local status, body = response.status, response.body
  local ok = M.success(status)
  if ok and (status == 204 or body == nil or body:match("^%s*$")) then return M.NOTHING end
  local doc, code, why
  if body ~= nil and not body:match("^%s*$") then
    doc, code, why = json.decode(ctx.json_decode, body) -- (its empty arrays marked: json.is_array)
  end
  if ok then
    if doc == nil then
      return nil, { kind = "protocol", code = code or "MALFORMED_JSON", http_status = status,
        message = ("the server's answer is not valid JSON (%s): %s"):format(tostring(why), ctx.snippet(body)) }
    end
    return doc
  end
  -- an error answer: {type, title, status, detail[, errors | validation_messages]}
  if type(doc) ~= "table" or (doc.title == nil and doc.detail == nil) then
    return nil, { kind = "http", code = "HTTP_ERROR", http_status = status,
      message = ("HTTP %d from the server: %s"):format(status, ctx.snippet(body)) }
  end
  local detail = scrubbed(ctx, doc, 0)
  if detail.errors == nil and type(detail.validation_messages) == "table" then
    detail.errors = detail.validation_messages -- the name E-goi's own PHP client reads on 422
  end
  local title = type(detail.title) == "string" and detail.title or nil
  local text = type(detail.detail) == "string" and detail.detail or nil
  local message = ("HTTP %d %s%s"):format(status, title or "", text and (": " .. text) or "")
  if status == 413 then
    message = message .. " (the body is over the service's size cap, 20 MB; split it into smaller requests"
      .. " and send them: the client never splits or re-sends a write itself)"
  end
  if type(detail.errors) == "table" then
    local keys = {}
    for k in pairs(detail.errors) do keys[#keys + 1] = tostring(k) end
    sort(keys)
    if #keys > 0 then message = message .. " [" .. concat(keys, ", ") .. "]" end
  end
  return nil, { kind = (status >= 400 and status < 500) and "api" or "http", code = code_of(status, title),
    http_status = status, message = message, detail = detail, answered = true }
end

-- X-RateLimit-* and X-Account-* of an answer -> the windows the client's limiter follows:
-- { { remaining =, reset =, limit =, budget = bool }, ... } or nil. The account window is the
-- budget (the local window is aligned to it); the short rate window only blocks at 0.
local function window(h, prefix, budget)
  local rem = tonumber(h[prefix .. "remaining"])
  if rem == nil then return nil end
  local reset = tonumber(h[prefix .. "reset"]) or 0
  if reset < 0 then reset = 0 end
  return { remaining = rem, reset = reset, limit = tonumber(h[prefix .. "limit"]), budget = budget,
    name = prefix:sub(3, -2) }
end

function M.limits(headers)
  if type(headers) ~= "table" then return nil end
  local out = {}
  out[#out + 1] = window(headers, "x-account-", true)
  out[#out + 1] = window(headers, "x-ratelimit-", false)
  return out[1] and out or nil
end

--- resources: the v3 resource tables (egoi.v3.resources), attached instead of v2's
function M.resources()
  return require "egoi.v3.resources"
end

return M
