-- egoi.client - one E-goi API client: options, the call pipeline
-- (arguments -> limiter -> encode -> transport -> decode -> errors), retries.
--
-- Public surface (documented in README.md):
--   client:call(method, options)    raw call of any method
--   client:invoke(method, args)     catalogue call (aliases, required args)
--   client:rate_limit_status()      { used, remaining, reset_in } or nil
--   client:close()                  idempotent; also __gc / __close
--   client.<resource>:<method>(args)
local core = require "egoi.core"
local errors = require "egoi.errors"
local methods = require "egoi.methods"
local resources = require "egoi.resources"

local type, pairs, next, pcall, tostring, tonumber, setmetatable, error, select =
  type, pairs, next, pcall, tostring, tonumber, setmetatable, error, select
local floor, min, random = math.floor, math.min, math.random
local json_decode, normalize = core.json_decode, core.normalize

-- json_decoder = "cjson": lua-cjson (a private instance) then normalize, the same contract as
-- core.json_decode: doc | nil, code, message
local cjson
local function cjson_decode(body)
  if not cjson then
    cjson = require("cjson").new()
    cjson.decode_max_depth(1000)
  end
  local ok, doc = pcall(cjson.decode, body)
  if not ok then return nil, "MALFORMED_JSON", tostring(doc) end
  return normalize(doc)
end

local VERSION = core._VERSION

local DEFAULT_URL = {
  rest = "https://api.e-goi.com/v2/rest.php",
  xmlrpc = "https://api.e-goi.com/v2/xmlrpc.php",
}
local CONTENT_TYPE = {
  rest = "application/x-www-form-urlencoded",
  xmlrpc = "text/xml",
}

-- The API key is kept out of the client table (so pairs(), inspectors and
-- serialisers never see it): a weak table keyed by the client.
local secrets = setmetatable({}, { __mode = "k" })

local Client = {}
Client.__index = Client

local function usage(code, message, method)
  return errors.new{ kind = "usage", code = code, message = message, method = method }
end

-- Replace any occurrence of the key in text that came from outside
-- (server bodies, fault strings, libcurl messages).
local function scrub(self, text)
  local key = secrets[self]
  if type(text) ~= "string" or not key or key == "" then return text end
  return (text:gsub(key:gsub("%p", "%%%0"), "<apikey>"))
end

local function snippet(self, body)
  body = scrub(self, body or "")
  if #body > 200 then body = body:sub(1, 200) .. "..." end
  return (body:gsub("[%c]", " "))
end

---------------------------------------------------------------------------
-- option checking

local function check_number(opts, name, default, allow_zero)
  local v = opts[name]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v < 0 or (v == 0 and not allow_zero) then
    error(usage("INVALID_ARGUMENT", ("egoi.new: option '%s' must be a %s number"):format(
      name, allow_zero and "non-negative" or "positive")), 0)
  end
  return v
end

local function check_type(opts, name, want)
  local v = opts[name]
  if v ~= nil and type(v) ~= want then
    error(usage("INVALID_ARGUMENT", ("egoi.new: option '%s' must be a %s"):format(name, want)), 0)
  end
  return v
end

local function default_state_file(apikey)
  local dir = os.getenv("XDG_RUNTIME_DIR")
  if not dir or dir == "" then dir = "/tmp" end
  return ("%s/egoi-ratelimit-%s.bin"):format(dir, core.key_id(apikey))
end

local function make_limiter(rl, apikey)
  if rl == false then return nil end
  if rl == nil or rl == true then rl = {} end
  if type(rl) ~= "table" then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'rate_limit' must be false or a table"), 0)
  end
  local calls = rl.calls == nil and 150 or rl.calls
  local window = rl.window == nil and 3600 or rl.window
  if type(calls) ~= "number" or calls < 1 or floor(calls) ~= calls then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'rate_limit.calls' must be a positive integer"), 0)
  end
  if type(window) ~= "number" or window ~= window or window <= 0 then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'rate_limit.window' must be a positive number"), 0)
  end
  if rl.max_wait ~= nil and (type(rl.max_wait) ~= "number" or rl.max_wait < 0) then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'rate_limit.max_wait' must be a non-negative number"), 0)
  end
  if rl.on_wait ~= nil and type(rl.on_wait) ~= "function" then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'rate_limit.on_wait' must be a function"), 0)
  end
  local path = rl.state_file
  if path == nil then
    path = default_state_file(apikey)
  elseif path == false then
    path = nil
  elseif type(path) ~= "string" then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'rate_limit.state_file' must be a path or false"), 0)
  end
  local lim = rl.limiter -- an injected limiter object (same methods as core.ratelimit)
  if lim == nil and rl.shdict ~= nil then
    -- nginx: one window shared by every worker through ngx.shared[dict]
    lim = require("egoi.limiter.shdict").new{ dict = rl.shdict, calls = calls, window = window,
      key = core.key_id(apikey) }
  elseif lim == nil then
    lim = core.ratelimit{ calls = calls, window = window, path = path }
  end
  return {
    lim = lim,
    calls = calls,
    window = window,
    path = path,
    wait = rl.wait ~= false,
    max_wait = rl.max_wait,
    on_wait = rl.on_wait,
  }
end

---------------------------------------------------------------------------
-- construction

local M = {}

function M.new(opts)
  if type(opts) ~= "table" then
    error(usage("INVALID_ARGUMENT", "egoi.new: expected an options table, got " .. type(opts)), 0)
  end
  local apikey = opts.apikey
  if type(apikey) ~= "string" or apikey == "" then
    error(usage("NO_APIKEY", "egoi.new: option 'apikey' is required and must be a non-empty string"), 0)
  end
  local protocol = opts.protocol or "rest"
  if protocol ~= "rest" and protocol ~= "xmlrpc" then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'protocol' must be \"rest\" or \"xmlrpc\""), 0)
  end
  local url = check_type(opts, "url", "string") or DEFAULT_URL[protocol]
  if opts.url then url = require("egoi.endpoint").resolve(url, protocol) or url end -- bare http://host:port
  local timeout = check_number(opts, "timeout", 30)
  local connect_timeout = check_number(opts, "connect_timeout", 10)
  local retries = check_number(opts, "retries", 2, true)
  if floor(retries) ~= retries then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'retries' must be an integer"), 0)
  end
  local backoff = check_number(opts, "backoff", 0.5)
  local backoff_cap = check_number(opts, "backoff_cap", 8)
  check_type(opts, "app", "string")
  check_type(opts, "ca_file", "string")
  check_type(opts, "proxy", "string")
  check_type(opts, "plugin_key", "string")
  local decoder = opts.json_decoder or "egoi"
  if decoder ~= "egoi" and decoder ~= "cjson" then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'json_decoder' must be \"egoi\" or \"cjson\""), 0)
  end
  local clock = check_type(opts, "clock", "function") or core.now
  local sleep = check_type(opts, "sleep", "function") or core.sleep
  local log = check_type(opts, "log", "function") or function(level, msg)
    io.stderr:write("egoi: ", level, ": ", msg, "\n")
  end

  local transport = opts.transport
  if transport == nil then
    -- Inside nginx request phases where cosockets work, a blocking libcurl
    -- call would freeze the worker: pick the cosocket transport there.
    -- (even a client built in init_by_lua: its requests are checked per
    -- phase and refused with UNSUPPORTED_PHASE where cosockets don't work).
    local ngx = rawget(_G, "ngx")
    if ngx and type(ngx.get_phase) == "function" then
      transport = "resty"
    end
  end
  if transport == "resty" then
    local resty = require "egoi.transport.resty"
    clock = opts.clock or resty.clock
    sleep = opts.sleep or resty.sleep
  end
  local ua
  if transport == "resty" then
    local ngx = rawget(_G, "ngx")
    ua = ("lua-egoi/%s ngx_lua/%s"):format(VERSION, tostring(ngx and ngx.config and ngx.config.ngx_lua_version))
  else
    ua = ("lua-egoi/%s libcurl/%s"):format(VERSION, select(2, core.curl_version()))
  end
  if opts.app then ua = ua .. " " .. opts.app end

  local native_body = false -- the C transport sends a core.form_buffer in place
  if transport == nil or transport == "curl" then
    native_body = true
    transport = require("egoi.transport.curl").new{
      timeout = timeout, connect_timeout = connect_timeout,
      verify_tls = opts.verify_tls ~= false, ca_file = opts.ca_file,
      proxy = opts.proxy, user_agent = ua, keepalive = opts.keepalive ~= false,
      max_response = opts.max_response,
    }
  elseif transport == "resty" then
    transport = require("egoi.transport.resty").new{
      timeout = timeout, connect_timeout = connect_timeout,
      verify_tls = opts.verify_tls ~= false, ca_file = opts.ca_file,
      user_agent = ua, keepalive = opts.keepalive ~= false,
      max_response = opts.max_response,
    }
  elseif type(transport) ~= "table" and type(transport) ~= "userdata" then
    error(usage("INVALID_ARGUMENT",
      "egoi.new: option 'transport' must be \"curl\", \"resty\" or a transport object"), 0)
  end

  local self = setmetatable({
    protocol = protocol,
    url = url,
    timeout = timeout,
    retries = retries,
    raise = opts.raise ~= false,
    _backoff = backoff,
    _backoff_cap = backoff_cap,
    _transport = transport,
    _native_body = native_body,
    _clock = clock,
    _sleep = sleep,
    _log = log,
    _plugin_key = opts.plugin_key,
    _json_decode = decoder == "cjson" and cjson_decode or json_decode,
    _closed = false,
  }, Client)
  secrets[self] = apikey
  self._limiter = make_limiter(opts.rate_limit, apikey)
  resources.attach(self) -- client.lists, client.subscribers, ...
  return self
end

---------------------------------------------------------------------------
-- response decoding

-- Find the result object under Egoi_Api.<method> (the key is the method as
-- called; match case-insensitively, and accept a single key of any name).
local function unwrap(doc, method)
  if type(doc) ~= "table" then return nil end
  local api = doc.Egoi_Api
  if type(api) ~= "table" then return nil end
  local inner = api[method]
  if inner == nil then
    local lname, only, n = method:lower(), nil, 0
    for k, v in pairs(api) do
      n = n + 1
      only = v
      if type(k) == "string" and k:lower() == lname then inner = v end
    end
    if inner == nil and n == 1 then inner = only end
  end
  return inner
end

local function is_code_like(s)
  return type(s) == "string" and s:match("^[A-Z][A-Z0-9_]*$") ~= nil
end

-- Business errors: ERROR at the top or at a path the method documents, or a
-- scalar `response` that is an error code.
local function find_api_error(result, entry)
  if type(result) ~= "table" then return nil end
  local e = result.ERROR
  if e ~= nil and e ~= "" then return tostring(e) end
  if entry and entry.error_paths then
    for _, path in pairs(entry.error_paths) do
      local node = result
      for part in tostring(path):gmatch("[^%.]+") do
        node = type(node) == "table" and node[part] or nil
      end
      if type(node) == "table" and node.ERROR ~= nil and node.ERROR ~= "" then
        return tostring(node.ERROR)
      end
    end
  end
  local r = result.response
  if type(r) == "string" then
    local only = true
    for k in pairs(result) do if k ~= "response" then only = false break end end
    if only and (errors.is_api_code(r) or is_code_like(r)) then
      if not (entry and entry.ok_scalars and entry.ok_scalars[r]) and r ~= "OK" then
        return r
      end
    end
  end
  return nil
end

-- Returns result | nil, err (err fields filled by the caller: method etc.)
local function decode_rest(self, status, body, method)
  if body == nil or body:match("^%s*$") then
    return {} -- an empty 200 body means "no data" (the vendor's PHP wrapper)
  end
  -- one pass: JSON -> Lua with key_N objects already folded into arrays
  local doc, code, why = self._json_decode(body)
  if doc == nil then
    return nil, { kind = "protocol", code = code,
      message = ("the server's answer is not valid JSON (%s): %s"):format(why, snippet(self, body)),
      http_status = status }
  end
  local inner = unwrap(doc, method)
  if inner == nil then
    if type(doc) ~= "table" then
      return {} -- a top-level JSON scalar: no data
    end
    return nil, { kind = "protocol", code = "UNEXPECTED_RESPONSE",
      message = "the answer has no Egoi_Api." .. method .. " object: " .. snippet(self, body),
      http_status = status }
  end
  if type(inner) ~= "table" then
    inner = { response = inner }
  end
  local st = inner.status
  if st == nil then return inner end
  inner.status = nil
  if st == "failed" then
    local msg = type(inner.response) == "table" and inner.response.message or inner.response
    return nil, { kind = "protocol", code = "SERVER_FAULT", http_status = status,
      message = "the server reported a failure: " .. snippet(self, tostring(msg or "no message")) }
  end
  -- {"key_0": ..., "key_1": ..., "status": "success"}: a list once status is gone
  return normalize(inner, true)
end

-- XML-RPC gives real arrays and structs where REST's XML->JSON conversion
-- gives key_N objects and empty elements. Bring XML-RPC results to the REST
-- shape so scripts don't care which protocol carried them: a struct whose
-- members are all ids ("5", "9") becomes the key_<id> map REST has (and an
-- array when the ids are 0..n-1, as normalize does for REST); a nested empty
-- array or struct becomes "" as REST's empty element does.
local function rest_shape(v, top)
  if type(v) ~= "table" then return v end
  if next(v) == nil then
    if top then return v end
    return ""
  end
  local ids = true
  for k in pairs(v) do
    if type(k) ~= "string" or not k:match("^%d+$") then ids = false break end
  end
  if ids then
    local o = {}
    for k, x in pairs(v) do o["key_" .. k] = rest_shape(x) end
    return o
  end
  for k, x in pairs(v) do v[k] = rest_shape(x) end
  return v
end

local function decode_xmlrpc(self, status, body)
  local ok, v, m = core.xmlrpc_response(body)
  if ok == true then
    if type(v) ~= "table" then v = { response = v } end
    return core.normalize(rest_shape(v, true))
  elseif ok == false then
    return nil, { kind = "protocol", code = "XMLRPC_FAULT", http_status = status,
      message = "XML-RPC fault " .. tostring(v.faultCode) .. ": " .. snippet(self, tostring(v.faultString)),
      detail = { faultCode = v.faultCode, faultString = scrub(self, v.faultString) } }
  end
  return nil, { kind = "protocol", code = v or "MALFORMED_XML", http_status = status,
    message = scrub(self, m or "malformed XML-RPC answer") }
end

---------------------------------------------------------------------------
-- the limiter

local function limiter_warn(self, w)
  if w then self._log("warning", "rate limit: " .. tostring(w)) end
end

function Client:rate_limit_status()
  local rl = self._limiter
  if not rl then return nil end
  local used, remaining, reset_in = rl.lim:status(self._clock())
  if used == nil then return nil, remaining end
  return { used = used, remaining = remaining, reset_in = reset_in, calls = rl.calls, window = rl.window }
end

-- Reserve a slot: returns slot | nil, errfields
local function acquire(self, method)
  local rl = self._limiter
  if not rl then return true end
  local waited = 0
  for _ = 1, 1000000 do
    local ok, a, b = rl.lim:reserve(self._clock())
    if ok == true then
      limiter_warn(self, b)
      return a
    elseif ok == nil then
      return nil, { kind = "rate_limit", code = "STATE_FILE_ERROR",
        message = "rate-limit state file: " .. tostring(b or a) }
    end
    local wait = a
    if not rl.wait then
      return nil, { kind = "rate_limit", code = "RATE_LIMITED", retry_after = wait, retryable = true,
        message = ("local rate limit reached (%d calls per %gs); retry in %.1fs"):format(
          rl.calls, rl.window, wait) }
    end
    if rl.max_wait and waited + wait > rl.max_wait then
      return nil, { kind = "rate_limit", code = "RATE_LIMIT_WAIT_EXCEEDED", retry_after = wait,
        retryable = true,
        message = ("waiting %.1fs for a rate-limit slot would exceed max_wait (%gs)"):format(
          wait, rl.max_wait) }
    end
    if rl.on_wait then
      local used, remaining, reset_in = rl.lim:status(self._clock())
      rl.on_wait(wait, { method = method, used = used, remaining = remaining, reset_in = reset_in,
        calls = rl.calls, window = rl.window })
    end
    self._sleep(wait)
    waited = waited + wait
  end
  return nil, { kind = "rate_limit", code = "RATE_LIMITED", message = "rate limiter did not admit the call" }
end

local function release(self, slot)
  local rl = self._limiter
  if rl and type(slot) == "number" and rl.lim.commit then
    local _, _, w = rl.lim:commit(slot, self._clock())
    limiter_warn(self, w)
  end
end

local function server_says_no(self)
  local rl = self._limiter
  if rl then rl.lim:fill(self._clock()) end
end

---------------------------------------------------------------------------
-- the call pipeline

local function encode(self, method, options)
  local args = {}
  for k, v in pairs(options) do args[k] = v end
  args.apikey = secrets[self]
  if self._plugin_key and args.plugin_key == nil then args.plugin_key = self._plugin_key end
  local ok, body
  if self.protocol == "rest" then
    ok, body = pcall(core.form_request, method, args, "json")
  else
    ok, body = pcall(core.xmlrpc_request, method, args)
  end
  if not ok then
    return nil, { kind = "usage", code = "INVALID_ARGUMENT",
      message = method .. ": cannot encode arguments: " .. scrub(self, tostring(body)) }
  end
  return body
end

-- why a failed write is not retried
local REACHED = "the request may have reached the server; a write is never retried automatically"
local APPLIED = "the request may have been applied; a write is never retried automatically"

local function backoff_delay(self, attempt)
  local d = min(self._backoff_cap, self._backoff * 2 ^ attempt)
  return d / 2 + random() * d / 2
end

-- One HTTP exchange and its classification.
-- Returns result | nil, errfields, retry_ok
local function exchange(self, method, body, read_only, entry)
  local st, rbody, info, sent = self._transport:request(self.url, body, CONTENT_TYPE[self.protocol])
  if st == nil then
    local code, message = rbody, info
    if code == "UNSUPPORTED_PHASE" then
      -- nginx phase without cosockets: a usage problem, never retried (a
      -- back-off sleep would itself fail there)
      return nil, { kind = "usage", code = code, message = tostring(message) }, false
    end
    local retry = (sent == false) or read_only
    local e = { kind = "transport", code = tostring(code or "TRANSPORT_ERROR"),
      message = scrub(self, tostring(message or code)), retryable = retry }
    if not retry then
      e.reason = REACHED
    end
    return nil, e, retry
  end
  if st == 429 then
    server_says_no(self)
    local ra = type(info) == "table" and tonumber(info.retry_after) or nil
    return nil, { kind = "rate_limit", code = "RATE_LIMITED", http_status = st, retry_after = ra,
      retryable = true, message = "the server refused the call: too many requests" }, false
  end
  if st ~= 200 then
    local retry = st >= 500 and read_only
    local reason = (st >= 500 and not read_only) and APPLIED or nil
    -- an E-goi envelope carrying a business code (e.g. INTERNAL_ERROR with
    -- HTTP 500) is reported by its code; anything else by its HTTP status
    if self.protocol == "rest" then
      local result = decode_rest(self, st, rbody, method)
      local code = result and find_api_error(result, entry)
      if code then
        return nil, { kind = "api", code = code, http_status = st, retryable = retry, reason = reason,
          message = errors.message(code) or code }, retry
      end
    end
    return nil, { kind = "http", code = "HTTP_ERROR", http_status = st, retryable = retry, reason = reason,
      message = ("HTTP %d from the server: %s"):format(st, snippet(self, rbody)) }, retry
  end
  local result, err
  if self.protocol == "rest" then
    result, err = decode_rest(self, st, rbody, method)
  else
    result, err = decode_xmlrpc(self, st, rbody)
  end
  if not result then return nil, err, false end
  local code = find_api_error(result, entry)
  if code then
    local retry = code == "INTERNAL_ERROR" and read_only
    return nil, { kind = "api", code = code, http_status = st, retryable = retry,
      message = errors.message(code) or code }, retry
  end
  return result
end

local function perform(self, method, options, entry, buffer)
  if self._closed then
    return nil, usage("CLOSED", "the client is closed", method)
  end
  local body, eerr
  if buffer then
    -- a body packed by the caller (bulk import): sent in place by the C
    -- transport, as one string by any other
    body = self._native_body and buffer or buffer:string()
  else
    body, eerr = encode(self, method, options)
  end
  if not body then
    eerr.method = method
    return nil, errors.new(eerr)
  end
  local read_only
  if entry then read_only = entry.read_only else read_only = methods.is_read_only(method) end
  local attempt = 0
  while true do
    local slot, lerr = acquire(self, method)
    if not slot then
      lerr.method = method
      return nil, errors.new(lerr)
    end
    local result, err, retry = exchange(self, method, body, read_only, entry)
    release(self, slot)
    if result then return result end
    if not retry or attempt >= self.retries then
      err.method = method
      if retry and attempt > 0 then
        err.message = err.message .. (" (after %d retries)"):format(attempt)
      end
      return nil, errors.new(err)
    end
    self._sleep(backoff_delay(self, attempt))
    attempt = attempt + 1
  end
end

local function finish(self, result, err)
  if result ~= nil then return result end
  if self.raise then error(err, 3) end
  return nil, err
end

function Client:call(method, options)
  if type(method) ~= "string" or method == "" then
    return finish(self, nil, usage("INVALID_ARGUMENT", "call: argument 'method' must be a non-empty string"))
  end
  if options ~= nil and type(options) ~= "table" then
    return finish(self, nil, usage("INVALID_ARGUMENT",
      "call: argument 'options' must be a table or nil", method))
  end
  if options and options.apikey ~= nil then
    return finish(self, nil, usage("INVALID_ARGUMENT",
      "call: do not pass 'apikey' in options; the client adds its own", method))
  end
  return finish(self, perform(self, method, options or {}, methods.lookup(method)))
end

function Client:invoke(name, args)
  local entry = methods.lookup(name)
  if not entry then
    return finish(self, nil, usage("INVALID_ARGUMENT", "unknown method '" .. tostring(name) .. "'"))
  end
  local wire, err = methods.prepare(entry, args)
  if not wire then return finish(self, nil, err) end
  return finish(self, perform(self, entry.name, wire, entry))
end

-- For bulk work without a single extra copy of a large body:
--   local fb = client:body_buffer("addSubscriberBulk", { listID = 3, compareField = "email" })
--   fb:add(row, "functionOptions[subscribers]", i) ...   (core.form_buffer methods)
--   client:call_buffer("addSubscriberBulk", fb)
-- body_buffer returns a core.form_buffer holding the encoded method, type and
-- options (the key included); call_buffer sends it as the request body. REST only.
function Client:body_buffer(method, options)
  if type(method) ~= "string" or method == "" then
    return finish(self, nil, usage("INVALID_ARGUMENT", "body_buffer: argument 'method' must be a non-empty string"))
  end
  if self.protocol ~= "rest" then
    return finish(self, nil, usage("INVALID_ARGUMENT", "body_buffer needs the rest protocol", method))
  end
  local head, err = encode(self, method, options or {})
  if not head then
    err.method = method
    return finish(self, nil, errors.new(err))
  end
  local fb = core.form_buffer()
  fb:add_raw(head)
  return fb
end

function Client:call_buffer(method, buffer)
  if type(method) ~= "string" or method == "" then
    return finish(self, nil, usage("INVALID_ARGUMENT", "call_buffer: argument 'method' must be a non-empty string"))
  end
  if type(buffer) ~= "userdata" then
    return finish(self, nil, usage("INVALID_ARGUMENT", "call_buffer: argument 'buffer' must come from body_buffer",
      method))
  end
  return finish(self, perform(self, method, nil, methods.lookup(method), buffer))
end

function Client:close()
  if self._closed then return end
  self._closed = true
  if self._transport and self._transport.close then self._transport:close() end
  if self._limiter and self._limiter.lim.close then self._limiter.lim:close() end
end

Client.__gc = Client.close
Client.__close = Client.close

function Client.__tostring(self)
  return ("egoi client (%s, %s%s)"):format(self.protocol, self.url, self._closed and ", closed" or "")
end

M.Client = Client
M.VERSION = VERSION
-- for tests of the classification without a network
M._find_api_error = find_api_error

return M
