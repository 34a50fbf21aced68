-- egoi.sandbox.cli - command-line options of bin/egoi-sandbox.
local ratelimit = require "egoi.sandbox.ratelimit"

local M = {}

M.DEFAULT_APIKEY = "0123456789abcdef0123456789abcdef01234567"

M.USAGE = [[
usage: egoi-sandbox [options]

A stateful local E-goi API v2 server (REST /v2/rest.php, XML-RPC /v2/xmlrpc.php,
SOAP /v2/soap.php and /v2/soap_any.php, WSDLs at ?wsdl).

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
  --callback-timeout S   timeout of callback deliveries in seconds (default 5)
  --fail-method NAME     make NAME crash (tests INTERNAL_ERROR); repeatable
  --print-wsdl EP        print the WSDL of EP (soap or soap_any) and exit
  --wsdl-address URL     soap:address written by --print-wsdl (default the vendor's URL)
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
      else error("unknown option " .. a, 0) end
      i = i + 1
    end
  end)
  if not ok then return nil, err end
  if #cfg.apikeys == 0 then cfg.apikeys[1] = M.DEFAULT_APIKEY end
  return cfg
end

return M
