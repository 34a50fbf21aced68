-- egoi_app - the Lua side of examples/nginx/nginx.conf.
--
--   POST /signup          form fields email, first_name -> addSubscriber, JSON answer
--   POST /egoi/callback   E-goi list callbacks -> one JSON line per event in the log
--                         file named by EGOI_CALLBACK_LOG (else the nginx error log)
--
-- Environment (declare each with `env NAME;` in nginx.conf, or nginx drops it):
--   EGOI_APIKEY           the account's API key (required)
--   EGOI_URL              API URL (default: the real E-goi REST endpoint)
--   EGOI_LIST_ID          the list /signup adds to
--   EGOI_CALLBACK_SECRET  when set, callbacks must carry ?secret=<it>
--   EGOI_CALLBACK_LOG     file the callback events are appended to
local egoi = require "egoi"
local eresty = require "egoi.resty"
local cjson = require "cjson.safe"

local M = {}

-- One client per worker, created on first use inside a request, so the
-- client picks the cosocket transport (egoi.new chooses by the nginx phase).
-- It can be shared by the worker's concurrent requests: the transport keeps
-- no socket between calls and the limiter lives in the shared dict.
local client, client_err

local function get_client()
  if client then return client end
  local apikey = os.getenv("EGOI_APIKEY")
  if not apikey or apikey == "" then
    return nil, "EGOI_APIKEY is not set (and declared with `env EGOI_APIKEY;`)"
  end
  local url = os.getenv("EGOI_URL")
  if url == "" then url = nil end
  client, client_err = egoi.new{
    apikey = apikey,
    url = url,
    raise = false,
    timeout = 10,
    -- every worker shares the account's 150 calls/hour through lua_shared_dict egoi
    rate_limit = { shdict = "egoi", max_wait = 5 },
    log = function(level, msg) ngx.log(level == "warning" and ngx.WARN or ngx.ERR, "egoi: ", msg) end,
  }
  if not client then return nil, tostring(client_err) end
  return client
end

local function json(status, doc)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(cjson.encode(doc), "\n")
  return ngx.exit(ngx.HTTP_OK)
end

-- map an egoi.Error to an HTTP status for our own caller
local STATUS_OF_KIND = { usage = 400, api = 422, rate_limit = 429, transport = 502, http = 502, protocol = 502 }

function M.signup()
  if ngx.req.get_method() ~= "POST" then
    ngx.header["Allow"] = "POST"
    return json(405, { ok = false, error = { code = "METHOD_NOT_ALLOWED" } })
  end
  ngx.req.read_body()
  local args = ngx.req.get_post_args(20) or {}
  local email, first_name = args.email, args.first_name
  if type(email) ~= "string" or email == "" then
    return json(400, { ok = false, error = { code = "EMAIL_REQUIRED", message = "form field 'email' is required" } })
  end
  if type(first_name) ~= "string" then first_name = nil end
  local list_id = os.getenv("EGOI_LIST_ID")
  if not list_id or list_id == "" then
    ngx.log(ngx.ERR, "signup: EGOI_LIST_ID is not set")
    return json(500, { ok = false, error = { code = "NOT_CONFIGURED" } })
  end
  local c, cerr = get_client()
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

local callback_handler = eresty.callback_handler(function(ev)
  local line = cjson.encode{ event = ev.event, action = ev.action, list = ev.list, uid = ev.uid,
    email = ev.email, fields = ev.fields, extra = ev.extra }
  local path = os.getenv("EGOI_CALLBACK_LOG")
  if path and path ~= "" then
    assert(append_line(path, line))
  else
    ngx.log(ngx.NOTICE, "egoi callback: ", line)
  end
end, {
  secret = (os.getenv("EGOI_CALLBACK_SECRET") or "") ~= "" and os.getenv("EGOI_CALLBACK_SECRET") or nil,
  max_body = tonumber(os.getenv("EGOI_CALLBACK_MAX_BODY") or "") or 1048576,
})

function M.callback()
  return callback_handler()
end

return M
