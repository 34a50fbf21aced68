-- egoi.cli - the `egoi` command line (bin/egoi is a thin wrapper around cli.main).
--
--   local code = require("egoi.cli").main(argv, { bindir = "/path/to/bin" })
--
-- Exit codes: 0 ok, 1 API/business error, 2 usage error, 3 transport/HTTP/protocol error,
-- 4 rate limit. Errors go to stderr as `egoi: CODE: message`. See doc/CLI.md.
local output = require "egoi.cli.output"

local cli = {}

local type, tostring, tonumber, pairs, ipairs, error, pcall =
  type, tostring, tonumber, pairs, ipairs, error, pcall

local EXIT = { api = 1, usage = 2, transport = 3, http = 3, protocol = 3, rate_limit = 4 }
cli.EXIT = EXIT

-- a usage problem found by the CLI itself
local Usage = {}
local function usage(message, code)
  error(setmetatable({ kind = "usage", code = code or "USAGE", message = message }, Usage), 0)
end

local GLOBAL_HELP = [[
usage: egoi [--json] [--quiet] [--sandbox] COMMAND [ARGS]

Drive the E-goi API v2 from the shell. The API key comes from EGOI_APIKEY (never from the
command line); EGOI_URL overrides the endpoint (https://api.e-goi.com/v2/rest.php).

commands:
  lists                               the account's lists
  lists create NAME [--language L]    create a list (language: pt br en es fr de; default en)
  fields LIST                         the extra fields of a list
  import LIST FILE.csv [options]      bulk import (egoi import --help)
  export LIST [FILE]                  every subscriber of a list as CSV (stdout without FILE)
  sync LIST FILE.csv [--dry-run]      make a list match a CSV file (egoi sync --help)
  campaigns                           the account's campaigns
  campaign create-email --list L --subject S --from ID (--url U | --html FILE)
  send HASH --list LIST [--segment S] send an e-mail campaign
  report HASH                         a campaign's report
  limits                              local rate-limit status (spends no call)
  call METHOD [key=value ...]         any v2 method; a.b=v nests (functionOptions[a][b])
  sandbox [--port N] [ARGS]           run the local sandbox server (bin/egoi-sandbox)

global options:
  --json      one JSON document on stdout instead of tables
  --quiet     no progress or notes on stderr
  --sandbox   run the command against a private sandbox started for it (and stopped after)
  --help      this text; `egoi COMMAND --help` for one command

environment: EGOI_APIKEY, EGOI_URL, EGOI_RATE_LIMIT (calls[/seconds], or "off"),
  EGOI_RATE_STATE (rate-limit state file shared by processes using one key),
  EGOI_RATE_REDIS (redis://[user:password@]host:port/db: one window for every host)
exit codes: 0 ok, 1 API error, 2 usage error, 3 transport/HTTP/protocol error, 4 rate limit
]]

local HELP = {
  lists = [[
usage: egoi lists
       egoi lists create NAME [--language pt|br|en|es|fr|de] [--sms]
List the account's mailing lists, or create one (e-mail channel on; --sms adds SMS).
]],
  fields = [[
usage: egoi fields LIST
The extra fields of a list: id, name, type. In an import, a column named like an extra
field (or extra_<id>) fills it.
]],
  import = [[
usage: egoi import LIST FILE.csv [options]
Import subscribers from a CSV file (first line = column names) with as few addSubscriberBulk
calls as --max-bytes allows. Bad rows are reported with their line numbers and never sent.
  --map COL=FIELD       rename a column (repeatable); COL=- skips the column
  --journal FILE        resumable import: a rerun skips the chunks FILE records as accepted
  --max-bytes N         request size cap (default 40M; k/M/G suffixes)
  --max-rows N          rows per call cap
  --max-fields N        form fields per call cap
  --compare-field F     duplicate key (default email)
  --operation N         2 = add or update (default), 1 = add only
  --status N            default status 0-4 for new subscribers
  --tags ID[,ID...]     tag ids for every imported subscriber
  --rejects FILE        every row not imported as CSV (line, reason, row), kept across resumes
  --encoding E          utf-8 (default: invalid UTF-8 rejects the row), latin1, windows-1252
First Ctrl-C/SIGTERM: the call in flight finishes and is journaled, then exit 130/143; a
second one aborts. Exit 1 (NOTHING_IMPORTED) when no row was imported.
Fields: email cellphone telephone fax first_name last_name birth_date (YYYY-MM-DD) lang
status tax_id address zip_code city district state country age gender id_card company
tags extra_<id>, or an extra field's name. Phones: 351-912345678 or +351912345678.
]],
  export = [[
usage: egoi export LIST [FILE]
Write every subscriber of LIST as CSV (header = every field seen). Without FILE the CSV goes
to stdout (then --json is not allowed); the summary goes to stderr.
  --page-size N        records per call (default 1000)
Short pages do not end the export early: the count is checked against the list's (one
getLists call); fewer records than that exits 1 (EXPORT_INCOMPLETE).
]],
  campaigns = "usage: egoi campaigns\nThe account's campaigns (hash, list, channel, status, subject).\n",
  campaign = [[
usage: egoi campaign create-email --list L --subject S --from SENDER_ID (--url U | --html FILE)
                                  [--name INTERNAL_NAME]
Create an e-mail campaign; prints its hash. Sender ids: egoi call getSenders.
]],
  send = "usage: egoi send HASH --list LIST [--segment SEGMENT]\nSend an e-mail campaign to a list "
    .. "(all subscribers, or one segment).\n",
  report = "usage: egoi report HASH\nA campaign's report (sent, views, clicks, bounces, ...).\n",
  limits = "usage: egoi limits\nThe local rate-limit window for EGOI_APIKEY: calls used, left, reset time."
    .. " Spends no call.\n",
  call = [[
usage: egoi call METHOD [key=value ...]
Call any v2 method. Values are strings; a.b=v nests as functionOptions[a][b]=v and
tags.0=5 tags.1=7 makes a list. Prints the normalised result.
]],
  sandbox = "usage: egoi sandbox [--port N] [egoi-sandbox options]\nRun the local E-goi sandbox "
    .. "in the foreground (egoi sandbox --help for its options).\n",
}

---------------------------------------------------------------------------
-- argument parsing

-- spec: { values = { name = "single"|"multi" }, flags = { name = true } }
local function parse(argv, spec)
  local pos, opt = {}, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do pos[#pos + 1] = argv[j] end
      break
    end
    local name, val = a:match("^%-%-([%w%-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w%-]+)$") end
    if name then
      local kind = spec.values and spec.values[name]
      if kind then
        if val == nil then
          i = i + 1
          val = argv[i]
          if val == nil then usage("option --" .. name .. " needs a value") end
        end
        if kind == "multi" then
          opt[name] = opt[name] or {}
          opt[name][#opt[name] + 1] = val
        else
          opt[name] = val
        end
      elseif spec.flags and spec.flags[name] then
        opt[name] = true
      else
        usage("unknown option --" .. name)
      end
    elseif a == "-h" then
      opt.help = true
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return pos, opt
end
cli._parse = parse

local function size_arg(s, name)
  local n, suffix = tostring(s):match("^(%d+)([kKmMgG]?)$")
  if not n then usage(("--%s must be a number (k, M, G suffixes allowed): %s"):format(name, s)) end
  local mult = ({ [""] = 1, k = 1024, K = 1024, m = 1048576, M = 1048576, g = 1073741824, G = 1073741824 })[suffix]
  return tonumber(n) * mult
end

local function int_arg(s, name)
  local n = tonumber(s)
  if not n or n ~= math.floor(n) then usage(("--%s must be an integer: %s"):format(name, tostring(s))) end
  return n
end

---------------------------------------------------------------------------
-- environment: client, sandbox

local function rate_limit_from_env(env)
  local v = env("EGOI_RATE_LIMIT")
  local state = env("EGOI_RATE_STATE")
  if v == "off" or v == "0" then return false end
  local rl = {}
  if v and v ~= "" then
    local c, w = v:match("^(%d+)/?(%d*)$")
    if not c then usage("EGOI_RATE_LIMIT must be CALLS[/SECONDS] or off: " .. v) end
    rl.calls = tonumber(c)
    if w ~= "" then rl.window = tonumber(w) end
  end
  if state and state ~= "" then rl.state_file = state end
  local redis = env("EGOI_RATE_REDIS")
  if redis and redis ~= "" then rl.redis = redis end
  return rl
end

local function endpoint(url)
  if url:match("^https?://[^/]+/?$") then
    return (url:gsub("/$", "")) .. "/v2/rest.php"
  end
  return url
end

---------------------------------------------------------------------------
-- commands

local commands = {}

local function lists_cmd(ctx, pos, opt)
  local sub = pos[1]
  if sub == nil then
    local res = ctx.call("getLists", {})
    local rows = type(res) == "table" and res[1] and res or {}
    if ctx.json then return output.json(rows) end
    output.table({ { key = "listnum", title = "ID" }, { key = "title", title = "TITLE" },
      { key = "idioma", title = "LANG" }, { key = "subs_activos", title = "ACTIVE" },
      { key = "subs_total", title = "TOTAL" } }, rows)
  elseif sub == "create" then
    local name = pos[2]
    if not name or pos[3] then usage("usage: egoi lists create NAME [--language L]") end
    local res = ctx.call("createList", { nome = name, idioma_lista = opt.language or "en",
      canal_email = 1, canal_sms = opt.sms and 1 or 0 })
    if ctx.json then return output.json(res) end
    io.stdout:write("created list ", tostring(res.LIST_ID), "\n")
  else
    usage("unknown subcommand 'lists " .. tostring(sub) .. "'")
  end
end
commands.lists = { fn = lists_cmd, values = { language = "single" }, flags = { sms = true } }

commands.fields = { fn = function(ctx, pos)
  if #pos ~= 1 then usage("usage: egoi fields LIST") end
  local res = ctx.call("getExtraFields", { listID = pos[1] })
  local rows = {}
  local ef = type(res) == "table" and res.extra_fields
  if type(ef) == "table" then
    for k, f in pairs(ef) do
      if type(f) == "table" then
        local id = f.ID or f.id or tostring(k):match("^key_(%d+)$") or tostring(k)
        rows[#rows + 1] = { id = tostring(id), name = f.NAME or f.name, type = f.TYPE or f.type,
          field = "extra_" .. tostring(id) }
      end
    end
  end
  table.sort(rows, function(a, b) return (tonumber(a.id) or 0) < (tonumber(b.id) or 0) end)
  if ctx.json then return output.json(rows) end
  output.table({ { key = "id", title = "ID" }, { key = "field", title = "FIELD" },
    { key = "name", title = "NAME" }, { key = "type", title = "TYPE" } }, rows)
end }

-- what an import printed on stdout, also when it was interrupted or failed half-way
local function import_summary(s, opt)
  local out = io.stdout
  out:write(("read %d rows: %d sent in %d calls (%d chunks, %s), %d rejected%s\n"):format(
    s.rows, s.sent, s.calls, s.chunks, output.bytes(s.bytes), s.rejected_count,
    s.skipped > 0 and (", " .. s.skipped .. " skipped (already imported per the journal)") or ""))
  if s.added + s.updated + s.ignored > 0 then
    out:write(("service: %d added, %d updated, %d ignored\n"):format(s.added, s.updated, s.ignored))
  end
  for i, r in ipairs(s.rejected) do
    if i > 20 then
      out:write(("... and %d more%s\n"):format(s.rejected_count - 20,
        opt.rejects and (" (all in " .. opt.rejects .. ")") or " (use --rejects FILE for all)"))
      break
    end
    out:write(("line %d: %s\n"):format(r.line, r.reason))
  end
  for _, f in ipairs(s.failed) do
    out:write(("line %s: refused by the service: %s\n"):format(tostring(f.line), tostring(f.code)))
  end
  if #s.ignored_columns > 0 then
    out:write("ignored read-only columns: ", table.concat(s.ignored_columns, ", "), "\n")
  end
  for _, w in ipairs(s.warnings or {}) do out:write("note: ", w, "\n") end
  if s.stopped then out:write("stopped early\n") end
end

local SIGNAL_EXIT = { SIGINT = 130, SIGTERM = 143 }

commands.import = {
  values = { map = "multi", journal = "single", ["max-bytes"] = "single", ["max-rows"] = "single",
    ["max-fields"] = "single", ["compare-field"] = "single", operation = "single", status = "single",
    tags = "single", rejects = "single", encoding = "single" },
  fn = function(ctx, pos, opt)
    if #pos ~= 2 then usage("usage: egoi import LIST FILE.csv [options]") end
    local bulk = require "egoi.bulk"
    local map
    for _, m in ipairs(opt.map or {}) do
      local col, field = m:match("^(.-)=(.*)$")
      if not col or col == "" then usage("--map wants COLUMN=FIELD (or COLUMN=- to skip): " .. m) end
      map = map or {}
      if field == "" or field == "-" then map[col] = false else map[col] = field end
    end
    local tags
    if opt.tags then
      tags = {}
      for t in opt.tags:gmatch("[^,%s]+") do
        if not t:match("^[1-9]%d*$") then
          usage("--tags wants tag ids (positive integers, comma-separated): " .. opt.tags)
        end
        tags[#tags + 1] = t
      end
      if #tags == 0 then usage("--tags wants tag ids (positive integers, comma-separated)") end
    end
    if opt.operation and opt.operation ~= "1" and opt.operation ~= "2" then
      usage("--operation must be 1 (add only) or 2 (add or update): " .. opt.operation)
    end
    if opt.status and not opt.status:match("^[0-4]$") then usage("--status must be 0, 1, 2, 3 or 4: " .. opt.status) end
    if opt.encoding and not require("egoi.charset").normalize_name(opt.encoding) then
      usage("--encoding must be utf-8, latin1 or windows-1252: " .. opt.encoding)
    end
    local core = require "egoi.core"
    local bar = ctx.progress
    local o = {
      listID = pos[1], map = map, journal = opt.journal, rejects = opt.rejects, encoding = opt.encoding,
      max_bytes = opt["max-bytes"] and size_arg(opt["max-bytes"], "max-bytes"),
      max_rows = opt["max-rows"] and int_arg(opt["max-rows"], "max-rows"),
      max_fields = opt["max-fields"] and int_arg(opt["max-fields"], "max-fields"),
      compare_field = opt["compare-field"],
      operation = opt.operation and int_arg(opt.operation, "operation"),
      status = opt.status, tags = tags, max_rejected = 1000,
      on_progress = bar and function(info)
        if info.phase == "wait" then bar:wait(info.wait, info.status) else bar:update(info) end
      end,
      -- first SIGINT/SIGTERM: finish the call in flight, journal it, stop; a second one kills
      should_stop = core.signals_caught,
    }
    core.signals_catch()
    local ok, s, err, partial = pcall(bulk.import, ctx.client, pos[2], o)
    core.signals_release()
    if not ok then error(s, 0) end
    if s == nil then
      -- a failure half-way: say what was done before the error
      if partial and partial.rows and not ctx.json then import_summary(partial, opt) end
      error(err, 0)
    end
    if ctx.json then
      s.failed = #s.failed > 0 and s.failed or nil
      output.json(s)
    else
      import_summary(s, opt)
    end
    if s.interrupted then
      error({ kind = "interrupted", code = "INTERRUPTED", exit = SIGNAL_EXIT[s.interrupted] or 130,
        message = ("stopped by %s after %d accepted chunk(s); %s"):format(s.interrupted, s.chunks,
          opt.journal and "rerun the same command to resume" or "without --journal a rerun starts over") }, 0)
    end
    if s.sent - s.refused <= 0 and s.skipped == 0 and not s.stopped then
      error({ kind = "api", code = "NOTHING_IMPORTED", message = s.rows == 0 and "the file has no data rows"
        or ("none of the %d rows was imported"):format(s.rows) }, 0)
    end
  end,
}

commands.export = {
  values = { ["page-size"] = "single" },
  fn = function(ctx, pos, opt)
    if #pos < 1 or #pos > 2 then usage("usage: egoi export LIST [FILE]") end
    local file = pos[2]
    if file == "-" then file = nil end
    if ctx.json and not file then usage("export --json needs a FILE (the CSV would share stdout)") end
    local bulk = require "egoi.bulk"
    local dest = file or function(text) io.stdout:write(text) end
    local res, err = bulk.export(ctx.client, pos[1], dest,
      { page_size = opt["page-size"] and int_arg(opt["page-size"], "page-size") })
    if res == nil then
      local x = type(err) == "table" and rawget(err, "export")
      if x and not ctx.quiet then
        io.stderr:write(("egoi: exported %d of the %s subscribers the list counts, in %d calls%s\n"):format(
          x.rows, tostring(x.total), x.calls, file and (" to " .. file) or ""))
      end
      error(err, 0)
    end
    if ctx.json then
      res.file = file
      return output.json(res)
    end
    if not ctx.quiet then
      io.stderr:write(("egoi: exported %d subscribers (%d columns) in %d calls%s\n"):format(
        res.rows, #res.columns, res.calls, file and (" to " .. file) or ""))
    end
  end,
}

commands.sync = require "egoi.cli.sync"
HELP.sync = commands.sync.help

commands.campaigns = { fn = function(ctx, pos)
  if #pos ~= 0 then usage("usage: egoi campaigns") end
  local res = ctx.call("getCampaigns", {})
  local rows = type(res) == "table" and res[1] and res or {}
  if ctx.json then return output.json(rows) end
  output.table({ { key = "HASH", title = "HASH" }, { key = "REF", title = "REF" },
    { key = "LISTNUM", title = "LIST" }, { key = "CHANNEL", title = "CHANNEL" },
    { key = "STATUS", title = "STATUS" }, { key = "SUBJECT", title = "SUBJECT" } }, rows)
end }

commands.campaign = {
  values = { list = "single", subject = "single", from = "single", url = "single", html = "single",
    name = "single" },
  fn = function(ctx, pos, opt)
    if pos[1] ~= "create-email" or #pos ~= 1 then
      usage("usage: egoi campaign create-email --list L --subject S --from ID (--url U | --html FILE)")
    end
    if not opt.list or not opt.subject or not opt.from then
      usage("campaign create-email needs --list, --subject and --from")
    end
    if (opt.url == nil) == (opt.html == nil) then
      usage("campaign create-email needs exactly one of --url and --html")
    end
    local args = { listID = opt.list, subject = opt.subject, fromID = opt.from, internal_name = opt.name }
    if opt.url then
      args.url = opt.url
    else
      local f, err = io.open(opt.html, "rb")
      if not f then usage("cannot read " .. opt.html .. ": " .. tostring(err), "FILE_ERROR") end
      args.message = f:read("*a")
      f:close()
    end
    local res = ctx.call("createCampaignEmail", args)
    if ctx.json then return output.json(res) end
    io.stdout:write("created campaign ", tostring(res.ID), "\n")
  end,
}

commands.send = {
  values = { list = "single", segment = "single" },
  fn = function(ctx, pos, opt)
    if #pos ~= 1 or not opt.list then usage("usage: egoi send HASH --list LIST [--segment S]") end
    local res = ctx.call("sendEmail", { campaign = pos[1], listID = opt.list, segment = opt.segment or "ALL" })
    if ctx.json then return output.json(res) end
    io.stdout:write("sending campaign ", pos[1], " (", tostring(res.ID or "ok"), ")\n")
  end,
}

commands.report = { fn = function(ctx, pos)
  if #pos ~= 1 then usage("usage: egoi report HASH") end
  local res = ctx.call("getReport", { campaign = pos[1] })
  if ctx.json then return output.json(res) end
  output.tree(res)
end }

commands.limits = { needs_server = false, fn = function(ctx, pos)
  if #pos ~= 0 then usage("usage: egoi limits") end
  local st = ctx.client:rate_limit_status()
  -- the window in Redis (EGOI_RATE_REDIS): every host's calls; say where, or why not
  local lim = ctx.client._limiter and ctx.client._limiter.lim
  local shared = lim and getmetatable(lim) == require("egoi.limiter.redis").Limiter and lim or nil
  if shared then
    local used, code, msg = shared:status(0)
    if used == nil then error({ kind = "rate_limit", code = code, message = msg }, 0) end
    if st then st.shared = "redis://" .. shared.where end
  end
  if ctx.json then return output.json(st or { disabled = true }) end
  if not st then
    io.stdout:write("rate limiting is off\n")
    return
  end
  io.stdout:write(("%d of %d calls used in the current %s window%s, %d left"):format(
    st.used, st.calls, output.duration(st.window), st.shared and (" shared in " .. st.shared) or "",
    st.remaining))
  if st.used > 0 then io.stdout:write(("; a slot frees in %s"):format(output.duration(st.reset_in))) end
  io.stdout:write("\n")
end }

-- key=value arguments into a nested table (a.b=v)
local function call_args(pos)
  local opts = {}
  for i = 2, #pos do
    local k, v = pos[i]:match("^([^=]+)=(.*)$")
    if not k then usage("egoi call: arguments are key=value: " .. pos[i]) end
    local node = opts
    local parts = {}
    for p in k:gmatch("[^%.]+") do parts[#parts + 1] = p end
    for j = 1, #parts - 1 do
      local p = parts[j]
      if type(node[p]) ~= "table" then
        if node[p] ~= nil then usage("egoi call: '" .. k .. "' clashes with an earlier value") end
        node[p] = {}
      end
      node = node[p]
    end
    if type(node[parts[#parts]]) == "table" then usage("egoi call: '" .. k .. "' clashes with a nested value") end
    node[parts[#parts]] = v
  end
  return opts
end
cli._call_args = call_args

commands.call = { fn = function(ctx, pos)
  if #pos < 1 then usage("usage: egoi call METHOD [key=value ...]") end
  local res = ctx.call(pos[1], call_args(pos))
  if ctx.json then return output.json(res) end
  output.tree(res)
end }

---------------------------------------------------------------------------
-- main

local function exit_code_of(err)
  if getmetatable(err) == Usage then return 2 end
  if type(err) == "table" and type(rawget(err, "exit")) == "number" then return err.exit end
  if type(err) == "table" and err.kind then return EXIT[err.kind] or 1 end
  return 3
end

local HINTS = {
  MAX_SUBSCRIBERS_FILE_LIMIT_EXCEEDED = "lower --max-bytes (the service takes at most 50 MB per call)",
  JOURNAL_CORRUPT = "the journal records what was already imported; inspect it before removing it",
  INVALID = "check EGOI_APIKEY",
  COULDNT_CONNECT = "check EGOI_URL / the network",
}

local function report_error(err)
  if type(err) == "table" and err.code then
    local msg = tostring(err.message or err.code)
    if err.method and not msg:find(err.method, 1, true) then msg = msg .. " (" .. err.method .. ")" end
    output.error(err.code, msg, HINTS[err.code])
  else
    output.error("INTERNAL", tostring(err))
  end
end

--- Run the command line. argv: array of arguments; env: { bindir =, getenv =, lua = }.
-- Returns the exit code.
function cli.main(argv, env)
  env = env or {}
  local getenv = env.getenv or os.getenv
  -- global flags may stand anywhere before or after the command
  local rest, g = {}, {}
  local cmdname
  for _, a in ipairs(argv) do
    if a == "--json" or a == "--quiet" or a == "--sandbox" then
      g[a:sub(3)] = true
    elseif (a == "--help" or a == "-h") and not cmdname then
      g.help = true
    elseif not cmdname and a:sub(1, 1) ~= "-" then
      cmdname = a
    elseif not cmdname then
      report_error({ code = "USAGE", message = "unknown option " .. a .. " (see egoi --help)" })
      return 2
    else
      rest[#rest + 1] = a
    end
  end
  if g.help and not cmdname then
    io.stdout:write(GLOBAL_HELP)
    return 0
  end
  if not cmdname then
    io.stderr:write(GLOBAL_HELP)
    return 2
  end
  if cmdname == "help" then
    io.stdout:write(HELP[rest[1]] or GLOBAL_HELP)
    return 0
  end
  local bindir = env.bindir or "."
  if cmdname == "sandbox" then
    local sb = require "egoi.cli.sandbox"
    for _, a in ipairs(rest) do
      if a == "--help" or a == "-h" then io.stdout:write(HELP.sandbox) end
    end
    local parts = { env.lua or "lua5.4", sb.shell_quote(bindir .. "/egoi-sandbox") }
    for _, a in ipairs(rest) do parts[#parts + 1] = sb.shell_quote(a) end
    local ok, how, code = os.execute(table.concat(parts, " "))
    if type(ok) == "number" then return ok == 0 and 0 or 1 end -- Lua 5.1
    if how == "exit" then return code end
    return ok and 0 or 1
  end
  local cmd = commands[cmdname]
  if not cmd then
    report_error({ code = "USAGE", message = "unknown command '" .. cmdname .. "' (see egoi --help)" })
    return 2
  end

  local sandbox_proc, client
  local ok, err = pcall(function()
    local pos, opt = parse(rest, { values = cmd.values, flags = (function()
      local f = { help = true }
      for k in pairs(cmd.flags or {}) do f[k] = true end
      return f
    end)() })
    if opt.help then
      io.stdout:write(HELP[cmdname] or GLOBAL_HELP)
      return
    end
    local apikey = getenv("EGOI_APIKEY")
    local url = getenv("EGOI_URL")
    local rate_limit = rate_limit_from_env(getenv)
    if g.sandbox then
      local sb = require "egoi.cli.sandbox"
      local proc, serr = sb.start(bindir .. "/egoi-sandbox", env.lua)
      if not proc then
        error({ kind = "transport", code = "SANDBOX_FAILED", message = serr }, 0)
      end
      sandbox_proc = proc
      url = proc.url
      if not apikey or apikey == "" then apikey = sb.DEFAULT_KEY end
      rate_limit = false
    end
    if not apikey or apikey == "" then
      usage("EGOI_APIKEY is not set (export EGOI_APIKEY=<your key>, or use --sandbox)", "NO_APIKEY")
    end
    local ctx = { json = g.json, quiet = g.quiet }
    if cmdname == "import" and not g.quiet then
      local progress = require "egoi.cli.progress"
      ctx.progress = progress.new{ tty = progress.isatty(2) }
      if type(rate_limit) == "table" then
        rate_limit.on_wait = function(wait, st) ctx.progress:wait(wait, st) end
      end
    end
    local egoi = require "egoi"
    client = egoi.new{ apikey = apikey, url = url and endpoint(url) or nil, rate_limit = rate_limit,
      raise = false, app = "egoi-cli", timeout = 300 }
    ctx.client = client
    ctx.key_id = require("egoi.core").key_id(apikey)
    function ctx.new_client(o) -- another API generation, same key, endpoint and limits
      local c = egoi.new{ api = o.api, apikey = apikey, rate_limit = rate_limit, raise = false, app = "egoi-cli",
        timeout = 300, url = url and (url:gsub("/v2/rest%.php$", ""):gsub("/$", "")) .. "/" or nil }
      local close = client.close
      function client.close(self) c:close(); return close(self) end
      return c
    end
    function ctx.call(method, args)
      local res, cerr = client:call(method, args)
      if res == nil then error(cerr, 0) end
      return res
    end
    cmd.fn(ctx, pos, opt)
  end)
  if client then client:close() end
  if sandbox_proc then sandbox_proc.stop() end
  io.stdout:flush()
  if ok then return 0 end
  report_error(err)
  return exit_code_of(err)
end

return cli
