-- egoi_app - the Lua side of examples/nginx/nginx.conf.
--
--   POST /signup          form fields email, first_name -> addSubscriber, JSON answer
--   POST /egoi/callback   E-goi list callbacks -> one JSON line per event in the log
--                         file named by EGOI_CALLBACK_LOG (else the nginx error log)
--
-- Anonymous traffic cannot spend the account's budget (150 calls/hour for everything):
--   * each client address gets EGOI_SIGNUP_PER_ADDRESS signup attempts per hour (a counter
--     in lua_shared_dict egoi_signup; over it: 429 without an API call), and an address
--     that is not an e-mail address is refused locally (400, no call);
--   * signups draw on a smaller budget than the account's: EGOI_RATE_CALLS (150) minus
--     EGOI_CALLBACK_RESERVE (30) calls per hour, over the same window in lua_shared_dict egoi
--     that the callback path uses with the whole budget. However many addresses a flood comes
--     from, the last EGOI_CALLBACK_RESERVE calls of every hour stay for the callbacks; a
--     signup over its budget gets 429 with Retry-After at once (it never waits).
--
-- Environment (declare each with `env NAME;` in nginx.conf, or nginx drops it):
--   EGOI_APIKEY           the account's API key (required)
--   EGOI_URL              API URL (default: the real E-goi REST endpoint); a bare
--                         http://host:port means http://host:port/v2/rest.php
--   EGOI_LIST_ID          the list /signup adds to
--   EGOI_CALLBACK_SECRET  when set, callbacks must carry ?secret=<it>
--   EGOI_CALLBACK_LOG     file the callback events are appended to
--   EGOI_CALLBACK_LOOKUP  "1": each callback reads the subscriber back (subscriberData, one
--                         call from the callback budget) and logs its STATUS
--   EGOI_CALLBACK_DEAD_LETTER  file keeping the callbacks the handler failed on (replay with
--                         require("egoi.callback").replay(path, handler))
--   EGOI_SIGNUP_PER_ADDRESS  signup attempts per client address and hour (default 5)
--   EGOI_RATE_CALLS, EGOI_CALLBACK_RESERVE  the account's calls per hour (150) and the part
--                         of it signups may not use (30)
local egoi = require "egoi"
local eresty = require "egoi.resty"
local cjson = require "cjson.safe"

local M = {}

local function env_number(name, default)
  local v = tonumber(os.getenv(name) or "")
  if v and v >= 0 and v == math.floor(v) then return v end
  return default
end

-- a bare http://host:port names the REST endpoint on that server
local function api_url()
  local url = os.getenv("EGOI_URL")
  if url == nil or url == "" then return nil end
  if url:match("^https?://[^/]+/?$") then url = url:gsub("/?$", "/v2/rest.php") end
  return url
end

local ACCOUNT_CALLS = math.max(1, env_number("EGOI_RATE_CALLS", 150))
local RESERVE = math.min(env_number("EGOI_CALLBACK_RESERVE", 30), ACCOUNT_CALLS - 1)
local PER_ADDRESS = env_number("EGOI_SIGNUP_PER_ADDRESS", 5)

-- Two clients per worker, created on first use inside a request, so each picks the cosocket
-- transport (egoi.new chooses by the nginx phase). Both count every call in the one window of
-- lua_shared_dict egoi (the same slots: the limiter's history is the account's, whatever
-- budget a client applies to it): "signup" may fill ACCOUNT_CALLS - RESERVE of them,
-- "callback" all ACCOUNT_CALLS. A client can be shared by the worker's concurrent requests:
-- the transport keeps no socket between calls.
local clients = {}

local function get_client(which)
  if clients[which] then return clients[which] end
  local apikey = os.getenv("EGOI_APIKEY")
  if not apikey or apikey == "" then
    return nil, "EGOI_APIKEY is not set (and declared with `env EGOI_APIKEY;`)"
  end
  local signup = which == "signup"
  local c, err = egoi.new{
    apikey = apikey,
    url = api_url(),
    raise = false,
    timeout = 10,
    rate_limit = { shdict = "egoi", calls = signup and ACCOUNT_CALLS - RESERVE or ACCOUNT_CALLS,
      wait = not signup, max_wait = not signup and 5 or nil },
    log = function(level, msg) ngx.log(level == "warning" and ngx.WARN or ngx.ERR, "egoi: ", msg) end,
  }
  if not c then return nil, tostring(err) end
  clients[which] = c
  return c
end

local function json(status, doc)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(cjson.encode(doc), "\n")
  return ngx.exit(ngx.HTTP_OK)
end

-- map an egoi.Error to an HTTP status for our own caller
local STATUS_OF_KIND = { usage = 400, api = 422, rate_limit = 429, transport = 502, http = 502, protocol = 502 }

-- Count one signup attempt of the client address: true, or false and the seconds until the
-- address may try again. (Behind a proxy, set the real address first with
-- ngx_http_realip_module's set_real_ip_from / real_ip_header.)
local warned_no_dict = false
local function address_allowed()
  local dict = ngx.shared.egoi_signup
  if not dict then -- an older nginx.conf without lua_shared_dict egoi_signup
    if not warned_no_dict then
      warned_no_dict = true
      ngx.log(ngx.WARN, "signup: no lua_shared_dict egoi_signup: signups are not limited per address")
    end
    return true
  end
  local addr = ngx.var.binary_remote_addr
  local n, err = dict:incr(addr, 1, 0, 3600)
  if not n then
    ngx.log(ngx.ERR, "signup: lua_shared_dict egoi_signup: ", err)
    return false, 60 -- fail closed: an unlimited endpoint is what this guards against
  end
  if n <= PER_ADDRESS then return true end
  return false, math.max(1, math.ceil(dict:ttl(addr) or 3600))
end

function M.signup()
  if ngx.req.get_method() ~= "POST" then
    ngx.header["Allow"] = "POST"
    return json(405, { ok = false, error = { code = "METHOD_NOT_ALLOWED" } })
  end
  local allowed, retry = address_allowed()
  if not allowed then
    ngx.header["Retry-After"] = retry
    return json(429, { ok = false, error = { code = "TOO_MANY_SIGNUPS",
      message = "too many signups from this address; try again later" } })
  end
  ngx.req.read_body()
  local args = ngx.req.get_post_args(20) or {}
  local email, first_name = args.email, args.first_name
  if type(email) ~= "string" or email == "" then
    return json(400, { ok = false, error = { code = "EMAIL_REQUIRED", message = "form field 'email' is required" } })
  end
  if #email > 254 or not email:match("^[^@%s]+@[^@%s]+%.[^@%s.]+$") then
    return json(400, { ok = false, error = { code = "EMAIL_ADDRESS_INVALID", message = "not an e-mail address" } })
  end
  if type(first_name) ~= "string" then first_name = nil end
  local list_id = os.getenv("EGOI_LIST_ID")
  if not list_id or list_id == "" then
    ngx.log(ngx.ERR, "signup: EGOI_LIST_ID is not set")
    return json(500, { ok = false, error = { code = "NOT_CONFIGURED" } })
  end
  local c, cerr = get_client("signup")
  if not c then
    ngx.log(ngx.ERR, "signup: ", cerr)
    return json(500, { ok = false, error = { code = "NOT_CONFIGURED" } })
  end
  local res, err = c.subscribers:add{ list_id = list_id, email = email, first_name = first_name, status = 1 }
  if not res then
    ngx.log(ngx.WARN, "signup failed: ", tostring(err)) -- tostring: err is a table
    local status = STATUS_OF_KIND[err.kind] or 500
    if status == 429 and err.retry_after then ngx.header["Retry-After"] = math.ceil(err.retry_after) end
    return json(status, { ok = false, error = { kind = err.kind, code = err.code, message = err.message } })
  end
  return json(200, { ok = true, uid = res.UID })
end

local function append_line(path, line)
  local f, err = io.open(path, "a")
  if not f then return nil, err end
  f:write(line, "\n")
  f:close()
  return true
end

local function env_text(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

local callback_handler = eresty.callback_handler(function(ev)
  local rec = { event = ev.event, action = ev.action, list = ev.list, uid = ev.uid,
    email = ev.email, fields = ev.fields, extra = ev.extra }
  if env_text("EGOI_CALLBACK_LOOKUP") == "1" and ev.uid and ev.list then
    local c = assert(get_client("callback"))
    local res, err = c.subscribers:get{ list_id = ev.list, subscriber = ev.uid }
    if not res then error("subscriberData: " .. tostring(err), 0) end -- kept in the dead-letter file
    rec.status = type(res.subscriber) == "table" and res.subscriber.STATUS or nil
  end
  local line = cjson.encode(rec)
  local path = env_text("EGOI_CALLBACK_LOG")
  if path then
    assert(append_line(path, line))
  else
    ngx.log(ngx.NOTICE, "egoi callback: ", line)
  end
end, {
  secret = env_text("EGOI_CALLBACK_SECRET"),
  max_body = tonumber(os.getenv("EGOI_CALLBACK_MAX_BODY") or "") or 1048576,
  dead_letter = env_text("EGOI_CALLBACK_DEAD_LETTER") and
    { path = env_text("EGOI_CALLBACK_DEAD_LETTER"), scrub = { env_text("EGOI_APIKEY") } },
})

function M.callback()
  return callback_handler()
end

return M
