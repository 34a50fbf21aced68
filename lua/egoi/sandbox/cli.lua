-- egoi.sandbox.cli - command-line options of bin/egoi-sandbox.
local ratelimit = require "egoi.sandbox.ratelimit"

local M = {}

M.DEFAULT_APIKEY = "0123456789abcdef0123456789abcdef01234567"

M.USAGE = [[
usage: egoi-sandbox [options]

A stateful local E-goi API server: v2 (REST /v2/rest.php, XML-RPC /v2/xmlrpc.php,
SOAP /v2/soap.php and /v2/soap_any.php, WSDLs at ?wsdl) and v3 (JSON, at the root).

  --host ADDR            address to bind (default 127.0.0.1)
  --port N               port (default 8080; 0 = pick a free port)
  --apikey KEY[,KEY..]   account API key(s); repeatable (default ]] .. M.DEFAULT_APIKEY .. [[)
  --state FILE           keep the state in FILE (JSON, atomic writes, reloaded on start)
  --seed N               seed of the deterministic generator (UIDs, hashes, reports; default 1)
  --rate-limit C/S       at most C calls per S seconds per key (default 150/3600; 0 = off)
  --over-limit MODE      answer over the limit: 429 (default), 403 or 200
  --max-body BYTES       request body cap, larger -> HTTP 413 (default 64M)
  --bulk-limit BYTES     addSubscriberBulk request size cap (default 50M)
  --file-limit BYTES     campaign file cap, FILE_TOO_LARGE (default 8M)
  --max-lists N          lists per account, NO_MORE_LISTS_ALLOWED (default 50)
  --max-subscribers N    subscribers per account, CANNOT_ADD_MORE_SUBSCRIBERS (default 100000)
  --max-fields N         form fields per request (default 4000000)
  --page-cap N           subscriberData answers at most N records whatever `limit` asks
                         (default off; tests clients that stop at a short page)
  --callback-timeout S   timeout of callback deliveries in seconds (default 5)
  --fail-method NAME     make NAME crash (tests INTERNAL_ERROR); repeatable
  --print-wsdl EP        print the WSDL of EP (soap or soap_any) and exit
  --wsdl-address URL     soap:address written by --print-wsdl (default the vendor's URL)
API v3 (every path not under /v2/; see doc/SANDBOX.md):
  --v3-rate-limit C/S    X-RateLimit-*: C calls per S seconds per key (default 100/60; 0 = off)
  --v3-account-limit C/S X-Account-*: C calls per S seconds per account (default 150/3600; 0 = off)
  --v3-max-limit N       largest `limit` accepted, more -> 422 (default 1000)
  --v3-page-cap N        answer at most N items per page whatever `limit` asks (default off)
  --v3-max-body BYTES    POST/PATCH/PUT body cap -> 413 (default 20M)
  --v3-timeout PATTERN   answer 408 without doing the work to "METHOD /path" matching the
                         Lua pattern; repeatable
  --v3-timeout-done PAT  do the work, then answer 408; repeatable
  --v3-no-retry-after    no Retry-After header on 429
  --v3-forbidden-key KEY answer this (existing) key with 403; repeatable
  --v3-search-empty      /contacts/search without a match: 200 {items:[]} instead of 404
  --v3-report-delay S    seconds until an advanced report is finished (default 1)
  --v3-422 MODE          member of 422 details: errors (default), both, or only
                         validation_messages
  --quiet                no request log on stderr
  --help                 this text
Sizes accept k, M, G suffixes (powers of 1024).
]]

local function size(v)
  local n, suf = tostring(v):match("^(%d+)([kKmMgG]?)$")
  if not n then return nil end
  local mult = ({ [""] = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3 })[suf:lower()]
  return math.tointeger(tonumber(n) * mult)
end

local function int(v) return v and v:match("^%d+$") and tonumber(v) end

-- parse(argv) -> cfg | nil, message | "help"
function M.parse(argv)
  local cfg = {
    host = "127.0.0.1", port = 8080, apikeys = {}, state = nil, seed = 1, rate_calls = 150, rate_window = 3600,
    over_limit = "429", max_body = 64 * 1024 * 1024, bulk_limit = 50 * 1024 * 1024, file_limit = 8 * 1024 * 1024,
    max_lists = 50, max_subscribers = 100000, max_fields = 4000000, max_depth = 32, callback_timeout = 5,
    fail_methods = {}, quiet = false,
    v3_rate_calls = 100, v3_rate_window = 60, v3_account_calls = 150, v3_account_window = 3600,
    v3_max_limit = 1000, v3_page_cap = nil, v3_max_body = 20 * 1024 * 1024, v3_timeout = {}, v3_timeout_done = {},
    v3_retry_after = true, v3_forbidden = {}, v3_search_empty = false, v3_report_delay = 1,
    v3_validation = "errors",
  }
  local i = 1
  local function value(name)
    local v = argv[i + 1]
    if v == nil then error(name .. " needs a value", 0) end
    i = i + 1
    return v
  end
  local ok, err = pcall(function()
    while i <= #argv do
      local a = argv[i]
      local name, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
      if name then a = name; table.insert(argv, i + 1, inline) end
      if a == "--help" or a == "-h" then cfg.help = true
      elseif a == "--quiet" or a == "-q" then cfg.quiet = true
      elseif a == "--host" then cfg.host = value(a)
      elseif a == "--port" then cfg.port = int(value(a)) or error("--port needs a number", 0)
      elseif a == "--apikey" then
        for k in value(a):gmatch("[^,%s]+") do cfg.apikeys[#cfg.apikeys + 1] = k end
      elseif a == "--state" then cfg.state = value(a)
      elseif a == "--seed" then cfg.seed = int(value(a)) or error("--seed needs a number", 0)
      elseif a == "--rate-limit" then
        local c, w = ratelimit.parse(value(a))
        if not c then error("--rate-limit needs CALLS/SECONDS or 0", 0) end
        cfg.rate_calls, cfg.rate_window = c, w
      elseif a == "--over-limit" then
        cfg.over_limit = value(a)
        if cfg.over_limit ~= "429" and cfg.over_limit ~= "403" and cfg.over_limit ~= "200" then
          error("--over-limit must be 429, 403 or 200", 0)
        end
      elseif a == "--max-body" then cfg.max_body = size(value(a)) or error("--max-body needs a size", 0)
      elseif a == "--bulk-limit" then cfg.bulk_limit = size(value(a)) or error("--bulk-limit needs a size", 0)
      elseif a == "--file-limit" then cfg.file_limit = size(value(a)) or error("--file-limit needs a size", 0)
      elseif a == "--max-lists" then cfg.max_lists = int(value(a)) or error("--max-lists needs a number", 0)
      elseif a == "--max-subscribers" then
        cfg.max_subscribers = int(value(a)) or error("--max-subscribers needs a number", 0)
      elseif a == "--page-cap" then
        cfg.page_cap = int(value(a)) or error("--page-cap needs a number", 0)
        if cfg.page_cap < 1 then error("--page-cap must be at least 1", 0) end
      elseif a == "--max-fields" then cfg.max_fields = int(value(a)) or error("--max-fields needs a number", 0)
      elseif a == "--callback-timeout" then
        cfg.callback_timeout = tonumber(value(a)) or error("--callback-timeout needs seconds", 0)
      elseif a == "--fail-method" then cfg.fail_methods[value(a):lower()] = true
      elseif a == "--print-wsdl" then
        cfg.print_wsdl = value(a)
        if cfg.print_wsdl ~= "soap" and cfg.print_wsdl ~= "soap_any" then
          error("--print-wsdl must be soap or soap_any", 0)
        end
      elseif a == "--wsdl-address" then cfg.wsdl_address = value(a)
      elseif a == "--v3-rate-limit" or a == "--v3-account-limit" then
        local c, w = ratelimit.parse(value(a))
        if not c then error(a .. " needs CALLS/SECONDS or 0", 0) end
        local k = a == "--v3-rate-limit" and "v3_rate" or "v3_account"
        cfg[k .. "_calls"], cfg[k .. "_window"] = c, w
      elseif a == "--v3-max-limit" then cfg.v3_max_limit = int(value(a)) or error(a .. " needs a number", 0)
      elseif a == "--v3-page-cap" then
        cfg.v3_page_cap = int(value(a)) or error(a .. " needs a number", 0)
        if cfg.v3_page_cap < 1 then error(a .. " must be at least 1", 0) end
      elseif a == "--v3-max-body" then cfg.v3_max_body = size(value(a)) or error(a .. " needs a size", 0)
      elseif a == "--v3-timeout" or a == "--v3-timeout-done" then
        local list = a == "--v3-timeout" and cfg.v3_timeout or cfg.v3_timeout_done
        local pat = value(a)
        if not pcall(string.find, "", pat) then error(a .. " needs a Lua pattern", 0) end
        list[#list + 1] = pat
      elseif a == "--v3-no-retry-after" then cfg.v3_retry_after = false
      elseif a == "--v3-forbidden-key" then cfg.v3_forbidden[value(a)] = true
      elseif a == "--v3-search-empty" then cfg.v3_search_empty = true
      elseif a == "--v3-422" then
        local m = value(a)
        cfg.v3_validation = ({ errors = "errors", both = "both", validation_messages = "only" })[m]
          or error("--v3-422 must be errors, both or validation_messages", 0)
      elseif a == "--v3-report-delay" then
        cfg.v3_report_delay = tonumber(value(a)) or error(a .. " needs seconds", 0)
      else error("unknown option " .. a, 0) end
      i = i + 1
    end
  end)
  if not ok then return nil, err end
  if #cfg.apikeys == 0 then cfg.apikeys[1] = M.DEFAULT_APIKEY end
  return cfg
end

return M
