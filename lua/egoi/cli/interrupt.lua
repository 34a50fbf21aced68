-- egoi.cli.interrupt - what Ctrl-C (SIGINT) and SIGTERM do to an `egoi` command.
--
--   interrupt.arm()                    core.signals_catch() for the command's run
--   interrupt.watch(state, client)     note what each request was doing when the signal came
--   interrupt.sleep                    the client's sleep: a wait ends at once on the signal
--   interrupt.settle(state, res, err)  what the call in flight at the signal returned
--   interrupt.outcome(state, ok, err)  nil, or the error to report (exit 130 / 143)
--   interrupt.release()
--
-- The first signal sets a flag (csrc/signals.c); nothing in Lua runs while a request is in
-- flight, so C acts on it: a read (idempotent) in flight is ended by the transport's progress
-- callback within about a second (code INTERRUPTED), a wait (rate limit, Retry-After, retry
-- back-off) returns at once (core.sleep(s, true)) and this module's sleep raises. A write in
-- flight is never cut: it runs to its end or its timeout, so that its outcome is known and can
-- be told. No request starts once the flag is set (the watcher answers "not sent" for it).
-- A second signal ends the process at once (signals.c).
local core = require "egoi.core"
local failure = require "egoi.cli.failure"

local M = {}

local type, tostring, error, select = type, tostring, error, select
local unpack = table.unpack or rawget(_G, "unpack")

local SIGNAL_EXIT = { SIGINT = 130, SIGTERM = 143 }
local SIGNAL_NAME = { SIGINT = "Ctrl-C", SIGTERM = "SIGTERM" }
M.SIGNAL_EXIT = SIGNAL_EXIT

function M.arm() return core.signals_catch() == true end
function M.release() core.signals_release() end

-- raised by the client's sleep when the signal ends a wait: nothing is in flight then
local WAIT_ENDED = { kind = "interrupted", code = "INTERRUPTED", in_wait = true,
  message = "interrupted during a wait" }

function M.sleep(seconds)
  if core.sleep(seconds, true) then error(WAIT_ENDED, 0) end
end

local function pack(...) return { n = select("#", ...), ... } end

--- Wrap client's transport (the one way out for every request of the pipeline): refuse to
-- start a request once the signal came, and note what the request in flight at the signal
-- was (state.at: write, status | code, sent, method).
function M.watch(state, client)
  local inner = client._transport
  client._transport = {
    request = function(_, req)
      if core.signals_caught() then
        return nil, "INTERRUPTED", "not sent: interrupted before the request started", false
      end
      local r = pack(inner:request(req))
      if core.signals_caught() and not state.at then
        state.at = { write = req.idempotent ~= true, status = r[1], method = state.method,
          code = r[1] == nil and tostring(r[2]) or nil, sent = r[1] == nil and r[4] or nil }
      end
      return unpack(r, 1, r.n)
    end,
    close = function() if inner.close then return inner:close() end end,
  }
end

--- The call whose request was in flight at the signal returned res, err (ctx.call): its
-- outcome, whatever the command does next.
function M.settle(state, res, err)
  local at = state.at
  if at and at.answer == nil then at.answer = { ok = res ~= nil, err = err } end
end

-- what became of the write in flight, from what the transport saw (at) and what the command
-- made of it (ok, err): a sentence and a word for --json
local function write_outcome(at, ok, err)
  if at.status then
    if ok then return ("the service answered (HTTP %d) and accepted it"):format(at.status), "completed" end
    if type(err) == "table" and err.kind ~= "interrupted" then
      local cls = failure.class(err)
      if cls == "api" then
        return ("the service refused it (%s): nothing was done"):format(tostring(err.code)), "refused"
      elseif cls == "unknown" then
        return ("its answer could not be used (%s): the outcome is unknown, it may have been applied"):format(
          tostring(err.code)), "unknown"
      end
      return ("the service answered HTTP %d (%s)"):format(at.status, tostring(err.code)), "failed"
    end
    return ("the service answered (HTTP %d)"):format(at.status), "completed"
  end
  if at.sent == false then
    return ("it failed before reaching the server (%s): nothing was done"):format(at.code), "not_sent"
  end
  return ("it ended without an answer (%s): the outcome is unknown, it may have been applied"):format(
    at.code), "unknown"
end

--- The error to report when a signal was caught during the run (nil when none was): the
-- import's own account when it gave one, else what was in flight and what became of it.
function M.outcome(state, ok, err)
  local sig = core.signals_caught()
  if not sig then return nil end
  if not ok and type(err) == "table" and err.kind == "interrupted" and not err.in_wait then
    return err -- the import says where it stopped and how to resume
  end
  local at, how = state.at, SIGNAL_NAME[sig] or sig
  local what, in_flight, outcome, unknown
  local name = at and (at.method or (type(err) == "table" and type(err.method) == "string" and err.method))
  local named = name and (" (" .. name .. ")") or ""
  if not at then
    what = (not ok and type(err) == "table" and err.in_wait) and "no call was in flight (it came during a wait)"
      or "no call was in flight"
    what, in_flight, outcome = what .. "; nothing was sent after it", false, "not_sent"
  elseif not at.write then
    in_flight = "read"
    if at.code == "INTERRUPTED" then
      what, outcome = "a read was in flight" .. named .. "; it was ended at once (a read changes nothing)", "cut"
    else
      what, outcome = "a read was in flight" .. named .. "; it completed", "completed"
    end
    what = what .. "; nothing was sent after it"
  else
    in_flight = "write"
    local text
    if at.answer then ok, err = at.answer.ok, at.answer.err end
    text, outcome = write_outcome(at, ok, err)
    unknown = outcome == "unknown" or nil
    what = "a write was in flight" .. named .. "; it was let finish so that its outcome is known: "
      .. text .. "; nothing was sent after it"
  end
  return { kind = "interrupted", code = "INTERRUPTED", exit = SIGNAL_EXIT[sig] or 130,
    message = ("interrupted (%s): %s"):format(how, what), outcome_unknown = unknown,
    interrupted = { signal = sig, in_flight = in_flight, outcome = outcome } }
end

return M
