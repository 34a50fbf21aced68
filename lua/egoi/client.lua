-- egoi.client - one E-goi API client: options, the call pipeline
-- (checks -> limiter -> protocol.build -> transport -> protocol.parse ->
-- business errors -> retry policy). Which protocol and which transport it
-- speaks is a table lookup (egoi.protocol, egoi.transport.*): no branch here.
--
-- Public surface (documented in README.md):
--   client:call(method, options)    raw call of any method
--   client:invoke(method, args)     catalogue call (aliases, required args)
--   client:rate_limit_status()      { used, remaining, reset_in } or nil
--   client:close()                  idempotent; also __gc / __close (an injected limiter stays open)
--   client.<resource>:<method>(args)
local core = require "egoi.core"
local errors = require "egoi.errors"
local methods = require "egoi.methods"
local protocols = require "egoi.protocol"
local resources = require "egoi.resources"
local check = require "egoi.check"
local option_names = require "egoi.options"
local retry_after = require "egoi.retry_after"

local type, pairs, ipairs, pcall, tostring, setmetatable, getmetatable, error, select =
  type, pairs, ipairs, pcall, tostring, setmetatable, getmetatable, error, select
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

-- The API key is kept out of the client table (so pairs(), inspectors and
-- serialisers never see it): a weak table keyed by the client. The
-- protocol context (which can add the key to a call) lives beside it.
local secrets = setmetatable({}, { __mode = "k" })
local contexts = setmetatable({}, { __mode = "k" })

local Client = {}
Client.__index = Client

local function usage(code, message, method)
  return errors.new{ kind = "usage", code = code, message = message, method = method }
end

-- Replace any occurrence of the key in text that came from outside
-- (server bodies, fault strings, libcurl messages).
local function scrub_key(key, text)
  if type(text) ~= "string" or not key or key == "" then return text end
  return (text:gsub(key:gsub("%p", "%%%0"), "<apikey>"))
end

local function snippet_key(key, body)
  body = scrub_key(key, body or "")
  if #body > 200 then body = body:sub(1, 200) .. "..." end
  return (body:gsub("[%c]", " "))
end

local function scrub(self, text) return scrub_key(secrets[self], text) end
local function snippet(self, body) return snippet_key(secrets[self], body) end

---------------------------------------------------------------------------
-- option checking

local function check_number(opts, name, default, allow_zero)
  local v = opts[name]
  if v == nil then return default end
  if type(v) ~= "number" or v ~= v or v < 0 or (v == 0 and not allow_zero) or v == math.huge then
    error(usage("INVALID_ARGUMENT", ("egoi.new: option '%s' must be a finite %s number"):format(
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

-- path | nil, message (egoi.limiter.file: $XDG_RUNTIME_DIR or a 0700 directory of our own)
local function default_state_file(apikey)
  return require("egoi.limiter.file").default_path(apikey)
end

local function make_limiter(rl, apikey)
  if rl == false then return nil end
  if rl == nil or rl == true then rl = {} end
  if type(rl) ~= "table" then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'rate_limit' must be false or a table"), 0)
  end
  local calls = rl.calls == nil and 150 or rl.calls
  local window = rl.window == nil and 3600 or rl.window
  -- (the limiters hold at most 100000 calls; a window must end)
  if type(calls) ~= "number" or calls < 1 or floor(calls) ~= calls or calls > 100000 then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'rate_limit.calls' must be an integer from 1 to 100000"), 0)
  end
  if type(window) ~= "number" or window ~= window or window <= 0 or window == math.huge then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'rate_limit.window' must be a finite positive number"), 0)
  end
  if rl.max_wait ~= nil and (type(rl.max_wait) ~= "number" or rl.max_wait ~= rl.max_wait or rl.max_wait < 0) then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'rate_limit.max_wait' must be a non-negative number"), 0)
  end
  if rl.on_wait ~= nil and type(rl.on_wait) ~= "function" then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'rate_limit.on_wait' must be a function"), 0)
  end
  -- where the window lives is one choice (Redis may fall back to the shdict or the file)
  if rl.limiter ~= nil and (rl.shdict ~= nil or rl.redis ~= nil or type(rl.state_file) == "string") then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'rate_limit.limiter' replaces the built-in limiters:"
      .. " leave out 'shdict', 'redis' and 'state_file' with it"), 0)
  end
  if rl.shdict ~= nil and type(rl.state_file) == "string" then
    error(usage("INVALID_ARGUMENT", "egoi.new: options 'rate_limit.shdict' and 'rate_limit.state_file' are"
      .. " two places for one window: give one"), 0)
  end
  local path, path_err = rl.state_file, nil
  if path == nil then
    if rl.limiter == nil and rl.shdict == nil then path, path_err = default_state_file(apikey) end
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
  elseif lim == nil and path_err then
    -- no private place for the default file: every call fails with the reason
    lim = require("egoi.limiter.file").refusing(path_err)
  elseif lim == nil then
    lim = core.ratelimit{ calls = calls, window = window, path = path }
  end
  if rl.redis ~= nil and rl.limiter == nil then -- the account's window in Redis, for every host
    lim = require("egoi.limiter.redis").for_client(rl, calls, window, core.key_id(apikey), lim)
  end
  return {
    lim = lim,
    own = rl.limiter == nil, -- built here from the options: close() closes it (an injected one is the caller's)
    calls = calls,
    window = window,
    path = path,
    wait = rl.wait ~= false,
    max_wait = rl.max_wait,
    on_wait = rl.on_wait,
    strikes = 0,      -- consecutive 429s without Retry-After (the default pause doubles)
    saw_429 = false,  -- the exchange just made was answered 429
  }
end

---------------------------------------------------------------------------
-- construction

local M = {}

-- Option names (egoi.options holds the lists) and the types make_limiter and the transports
-- take on trust. Raises a usage error naming the option.
local function check_options(opts)
  local why = check.names(opts, option_names.new, "option")
  if why then error(usage("INVALID_ARGUMENT", "egoi.new: " .. why), 0) end
  for _, name in ipairs { "raise", "verify_tls", "keepalive" } do check_type(opts, name, "boolean") end
  local mr = opts.max_response
  if mr ~= nil and (type(mr) ~= "number" or mr < 1 or mr ~= floor(mr) or mr == math.huge) then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'max_response' must be a positive integer (bytes)"), 0)
  end
  local rl = opts.rate_limit
  if type(rl) == "table" then
    why = check.names(rl, option_names.rate_limit, "option", "rate_limit.")
    if why then error(usage("INVALID_ARGUMENT", "egoi.new: " .. why), 0) end
    local function want(name, ok, what)
      if rl[name] ~= nil and not ok(rl[name]) then
        error(usage("INVALID_ARGUMENT", ("egoi.new: option 'rate_limit.%s' must be %s"):format(name, what)), 0)
      end
    end
    want("wait", function(v) return type(v) == "boolean" end, "a boolean")
    want("shdict", function(v) return type(v) == "string" and v ~= "" end, "the name of a lua_shared_dict")
    want("limiter", function(v) return type(v) == "table" or type(v) == "userdata" end, "a limiter object")
  end
end

-- options only a transport can honour (besides the timeouts, which the
-- client also uses)
local TRANSPORT_OPTIONS = { "verify_tls", "ca_file", "proxy", "keepalive", "max_response" }

function M.new(opts)
  if type(opts) ~= "table" then
    error(usage("INVALID_ARGUMENT", "egoi.new: expected an options table, got " .. type(opts)), 0)
  end
  check_options(opts)
  local apikey = opts.apikey
  if type(apikey) ~= "string" or apikey == "" then
    error(usage("NO_APIKEY", "egoi.new: option 'apikey' is required and must be a non-empty string"), 0)
  end
  local api = opts.api
  if api ~= nil and api ~= "v2" and api ~= "v3" then
    error(usage("INVALID_ARGUMENT", "egoi.new: option 'api' must be \"v2\" or \"v3\""), 0)
  end
  local protocol, proto = opts.protocol
  if api ~= nil and api ~= "v2" then
    -- another API generation has a protocol of its own (v3: REST paths, JSON)
    if type(opts.protocol) ~= "nil" then
      error(usage("INVALID_ARGUMENT", ("egoi.new: option 'protocol' chooses among API v2's protocols;"
        .. " API %s has one: leave 'protocol' out"):format(api)), 0)
    end
    protocol, proto = api, protocols.for_api(api)
  else
    protocol = protocol or protocols.DEFAULT
    proto = type(protocol) == "string" and protocols[protocol]
    if type(proto) ~= "table" then
      error(usage("INVALID_ARGUMENT", "egoi.new: option 'protocol' must be \""
        .. table.concat(protocols.names(), "\", \"") .. "\""), 0)
    end
  end
  local url = check_type(opts, "url", "string") or proto.default_url
  -- a bare http://host:port means that server's endpoint of this protocol
  if opts.url then url = require("egoi.endpoint").resolve(url, proto.default_url) or url end
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

  if transport == nil or transport == "curl" or transport == "resty" then
    -- a built-in transport: every option given must be one it honours
    local mod = require("egoi.transport." .. (transport or "curl"))
    local given = { timeout = timeout, connect_timeout = connect_timeout, verify_tls = opts.verify_tls,
      ca_file = opts.ca_file, proxy = opts.proxy, keepalive = opts.keepalive,
      max_response = opts.max_response }
    for _, name in ipairs(TRANSPORT_OPTIONS) do
      if given[name] ~= nil and not mod.supports[name] then
        local why = mod.refuses and mod.refuses[name]
        error(usage("INVALID_ARGUMENT", ("egoi.new: option '%s' is not supported by the %s transport%s"):format(
          name, transport or "curl", why and (" (" .. why .. ")") or "")), 0)
      end
    end
    given.verify_tls = opts.verify_tls ~= false
    given.keepalive = opts.keepalive ~= false
    given.user_agent = ua
    transport = mod.new(given)
  elseif type(transport) ~= "table" and type(transport) ~= "userdata" then
    error(usage("INVALID_ARGUMENT",
      "egoi.new: option 'transport' must be \"curl\", \"resty\" or a transport object"), 0)
  else
    for _, name in ipairs(TRANSPORT_OPTIONS) do
      if opts[name] ~= nil then
        error(usage("INVALID_ARGUMENT", ("egoi.new: option '%s' cannot reach a transport object"
          .. " (configure the object itself)"):format(name)), 0)
      end
    end
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
    _protocol = proto,
    -- the method catalogue: the protocol's own (v3 operations) or v2's
    _catalogue = proto.catalogue or methods,
    _clock = clock,
    _sleep = sleep,
    _log = log,
    _closed = false,
  }, Client)
  secrets[self] = apikey
  local plugin_key = opts.plugin_key
  contexts[self] = {
    url = url,
    json_decode = decoder == "cjson" and cjson_decode or json_decode,
    -- the call's arguments with the key (and the plugin key) added
    arguments = function(options)
      local args = {}
      for k, v in pairs(options) do args[k] = v end
      args.apikey = apikey
      if plugin_key and args.plugin_key == nil then args.plugin_key = plugin_key end
      return args
    end,
    -- (closures over the key, never over the client: a weak-keyed table's
    -- value that refers to its key keeps it alive on Lua 5.1/LuaJIT)
    scrub = function(text) return scrub_key(apikey, text) end,
    snippet = function(body) return snippet_key(apikey, body) end,
  }
  self._limiter = make_limiter(opts.rate_limit, apikey)
  -- client.lists, client.subscribers, ... (a protocol with resources of its own: those instead)
  local res = proto.resources and proto.resources() or resources
  res.attach(self)
  return self
end

---------------------------------------------------------------------------
-- response decoding

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

-- Reserve a slot: returns slot | nil, errfields. Besides the limiter's own window, a hold set
-- from the server's limit headers (follow) is waited out first, with or without a limiter.
local function acquire(self, method)
  local rl = self._limiter
  local waited = 0
  for _ = 1, 1000000 do
    local wait, held
    if self._hold_until then
      wait = self._hold_until - self._clock()
      if wait > 0 then held = true else self._hold_until, wait = nil, nil end
    end
    if not held then
      if not rl then return true end
      local ok, a, b = rl.lim:reserve(self._clock())
      if ok == true then
        limiter_warn(self, b)
        return a
      elseif ok == nil then
        if type(a) == "string" and a:find("^LIMITER_") then -- the Redis limiter: fail closed
          return nil, { kind = "rate_limit", code = a, message = tostring(b) }
        end
        return nil, { kind = "rate_limit", code = "STATE_FILE_ERROR",
          message = "rate-limit state file: " .. tostring(b or a) }
      end
      wait = a
    end
    if rl and not rl.wait then
      return nil, { kind = "rate_limit", code = "RATE_LIMITED", retry_after = wait, retryable = true,
        message = held and ("the server's rate-limit window is used up; retry in %.1fs"):format(wait)
          or ("rate limit reached (%d calls per %gs here, or a pause after the service's 429);"
          .. " retry in %.1fs"):format(rl.calls, rl.window, wait) }
    end
    if rl and rl.max_wait and waited + wait > rl.max_wait then
      return nil, { kind = "rate_limit", code = "RATE_LIMIT_WAIT_EXCEEDED", retry_after = wait,
        retryable = true,
        message = ("waiting %.1fs for a rate-limit slot would exceed max_wait (%gs)"):format(
          wait, rl.max_wait) }
    end
    if rl and rl.on_wait then
      local used, remaining, reset_in = rl.lim:status(self._clock())
      rl.on_wait(wait, { method = method, used = used, remaining = remaining, reset_in = reset_in,
        calls = rl.calls, window = rl.window, server = held or nil })
    end
    self._sleep(wait)
    waited = waited + wait
  end
  return nil, { kind = "rate_limit", code = "RATE_LIMITED", message = "rate limiter did not admit the call" }
end

local function release(self, slot)
  local rl = self._limiter
  if not rl then return end
  -- any outcome but a 429 ends a run of 429s: the next default pause is short again
  if rl.saw_429 then rl.saw_429 = false else rl.strikes = 0 end
  if type(slot) == "number" and rl.lim.commit then
    local _, _, w = rl.lim:commit(slot, self._clock())
    limiter_warn(self, w)
  end
end

-- The server answered 429: pause every process sharing the limiter for
-- Retry-After (seconds or HTTP date), or without one for RETRY_429 seconds,
-- doubling on each further 429 in a row up to RETRY_429_CAP. Returns the pause.
local RETRY_429, RETRY_429_CAP, RETRY_AFTER_CAP = 60, 3600, 86400
local function server_says_no(self, headers, info)
  local rl = self._limiter
  local now = self._clock()
  -- the raw header (seconds or an HTTP date); a transport object of the
  -- caller's may give only info.retry_after (seconds)
  local raw = type(headers) == "table" and headers["retry-after"] or nil
  if raw == nil and type(info) == "table" then raw = info.retry_after end
  local wait = retry_after(raw, now)
  if wait == nil then
    wait = min(RETRY_429_CAP, RETRY_429 * 2 ^ (rl and rl.strikes or 0))
    if rl then rl.strikes = rl.strikes + 1 end
  end
  wait = min(wait, RETRY_AFTER_CAP)
  if rl then
    rl.saw_429 = true
    local lim = rl.lim
    local ok, a, b
    if lim.block then ok, a, b = lim:block(now, wait) else ok, a, b = lim:fill(now) end
    if ok == nil then
      self._log("warning", "rate limit: cannot record the server's pause: " .. tostring(b or a))
    else
      limiter_warn(self, a)
    end
  end
  return wait
end

-- A pause the server names (a window's reset, Retry-After) as seconds to hold: nil when it names
-- none (missing, 0, negative, NaN), else at most RETRY_AFTER_CAP, so neither a 0 nor a huge or
-- infinite value from the wire can make the client spin or sleep for years (or make the
-- limiter's block() refuse the length).
local function server_pause(s)
  if type(s) ~= "number" or s ~= s or s <= 0 then return nil end
  return min(s, RETRY_AFTER_CAP)
end

-- The windows a protocol reads from an answer's limit headers (P.limits(headers) ->
-- { { remaining =, reset = seconds, limit =, budget = bool, name = }, ... }): the client never
-- plans beyond what the server says is left. A window at 0 holds every call until its reset
-- (and blocks a limiter that can, for every process sharing it); a budget window below the
-- limiter's remaining count uses the difference up (slots that expire with the local window:
-- conservative). Returns the seconds of a hold it set, or nil.
local function follow(self, wins)
  if type(wins) ~= "table" then return nil end
  local now = self._clock()
  local wait
  for _, w in ipairs(wins) do
    local reset = server_pause(w.reset) -- a window at 0 without a known reset holds nothing
    if w.remaining <= 0 and reset and (wait == nil or reset > wait) then wait = reset end
  end
  local rl = self._limiter
  if wait then
    if now + wait > (self._hold_until or 0) then self._hold_until = now + wait end
    if rl and rl.lim.block then rl.lim:block(now, wait) end
    return wait
  end
  if not rl then return nil end
  for _, w in ipairs(wins) do
    if w.budget then
      local used, remaining = rl.lim:status(now)
      if used ~= nil and remaining and w.remaining < remaining then
        for _ = 1, min(remaining - w.remaining, rl.calls) do
          local ok, slot = rl.lim:reserve(now)
          if ok ~= true then break end
          if rl.lim.commit then rl.lim:commit(slot, now) end
        end
      end
    end
  end
  return nil
end

---------------------------------------------------------------------------
-- the call pipeline

-- how many 429 answers with a known reset one call waits out before it reports RATE_LIMITED
local MAX_REFUSED = 5

-- why a failed write is not retried
local REACHED = "the request may have reached the server; a write is never retried automatically"
local APPLIED = "the request may have been applied; a write is never retried automatically"

local function backoff_delay(self, attempt)
  local d = min(self._backoff_cap, self._backoff * 2 ^ attempt)
  return d / 2 + random() * d / 2
end

-- One HTTP exchange and its classification. req comes from protocol.build;
-- the transport returns status, headers, body, info | nil, code, message, sent.
-- Returns result | nil, errfields, retry_ok
local function exchange(self, method, req, read_only, entry)
  local st, headers, rbody, info = self._transport:request(req)
  local wins = st ~= nil and self._protocol.limits and self._protocol.limits(headers) or nil
  local hold = wins and follow(self, wins)
  if st == nil then
    local code, message, sent = headers, rbody, info
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
    if wins and not hold then
      -- refused although no window shows 0: wait for the longest reset (or Retry-After)
      local now = self._clock()
      local longest = server_pause(retry_after(type(headers) == "table" and headers["retry-after"] or nil, now)) or 0
      for _, w in ipairs(wins) do
        local reset = server_pause(w.reset)
        if reset and reset > longest then longest = reset end
      end
      if longest > 0 then
        hold = longest
        if now + hold > (self._hold_until or 0) then self._hold_until = now + hold end
        local rl = self._limiter
        if rl and rl.lim.block then rl.lim:block(now, hold) end
      end
    end
    -- no usable headers: Retry-After or the default pause, for every process sharing the limiter
    local ra = not hold and server_says_no(self, headers, info) or nil
    -- a refused call was not processed: with the server's reset known it waits and goes again
    return nil, { kind = "rate_limit", code = "RATE_LIMITED", http_status = st, retry_after = ra or hold,
      retryable = true, message = ("the server refused the call: too many requests; retry in %gs"):format(ra or hold) },
      false, hold ~= nil
  end
  local ctx, response = contexts[self], { status = st, headers = headers, body = rbody }
  local success = self._protocol.success
  if not (success and success(st) or (not success and st == 200)) then
    -- 408: the server gave up on the request; a read may go again, a write may have been applied
    local retry = (st >= 500 or st == 408) and read_only
    local reason = ((st >= 500 or st == 408) and not read_only) and APPLIED or nil
    -- an E-goi envelope carrying a business code (e.g. INTERNAL_ERROR with
    -- HTTP 500) is reported by its code; anything else by its HTTP status
    local result, perr = self._protocol.parse(ctx, response, method, entry)
    local code = result and self._protocol.business_errors ~= false and find_api_error(result, entry)
    if code then
      code = scrub(self, code) -- the server's text: it may echo the key
      return nil, { kind = "api", code = code, http_status = st, retryable = retry, reason = reason,
        message = errors.message(code) or code }, retry
    end
    if perr and perr.answered then
      -- the protocol's own error answer (a fault sent with HTTP 500, as
      -- SOAP does): reported as such, under the HTTP status's retry policy
      perr.answered, perr.http_status, perr.retryable, perr.reason = nil, st, retry, reason
      return nil, perr, retry
    end
    return nil, { kind = "http", code = "HTTP_ERROR", http_status = st, retryable = retry, reason = reason,
      message = ("HTTP %d from the server: %s"):format(st, snippet(self, rbody)) }, retry
  end
  local result, err = self._protocol.parse(ctx, response, method, entry)
  if not result then
    err.answered = nil
    return nil, err, false
  end
  local code = self._protocol.business_errors ~= false and find_api_error(result, entry)
  if code then
    code = scrub(self, code) -- the server's text: it may echo the key
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
  -- a buffer is a body packed by the caller (bulk import); it goes to the
  -- transport as it is (the C transport sends it in place, no copy)
  local req, eerr = self._protocol.build(contexts[self], method, options, entry, buffer)
  if not req then
    eerr.method = method
    return nil, errors.new(eerr)
  end
  local read_only
  if entry then read_only = entry.read_only else read_only = self._catalogue.is_read_only(method) end
  -- only a read may be sent twice by anything below this policy
  req.idempotent = read_only == true
  local attempt, refused = 0, 0
  while true do
    local slot, lerr = acquire(self, method)
    if not slot then
      lerr.method = method
      return nil, errors.new(lerr)
    end
    -- a transport object or parser that raises (a custom one, or a bug) must not escape
    -- raise = false nor leave the slot at its reservation time: its error becomes a
    -- protocol error, never retried (the request may have gone out)
    local okx, result, err, retry, again = pcall(exchange, self, method, req, read_only, entry)
    if not okx then
      local why = result
      if type(why) == "string" and why:find("interrupted!", 1, true) then
        -- the interpreter's own SIGINT (lua.c): the caller's to handle, after the slot is kept
        release(self, slot)
        error(why, 0)
      end
      result, retry, again = nil, false, false
      err = { kind = "protocol", code = "EXCHANGE_FAILED", retryable = false,
        reason = not read_only and REACHED or nil,
        message = "the exchange failed inside the client: " .. scrub(self, tostring(type(why) == "table"
          and (why.message or why.code) or why)) }
    end
    release(self, slot)
    if result then return result end
    if again and refused < MAX_REFUSED then
      -- a 429 with the server's reset known: acquire waits for it (max_wait, on_wait apply)
      refused = refused + 1
      self._log("warning", ("the server refused %s (429): waiting %.1fs for its window to reset"):format(
        method, err.retry_after or 0))
    else
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
end

local function finish(self, result, err)
  if result ~= nil then
    if result == self._protocol.NOTHING then return nil end -- an answer without a body (204)
    return result
  end
  if self.raise then error(err, 3) end
  return nil, err
end

-- client.call(...) instead of client:call(...): there is no client to ask for its error mode
local function check_self(self, name)
  if getmetatable(self) ~= Client then
    error(usage("INVALID_ARGUMENT", ("call client:%s(...) with a colon (got %s for the client)"):format(
      name, type(self))), 3)
  end
end

-- The arguments of a raw call (call, body_buffer): a method name, an options table without
-- the key, and the catalogue's kinds for the names it types. A raw call passes names the
-- catalogue does not know (the escape hatch), never a value of a wrong kind.
-- Returns the catalogue entry (false for a method it does not know) | nil, err
local function check_raw(catalogue, fname, method, options)
  if type(method) ~= "string" or method == "" then
    return nil, usage("INVALID_ARGUMENT", fname .. ": argument 'method' must be a non-empty string")
  end
  if options ~= nil and type(options) ~= "table" then
    return nil, usage("INVALID_ARGUMENT", fname .. ": argument 'options' must be a table or nil", method)
  end
  if options and options.apikey ~= nil then
    return nil, usage("INVALID_ARGUMENT",
      fname .. ": do not pass 'apikey' in options; the client adds its own", method)
  end
  local entry = catalogue.lookup(method)
  if entry and options then
    local bad = catalogue.check_values(entry, options)
    if bad then return nil, bad end
  end
  return entry or false
end

function Client:call(method, options)
  check_self(self, "call")
  local entry, err = check_raw(self._catalogue, "call", method, options)
  if entry == nil then return finish(self, nil, err) end
  return finish(self, perform(self, method, options or {}, entry or nil))
end

function Client:invoke(name, args)
  check_self(self, "invoke")
  local catalogue = self._catalogue
  local entry = catalogue.lookup(name)
  if not entry then
    return finish(self, nil, catalogue.unknown and catalogue.unknown(name)
      or usage("INVALID_ARGUMENT", "unknown method '" .. tostring(name) .. "'"))
  end
  local wire, err = catalogue.prepare(entry, args)
  if not wire then return finish(self, nil, err) end
  return finish(self, perform(self, entry.name, wire, entry))
end

-- For bulk work without a single extra copy of a large body:
--   local fb = client:body_buffer("addSubscriberBulk", { listID = 3, compareField = "email" })
--   fb:add(row, "functionOptions[subscribers]", i) ...   (core.form_buffer methods)
--   client:call_buffer("addSubscriberBulk", fb)
-- body_buffer returns a core.form_buffer holding the encoded method, type and
-- options (the key included); call_buffer sends it as the request body. Only
-- a protocol with a form body has one (REST).
function Client:body_buffer(method, options)
  check_self(self, "body_buffer")
  local entry, cerr = check_raw(self._catalogue, "body_buffer", method, options)
  if entry == nil then return finish(self, nil, cerr) end
  local make = self._protocol.body_buffer
  if not make then
    return finish(self, nil, usage("INVALID_ARGUMENT",
      ("body_buffer needs a protocol with a form body (rest), not %s"):format(self.protocol), method))
  end
  local fb, err = make(contexts[self], method, options or {})
  if not fb then
    err.method = method
    return finish(self, nil, errors.new(err))
  end
  return fb
end

function Client:call_buffer(method, buffer)
  check_self(self, "call_buffer")
  if type(method) ~= "string" or method == "" then
    return finish(self, nil, usage("INVALID_ARGUMENT", "call_buffer: argument 'method' must be a non-empty string"))
  end
  -- (any other userdata made the transport raise, after a limiter slot was taken)
  local mt = type(buffer) == "userdata" and getmetatable(buffer)
  if type(mt) ~= "table" or mt.__name ~= "egoi.core.form_buffer" then
    return finish(self, nil, usage("INVALID_ARGUMENT", "call_buffer: argument 'buffer' must come from body_buffer",
      method))
  end
  return finish(self, perform(self, method, nil, self._catalogue.lookup(method), buffer))
end

-- client:request(verb, path, { query = {...}, body = {...} }) -> the decoded answer (nil for a
-- 204): any path of a protocol that has paths (v3), through the same pipeline (limiter,
-- retries of reads, error mode). The protocol turns it into a method, options and an entry.
function Client:request(verb, path, opts)
  check_self(self, "request")
  local raw = self._protocol.raw
  if not raw then
    return finish(self, nil, usage("INVALID_ARGUMENT",
      ("request(verb, path, ...) needs an API with paths (egoi.new{ api = \"v3\" }), not %s"):format(
        self.protocol)))
  end
  local method, options, entry = raw(verb, path, opts)
  if not method then return finish(self, nil, errors.new(options)) end
  if (options.body ~= nil and type(options.body) ~= "table")
    or (options.query ~= nil and type(options.query) ~= "table") then
    return finish(self, nil, usage("INVALID_ARGUMENT", "request: options 'query' and 'body' must be tables", method))
  end
  return finish(self, perform(self, method, options, entry))
end

-- Closes what the client opened itself: its transport and the limiter it built from the
-- options (the state file's descriptor, the Redis connection). A limiter passed in as
-- `rate_limit.limiter` belongs to the caller, who may share it among clients: it is left open.
function Client:close()
  if self._closed then return end
  self._closed = true
  if self._transport and self._transport.close then self._transport:close() end
  local rl = self._limiter
  if rl and rl.own and rl.lim.close then rl.lim:close() end
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
