-- egoi.cli.failure - what a failure means to the caller of `egoi`: its exit code, the line on
-- stderr (and with --json the document on stdout). Nothing of Lua's own (error text with
-- file:line, tracebacks) reaches the user: an unexpected error becomes one sentence.
local output = require "egoi.cli.output"
local args = require "egoi.cli.args"
local methods = require "egoi.methods"

local failure = {}

local type, tostring = type, tostring

-- documented in doc/CLI.md and `egoi --help`
local EXIT = {
  ok = 0,
  api = 1,        -- the service refused the call: nothing was done
  usage = 2,      -- bad arguments, options, environment or files: nothing was sent
  transport = 3,  -- no usable answer, and nothing was applied (or the call only read)
  rate_limit = 4, -- the local or the server's rate limit said no: nothing was sent
  unknown = 5,    -- the outcome is unknown: the request may have been applied
  ledger = 6,     -- the send ledger refused a repeat (or cannot be read): nothing was sent
  internal = 70,  -- a bug in egoi: please report it
  interrupted = 130,
}
failure.EXIT = EXIT

failure.REPORT_TO = "lua-egoi's issue tracker"

local LEDGER_CODES = { ALREADY_SENT = true, SEND_OUTCOME_UNKNOWN = true, SEND_IN_PROGRESS = true,
  LEDGER_CORRUPT = true }

local function is_write(err)
  if type(err.method) ~= "string" then return false end
  if not methods.lookup(err.method) then
    -- an API v3 operation (getAllLists, searchContacts, ...) or a raw "VERB /path"
    local op = require("egoi.v3.operations").lookup(err.method)
    if op then return not op.read_only end
    local verb = err.method:match("^(%u+) /")
    if verb then return verb ~= "GET" end
  end
  return not methods.is_read_only(err.method)
end

--- true when err says the request may have been applied (a write that got no clear answer).
function failure.outcome_unknown(err)
  if type(err) ~= "table" or err.kind == "usage" or err.kind == "rate_limit" then return false end
  if err.retryable then return false end
  if type(err.reason) == "string" then return true end
  -- a write whose answer could not be read: the service may well have done it
  return err.kind == "protocol" and is_write(err)
end

--- "usage" | "api" | "transport" | "rate_limit" | "unknown" | "ledger" | "internal" | "interrupted"
function failure.class(err)
  if args.is_usage(err) then return "usage" end
  if type(err) ~= "table" then
    if type(err) == "string" and err:find("interrupted!", 1, true) then return "interrupted" end
    return "internal"
  end
  if type(err.code) ~= "string" then return "internal" end
  if LEDGER_CODES[err.code] then return "ledger" end
  if err.kind == "interrupted" then return "interrupted" end
  if failure.outcome_unknown(err) then return "unknown" end
  local k = err.kind
  if k == "usage" then return "usage" end
  if k == "api" then return "api" end
  if k == "rate_limit" then return "rate_limit" end
  if k == "transport" or k == "http" or k == "protocol" then return "transport" end
  return "internal"
end

function failure.exit_code(err)
  local cls = failure.class(err)
  if cls == "interrupted" and type(err) == "table" and type(rawget(err, "exit")) == "number" then
    return err.exit
  end
  return EXIT[cls]
end

local HINTS = {
  MAX_SUBSCRIBERS_FILE_LIMIT_EXCEEDED = "lower --max-bytes (the service takes at most 50 MB per call)",
  JOURNAL_CORRUPT = "the journal records what was already imported; inspect it before removing it",
  INVALID = "check EGOI_APIKEY (with --sandbox the sandbox's own key is used)",
  COULDNT_CONNECT = "check EGOI_URL / the network",
  TIMEOUT = "a slow server: raise --timeout (or EGOI_TIMEOUT)",
  RATE_LIMITED = "egoi limits shows when a slot frees",
  LEDGER_CORRUPT = "the ledger records what was already sent; repair or move it, never just delete it",
}

-- code, message, hint for any error value; never Lua's own text
local function describe(err, cls)
  if cls == "interrupted" and type(err) == "table" and err.message then
    return err.code, tostring(err.message), nil -- the import's own account of where it stopped
  elseif cls == "interrupted" then
    return "INTERRUPTED", "interrupted (Ctrl-C); a call in flight may have reached the server", nil
  end
  if cls == "internal" then
    return "INTERNAL", "egoi failed unexpectedly (a bug, not your input); please report it at "
      .. failure.REPORT_TO .. " with the command you ran (never your API key)", nil
  end
  local msg = tostring(err.message or err.code)
  if err.method and not msg:find(err.method, 1, true) then msg = msg .. " (" .. err.method .. ")" end
  if cls == "unknown" then
    msg = "the outcome is unknown: the request may have been applied (" .. msg .. ")"
  end
  if type(err.reason) == "string" and not msg:find(err.reason, 1, true) then
    msg = msg .. "; " .. err.reason
  end
  return err.code, msg, err.hint or HINTS[err.code]
end

--- Report err: `egoi: CODE: message` (and a hint line) on stderr, and with json the document
-- {"error":{"code":…,"message":…,"exit":…}} on stdout. Returns the exit code.
function failure.report(err, json)
  local cls = failure.class(err)
  local code, msg, hint = describe(err, cls)
  -- an interrupted import says which signal stopped it (130 SIGINT, 143 SIGTERM)
  local exit = cls == "interrupted" and type(err) == "table" and type(rawget(err, "exit")) == "number"
    and err.exit or EXIT[cls]
  output.error(code, msg, hint)
  if json then
    local stopped = cls == "interrupted" and type(err) == "table" and err or nil
    output.json({ error = { code = code, message = msg, hint = hint, exit = exit,
      outcome_unknown = (cls == "unknown" or (stopped and stopped.outcome_unknown == true)) or nil,
      -- egoi.cli.interrupt: { signal =, in_flight = "read"|"write"|false, outcome = }
      interrupted = stopped and type(stopped.interrupted) == "table" and stopped.interrupted or nil } })
  end
  return exit
end

return failure
