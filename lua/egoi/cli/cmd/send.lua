-- egoi send HASH --list LIST [--segment S] [--again]
local output = require "egoi.cli.output"
local failure = require "egoi.cli.failure"
local usage = require("egoi.cli.args").usage

local function with_hint(err, hint)
  if type(err) ~= "table" then return err end
  local copy = {}
  for k, v in pairs(err) do copy[k] = v end
  copy.hint = hint
  return copy
end

-- a failed send's error, with the way on when the outcome is unknown or it was sent already
-- (prog: "egoi", or "egoi --api v3")
local function hinted(res, hash, opt, prog)
  local cls = failure.class(res)
  local again = ("%s send %s --list %s%s --again"):format(prog, hash, opt.list,
    opt.segment and (" --segment " .. opt.segment) or "")
  if cls == "unknown" or (type(res) == "table" and res.code == "SEND_OUTCOME_UNKNOWN") then
    return with_hint(res, ("before retrying, check what went out: `%s report %s` (SENT) or the "
      .. "campaign in the E-goi dashboard; only if nothing was sent: %s"):format(prog, hash, again))
  elseif type(res) == "table" and res.code == "ALREADY_SENT" then
    return with_hint(res, ("`%s report %s` shows what went out; to send it once more: %s")
      :format(prog, hash, again))
  end
  return res
end

return {
  hinted = hinted,
  summary = { { "send HASH --list LIST [--segment S] [--again]", "send an e-mail campaign (once: see the ledger)" } },
  help = [[
usage: egoi send HASH --list LIST [--segment SEGMENT] [--again] [--ledger PATH]
Send an e-mail campaign to a list (all subscribers, or one segment). Every send is recorded in
a local ledger before the call (pending) and after it (sent / failed / unknown); a send whose
ledger entry says "sent" or "unknown" is refused (exit 6) until you pass --again. Ledger:
--ledger PATH, EGOI_LEDGER, else $XDG_STATE_HOME/egoi/sends.ledger (~/.local/state/egoi/...).
Exit 5 means the outcome is unknown (the request may have been applied): check
`egoi report HASH` before sending again.
]],
  values = { list = "single", segment = "single" }, flags = { again = true },
  run = function(ctx, pos, opt)
    if #pos ~= 1 or not opt.list then usage("usage: egoi send HASH --list LIST [--segment S]") end
    local hash = pos[1]
    local ok, res = pcall(ctx.call, "sendEmail", { campaign = hash, listID = opt.list,
      segment = opt.segment or "ALL" })
    if not ok then error(hinted(res, hash, opt, "egoi"), 0) end
    if ctx.json then return output.json(res) end
    io.stdout:write("sending campaign ", hash, " (", tostring(type(res) == "table" and res.ID or "ok"), ")\n")
    if ctx.ledger_path and not ctx.quiet then
      io.stderr:write("egoi: send recorded in ", ctx.ledger_path, "\n")
    end
  end,
}
