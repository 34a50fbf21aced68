-- egoi.cli - the `egoi` command line (bin/egoi is a thin wrapper around cli.main).
--
--   local code = require("egoi.cli").main(argv, { bindir = "/path/to/bin" })
--
-- This file parses the global options and dispatches to one module per command
-- (egoi.cli.cmd.<name>: { summary =, help =, values =, flags =, run = function(ctx, pos, opt) }).
-- Exit codes (egoi.cli.failure, doc/CLI.md): 0 ok, 1 API error, 2 usage error, 3 transport/HTTP/
-- protocol error (nothing applied), 4 rate limit, 5 outcome unknown (may have been applied),
-- 6 refused by the send ledger, 70 internal error, 130 interrupted.
local output = require "egoi.cli.output"
local args = require "egoi.cli.args"
local env_mod = require "egoi.cli.env"
local failure = require "egoi.cli.failure"
local interrupt = require "egoi.cli.interrupt"

local cli = {}

local type, tostring, pairs, ipairs, error, pcall = type, tostring, pairs, ipairs, error, pcall
local usage = args.usage

cli.EXIT = failure.EXIT
cli._parse = args.parse

local ORDER = { "lists", "fields", "segments", "tags", "senders", "import", "export", "sync",
  "campaigns", "campaign", "send", "report", "limits", "call" }
local COMMANDS = {}
for _, name in ipairs(ORDER) do COMMANDS[name] = true end

local function command(name, api)
  if api == "v3" then
    local v3 = require("egoi.cli.v3")[name]
    if v3 then return v3 end
  end
  return require("egoi.cli.cmd." .. name)
end
cli._call_args = function(pos) return command("call").call_args(pos) end

local function global_help()
  local lines = { [[
usage: egoi [--json] [--quiet] [--sandbox] [--timeout S] [--api v2|v3] [--protocol P] COMMAND [ARGS]

Drive the E-goi API v2 from the shell. The API key comes from EGOI_APIKEY (never from the
command line); EGOI_URL overrides the endpoint (https://api.e-goi.com/v2/rest.php; a bare
http://host:port means its endpoint of the protocol: /v2/rest.php, /v2/soap.php, ...).

commands:]] }
  local rows = {}
  for _, name in ipairs(ORDER) do
    for _, s in ipairs(command(name).summary) do rows[#rows + 1] = s end
  end
  rows[#rows + 1] = { "sandbox [--port N] [ARGS]", "run the local sandbox server (bin/egoi-sandbox)" }
  for _, r in ipairs(rows) do
    local left = "  " .. r[1]
    if #left > 38 then
      lines[#lines + 1] = left
      lines[#lines + 1] = (" "):rep(40) .. r[2]
    else
      lines[#lines + 1] = left .. (" "):rep(40 - #left) .. r[2]
    end
  end
  lines[#lines + 1] = ([[

global options:
  --json        one JSON document on stdout instead of tables; errors as {"error":{...}}
  --quiet       no progress, waits or notes on stderr
  --sandbox     run the command against a private sandbox started for it (and stopped after);
                the sandbox's own key is used, whatever EGOI_APIKEY says
  --timeout S   seconds per attempt of one call (default %d; EGOI_TIMEOUT); a read is tried at
                most %d times, a write once: one call ends within %s
  --ledger PATH the send ledger (EGOI_LEDGER; default $XDG_STATE_HOME/egoi/sends.ledger)
  --protocol P  rest (default), xmlrpc, soap or soap_any (EGOI_PROTOCOL); API v2 only
  --api V       v2 (default) or v3 (EGOI_API): v3 talks to https://api.egoiapp.com with v3's
                names (`egoi --api v3 COMMAND --help`; doc/CLI.md "API v3")
  --help        this text; `egoi COMMAND --help` for one command

environment: EGOI_APIKEY, EGOI_URL, EGOI_API, EGOI_PROTOCOL, EGOI_TIMEOUT, EGOI_LEDGER,
  EGOI_RATE_LIMIT (calls[/seconds], or "off"), EGOI_RATE_STATE (rate-limit state file shared by
  processes using one key), EGOI_RATE_REDIS (redis://[user:password@]host:port/db: one window
  for every host)
exit codes:
  0   ok
  1   the service refused the call (API error): nothing was done
  2   usage error (bad arguments, options, environment or file): nothing was sent
  3   transport/HTTP/protocol failure where nothing was applied
  4   rate limit (local or the server's): nothing was sent
  5   the outcome is unknown: the request may have been applied (check before retrying)
  6   refused by the send ledger (already sent, or an unknown outcome): nothing was sent
  70  internal error (a bug: please report it)
  130 interrupted (Ctrl-C; 143 SIGTERM): a read or a wait ends at once, a write in flight
      finishes first and the message says how; nothing is sent after it
]]):format(env_mod.DEFAULT_TIMEOUT, env_mod.RETRIES + 1,
    ("3 x S + 2 s (%d s by default)"):format(math.ceil(env_mod.call_bound(env_mod.DEFAULT_TIMEOUT))))
  return table.concat(lines, "\n")
end
cli.help = global_help

local GLOBAL_FLAGS = { ["--json"] = "json", ["--quiet"] = "quiet", ["--sandbox"] = "sandbox" }
local GLOBAL_VALUES = { ["--timeout"] = "timeout", ["--ledger"] = "ledger", ["--protocol"] = "protocol",
  ["--api"] = "api" }

-- global options may stand anywhere; the first word that is not an option is the command
local function split_globals(argv)
  local rest, g, cmdname = {}, {}, nil
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if type(a) ~= "string" then usage("arguments must be strings") end
    local gname, gval = a:match("^(%-%-[%w%-]+)=(.*)$")
    if a == "--" then
      for j = i, #argv do rest[#rest + 1] = argv[j] end
      break
    elseif GLOBAL_FLAGS[a] then
      g[GLOBAL_FLAGS[a]] = true
    elseif GLOBAL_VALUES[a] or (gname and GLOBAL_VALUES[gname]) then
      local key = GLOBAL_VALUES[gname or a]
      if gname == nil then
        i = i + 1
        gval = argv[i]
        if gval == nil then usage("option " .. a .. " needs a value") end
      end
      if g[key] ~= nil then usage("option --" .. key .. " given twice") end
      g[key] = gval
    elseif (a == "--help" or a == "-h") and not cmdname then
      g.help = true
    elseif not cmdname and a:sub(1, 1) ~= "-" then
      cmdname = a
    elseif not cmdname then
      usage("unknown option " .. a .. " (see egoi --help)")
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  return cmdname, rest, g
end

local function run_sandbox(env, rest)
  local sb = require "egoi.cli.sandbox"
  for _, a in ipairs(rest) do
    if a == "--help" or a == "-h" then
      io.stdout:write("usage: egoi sandbox [--port N] [egoi-sandbox options]\nRun the local E-goi sandbox "
        .. "in the foreground (its options follow).\n")
    end
  end
  local parts = { env.lua or "lua5.4", sb.shell_quote((env.bindir or ".") .. "/egoi-sandbox") }
  for _, a in ipairs(rest) do parts[#parts + 1] = sb.shell_quote(a) end
  local ok, how, code = os.execute(table.concat(parts, " "))
  if type(ok) == "number" then return ok == 0 and 0 or 1 end -- Lua 5.1
  if how == "exit" then return code end
  return ok and 0 or 1
end

-- one line on stderr (or the progress bar) for every rate-limit wait over a second
local function wait_reporter(ctx)
  return function(wait, st)
    if wait <= 1 or ctx.quiet then return end
    local until_t = os.date("%H:%M:%S", os.time() + math.ceil(wait))
    local text = ("waiting %s (until %s) for a rate-limit slot: %d of %d calls used in the %s window%s"):format(
      output.duration(wait), until_t, st.used or 0, st.calls or 150, output.duration(st.window or 3600),
      st.method and (", next call " .. st.method) or "")
    if ctx.progress then
      ctx.progress:wait(text)
    else
      io.stderr:write("egoi: ", text, "\n")
      io.stderr:flush()
    end
  end
end

local V3_URL = "https://api.egoiapp.com"

local function build_client(ctx, g, getenv, env, cmd, opt)
  local apikey = getenv("EGOI_APIKEY")
  local url = getenv("EGOI_URL")
  local rate_limit = env_mod.rate_limit(getenv)
  local timeout = env_mod.timeout(getenv, g.timeout)
  local api = ctx.api
  local protocol
  if api == "v3" then
    -- v3 has one protocol of its own (JSON over REST paths)
    local given = g.protocol and "--protocol" or (getenv("EGOI_PROTOCOL") or "") ~= "" and "EGOI_PROTOCOL"
    if given then
      usage(given .. " chooses among API v2's protocols; API v3 has one: drop " .. given
        .. " (or use --api v2)")
    end
  else
    protocol = env_mod.protocol(getenv, g.protocol)
  end
  if url == "" then url = nil end
  if g.sandbox then
    local sb = require "egoi.cli.sandbox"
    local proc, serr = sb.start((env.bindir or ".") .. "/egoi-sandbox", env.lua)
    if not proc then
      error({ kind = "transport", code = "SANDBOX_FAILED", message = serr }, 0)
    end
    ctx.sandbox_proc = proc
    url = proc.url
    apikey = sb.DEFAULT_KEY -- the sandbox's account, never an exported real key
    rate_limit = false
  end
  if not apikey or apikey == "" then
    usage("EGOI_APIKEY is not set (export EGOI_APIKEY=<your key>, or use --sandbox)", "NO_APIKEY")
  end
  if url then
    -- checked here (a usage error); the library turns a bare URL into its protocol's endpoint
    local resolved, uerr = require("egoi.endpoint").resolve(url, api == "v3" and V3_URL or nil)
    if not resolved then usage("EGOI_URL: " .. uerr) end
  end
  if cmd.progress and not g.quiet then
    local progress = require "egoi.cli.progress"
    ctx.progress = progress.new{ tty = progress.isatty(2) }
  end
  -- every rate-limit wait over a second is announced: the client's own waits (on_wait) and
  -- the ones an import does itself so that a Ctrl-C ends them (ctx.report_wait)
  ctx.report_wait = wait_reporter(ctx)
  if type(rate_limit) == "table" then rate_limit.on_wait = ctx.report_wait end
  local egoi = require "egoi"
  local client = egoi.new{ apikey = apikey, url = url, protocol = protocol, rate_limit = rate_limit, raise = false,
    api = api ~= "v2" and api or nil,
    app = "egoi-cli", timeout = timeout, connect_timeout = math.min(env_mod.CONNECT_TIMEOUT, timeout),
    sleep = interrupt.sleep } -- a wait ends at once on Ctrl-C/SIGTERM (egoi.cli.interrupt)
  ctx.client = client
  interrupt.watch(ctx.signal, client)
  ctx.key_id = require("egoi.core").key_id(apikey) -- names per-key local state (sync's snapshot)
  -- the send guard: on unless the command runs against a throwaway sandbox without --ledger
  local ledger = g.ledger or getenv("EGOI_LEDGER")
  if ledger == "" then ledger = nil end
  if g.sandbox and not ledger then
    ledger = os.tmpname()
    os.remove(ledger)
    ctx.temp_ledger = ledger
  end
  local guard = require "egoi.send_guard"
  ledger = ledger or guard.default_path(getenv)
  if not ledger then usage("no place for the send ledger: set HOME, XDG_STATE_HOME or EGOI_LEDGER") end
  guard.wrap(client, { path = ledger, again = opt.again == true,
    account = require("egoi.core").key_id(apikey) .. "@" .. tostring(url or (api == "v3" and "api.egoiapp.com"
      or "api.e-goi.com")) })
  ctx.ledger_path = not ctx.temp_ledger and ledger or nil
  return client
end

--- Run the command line. argv: array of arguments; env: { bindir =, getenv =, lua = }.
-- Returns the exit code.
function cli.main(argv, env)
  env = env or {}
  local getenv = env.getenv or os.getenv
  local ctx = { signal = {} } -- signal: what egoi.cli.interrupt saw in flight
  local json_errors = false
  local armed = false
  for _, a in ipairs(argv or {}) do if a == "--json" then json_errors = true end end
  local code = 0
  local ok, err = pcall(function()
    local cmdname, rest, g = split_globals(argv or {})
    ctx.json, ctx.quiet = g.json, g.quiet
    if g.help and not cmdname then
      io.stdout:write(global_help())
      return
    end
    if not cmdname then
      io.stderr:write(global_help())
      if g.json then output.json({ error = { code = "USAGE", message = "no command given", exit = 2 } }) end
      code = 2
      return
    end
    ctx.api = env_mod.api(getenv, g.api)
    if cmdname == "help" then
      local name = rest[1]
      io.stdout:write(name and COMMANDS[name] and command(name, ctx.api).help or global_help())
      return
    end
    if cmdname == "sandbox" then
      code = run_sandbox(env, rest)
      return
    end
    if not COMMANDS[cmdname] then usage("unknown command '" .. cmdname .. "' (see egoi --help)") end
    local cmd = command(cmdname, ctx.api)
    local flags = { help = true }
    for k in pairs(cmd.flags or {}) do flags[k] = true end
    local pos, opt = args.parse(rest, { values = cmd.values, flags = flags })
    if opt.help then
      io.stdout:write(cmd.help)
      return
    end
    if cmd.refuse then cmd.refuse(ctx, pos, opt) end -- a usage error before any client or sandbox
    -- from here on the first Ctrl-C/SIGTERM is a flag: a read in flight or a wait ends at once,
    -- a write in flight finishes, nothing starts after it; exit 130/143 (egoi.cli.interrupt)
    armed = interrupt.arm()
    local client = build_client(ctx, g, getenv, env, cmd, opt)
    function ctx.call(method, a, empty_codes)
      ctx.signal.method = method
      local res, cerr = client:call(method, a)
      ctx.signal.method = nil
      interrupt.settle(ctx.signal, res, cerr)
      if res == nil then
        if empty_codes and type(cerr) == "table" and empty_codes[cerr.code] then return {} end
        error(cerr, 0)
      end
      return res
    end
    -- v3: ctx.v3("lists", "all", ...) calls client.lists:all(...); a failure raises its error
    function ctx.v3(resource, method, ...)
      local r = client[resource]
      local res, cerr = r[method](r, ...)
      if res == nil and cerr ~= nil then error(cerr, 0) end
      return res
    end
    cmd.run(ctx, pos, opt)
  end)
  -- a signal caught during the run decides the exit: 130 (SIGINT) or 143 (SIGTERM)
  local stopped = armed and interrupt.outcome(ctx.signal, ok, err)
  if stopped then ok, err = false, stopped end
  if ctx.client then pcall(ctx.client.close, ctx.client) end
  if ctx.sandbox_proc then pcall(ctx.sandbox_proc.stop) end
  if ctx.temp_ledger then os.remove(ctx.temp_ledger) end
  if armed then interrupt.release() end
  pcall(io.stdout.flush, io.stdout)
  if ok then return code end
  local exit = failure.report(err, json_errors or ctx.json)
  if exit == failure.EXIT.internal and getenv("EGOI_DEBUG") == "1" then
    -- for a bug report: the raw error, only when asked for
    io.stderr:write("egoi: debug: ", tostring(type(err) == "table" and (err.message or err.code) or err), "\n")
  end
  return exit
end

return cli
