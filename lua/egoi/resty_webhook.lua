-- egoi.resty_webhook - receive API v3 webhook deliveries (JSON) in nginx (ngx_lua / OpenResty),
-- beside egoi.resty's handler for v2 callbacks (form + XML).
--
--   location = /egoi/webhook {
--     access_log off;   # the request line holds the secret
--     content_by_lua_block {
--       require("egoi.resty_webhook").handle(function(ev)
--         -- ev = { kind = "webhook", action = "subscription", list_id =, contact_id =, email =,
--         --        contact = { ... }, data = <the decoded object> }  (egoi.webhook)
--       end, { secret = os.getenv("EGOI_WEBHOOK_SECRET") })
--     }
--   }
--
-- Register the URL with the secret in its query: webhook.url("https://host/egoi/webhook", secret)
-- (or client.webhooks:ensure{ ... }). Why the query: a v3 webhook is registered as
-- { list_id, url, actions, fields } only, so E-goi can present no header, and it documents no
-- signature; the URL is the one thing it sends back. Use https so the secret is not on the wire
-- in the clear, and keep it out of access logs.
--
-- webhook_handler(fn, opts) returns a function to call per request; handle(fn, opts) builds
-- and calls it at once. It answers
--   405  not a POST (Allow: POST)
--   403  opts.secret is set and ?<secret_param>= does not match (constant-time compare)
--   413  the body is larger than opts.max_body (default 1 MiB) or the batch than opts.max_events
--   415  the Content-Type is not JSON (application/json, text/json, application/*+json)
--   400  the body is not a webhook delivery ("bad webhook: <CODE>")
--   500  fn raised an error or returned false for an event, and the dead-letter hook did not
--        keep it
--   200  "OK": every event was handled (or every failed one is kept by the dead-letter hook)
-- A batch (a JSON array) calls fn once per event, in order; one failing event does not stop
-- the others.
--
-- opts.dead_letter(entry) -> true when it kept the entry: called (after the secret check)
-- for a body refused as 400/415 and for each event fn failed on, with
--   { reason = "refused" | "handler_failed", status = <answer>, code = <error code>,
--     error = <short text>, body = <the raw body>, content_type =, index = <event in batch>,
--     action =, time = ngx.now() }
-- Never the secret, the query or the request headers. An error inside it is logged and
-- counts as "not kept". Logs carry codes, actions and counts: never the body or the secret.
local webhook = require "egoi.webhook"
local resty = require "egoi.resty"
local respond, accept = resty._respond, resty._accept

local type, tostring, rawget, error, pcall, pairs, ipairs =
  type, tostring, rawget, error, pcall, pairs, ipairs

local M = {}

local function check_opts(fn, opts)
  if type(fn) ~= "function" then
    error("egoi.resty_webhook.webhook_handler: argument 'fn' must be a function", 3)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("egoi.resty_webhook.webhook_handler: argument 'opts' must be a table or nil", 3)
  end
  opts = opts or {}
  local known = { secret = true, secret_param = true, max_body = true, max_events = true, dead_letter = true }
  for k in pairs(opts) do
    if not known[k] then
      error("egoi.resty_webhook.webhook_handler: unknown option '" .. tostring(k) .. "'", 3)
    end
  end
  if opts.secret ~= nil and (type(opts.secret) ~= "string" or opts.secret == "") then
    error("egoi.resty_webhook.webhook_handler: option 'secret' must be a non-empty string or nil", 3)
  end
  if opts.secret_param ~= nil and (type(opts.secret_param) ~= "string" or opts.secret_param == "") then
    error("egoi.resty_webhook.webhook_handler: option 'secret_param' must be a non-empty string", 3)
  end
  for _, k in ipairs{ "max_body", "max_events" } do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v ~= v or v < 1) then
      error("egoi.resty_webhook.webhook_handler: option '" .. k .. "' must be a positive number", 3)
    end
  end
  if opts.dead_letter ~= nil and type(opts.dead_letter) ~= "function" then
    error("egoi.resty_webhook.webhook_handler: option 'dead_letter' must be a function or nil", 3)
  end
  return opts
end

function M.webhook_handler(fn, opts)
  opts = check_opts(fn, opts)
  local secret, param = opts.secret, opts.secret_param or webhook.SECRET_PARAM
  local max_body = opts.max_body or webhook.DEFAULT_MAX_BYTES
  local parse_opts = { max_bytes = max_body, max_events = opts.max_events }
  local dead_letter = opts.dead_letter

  return function()
    local ngx = rawget(_G, "ngx")
    if not ngx then error("egoi.resty_webhook: the webhook handler runs inside nginx only", 2) end

    -- hand an entry to the dead-letter hook; -> true when kept
    local function keep(entry)
      if not dead_letter then return false end
      entry.time = ngx.now()
      local ok, kept = pcall(dead_letter, entry)
      if not ok then
        ngx.log(ngx.ERR, "egoi webhook: dead-letter hook failed: ", tostring(kept))
        return false
      end
      return kept == true
    end

    local body = accept(ngx, "webhook", secret, param, max_body)
    if not body then return end
    local ctype = ngx.var.content_type
    local events, err = webhook.parse(body, ctype, parse_opts)
    if not events then
      local code = type(err) == "table" and err.code or "CALLBACK_MALFORMED"
      local status = 400
      if code == "TOO_LARGE" then
        status = 413
      elseif code == "CALLBACK_MALFORMED" and not webhook.json_type_ok(ctype) then
        status = 415
      end
      ngx.log(ngx.WARN, "egoi webhook: rejected (", status, "): ", tostring(code))
      if status ~= 413 then
        keep{ reason = "refused", status = status, code = code, error = type(err) == "table" and err.message
          or tostring(err), body = body, content_type = ctype }
      end
      if status == 413 then return respond(ngx, 413, "request body too large") end
      if status == 415 then return respond(ngx, 415, "webhook body must be application/json") end
      return respond(ngx, 400, "bad webhook: " .. tostring(code))
    end

    local lost = 0
    for i, ev in ipairs(events) do
      local ok, res, herr = pcall(fn, ev)
      local failure
      if not ok then
        failure = tostring(res)
        ngx.log(ngx.ERR, "egoi webhook: handler error (", tostring(ev.action or ev.kind), "): ", failure)
      elseif res == false then
        failure = tostring(herr)
        ngx.log(ngx.ERR, "egoi webhook: handler refused the ", tostring(ev.action or ev.kind), " event: ", failure)
      end
      if failure then
        local kept = keep{ reason = "handler_failed", status = 500, code = "HANDLER_FAILED", error = failure,
          body = body, content_type = ctype, index = i, action = ev.action or ev.kind }
        if not kept then lost = lost + 1 end
      end
    end
    if lost > 0 then
      return respond(ngx, 500, "webhook handler failed")
    end
    return respond(ngx, 200, "OK")
  end
end

function M.handle(fn, opts)
  return M.webhook_handler(fn, opts)()
end

return M
