-- egoi.sandbox.main - wires options, state, API, HTTP server and the event loop.
-- main.run(argv) -> exit code
local socket = require "socket"
local cli = require "egoi.sandbox.cli"
local store = require "egoi.sandbox.store"
local loopmod = require "egoi.sandbox.loop"
local http = require "egoi.sandbox.http"
local app = require "egoi.sandbox.app"
local apimod = require "egoi.sandbox.api"
local callbacks = require "egoi.sandbox.callbacks"

local M = {}

local function install_signals(flag)
  local ok, signal = pcall(require, "posix.signal")
  if not ok then return false end
  local function h() flag.stop = true end
  signal.signal(signal.SIGTERM, h)
  signal.signal(signal.SIGINT, h)
  return true
end

function M.run(argv)
  local cfg, err = cli.parse(argv)
  if not cfg then
    io.stderr:write("egoi-sandbox: ", err, "\n(try --help)\n")
    return 64
  end
  if cfg.help then io.stdout:write(cli.USAGE); return 0 end
  if cfg.print_wsdl then
    local names = apimod.new(store.new{ seed = cfg.seed }, cfg):names()
    io.stdout:write(require("egoi.sandbox.wsdl").generate(cfg.print_wsdl, names, cfg.wsdl_address))
    return 0
  end

  local function log(msg, t0)
    if cfg.quiet then return end
    local ms = t0 and (" %dms"):format(math.floor((loopmod.now() - t0) * 1000 + 0.5)) or ""
    io.stderr:write(os.date("!%Y-%m-%dT%H:%M:%SZ "), msg, ms, "\n")
    io.stderr:flush()
  end

  local st = store.new{ path = cfg.state, seed = cfg.seed }
  local ok, lerr = st:load()
  if not ok then
    io.stderr:write(("egoi-sandbox: state file %s is corrupt: %s\n"
      .. "egoi-sandbox: refusing to start; repair or remove the file\n"):format(cfg.state, lerr))
    return 2
  end
  for _, key in ipairs(cfg.apikeys) do st:ensure_account(key, cfg) end
  local saved, serr = st:save()
  if not saved then
    io.stderr:write("egoi-sandbox: cannot write state file ", tostring(cfg.state), ": ", tostring(serr), "\n")
    return 2
  end

  local server, berr = socket.bind(cfg.host, cfg.port)
  if not server then
    io.stderr:write(("egoi-sandbox: cannot listen on %s:%d: %s\n"):format(cfg.host, cfg.port, berr))
    return 1
  end
  local host, port = server:getsockname()

  local flag = { stop = false }
  local loop = loopmod.new(function(e) log("task error: " .. tostring(e)) end)
  local v3out = require("egoi.sandbox.v3.deliver").new(loop, cfg, log, st) -- v3 webhooks and callbacks
  local fire = v3out:wrap(callbacks.dispatcher(loop, cfg, log))
  local api = apimod.new(st, cfg, fire)
  api.v3out = v3out
  http.serve(loop, server, app.handler(api, cfg, log), {
    max_body = cfg.max_body, idle_timeout = 60, request_timeout = 30, max_requests_per_conn = 100000,
    stopping = function() return flag.stop end, log = log,
  })
  local signals = install_signals(flag)
  io.stdout:write(("egoi-sandbox listening on http://%s:%d\n"):format(host, port))
  io.stdout:flush()
  log(("ready: %d account(s), rate limit %s, over-limit mode %s, state %s%s"):format(#cfg.apikeys,
    cfg.rate_calls > 0 and (cfg.rate_calls .. "/" .. cfg.rate_window .. "s") or "off", cfg.over_limit,
    cfg.state or "in memory", signals and "" or " (no lua-posix: state saved after every change)"))
  while not flag.stop do loop:step(0.25) end
  -- drain: give in-flight work a moment, then save
  for _ = 1, 8 do if loop.ntasks <= 1 then break end loop:step(0.05) end
  server:close()
  st:save()
  log("stopped")
  return 0
end

return M
