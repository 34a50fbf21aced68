-- egoi sync LIST FILE [--dry-run] [--remove unsubscribe|keep] [--key F] [--snapshot FILE]:
-- make LIST match FILE (egoi.sync) over the API the global --api names (ctx.client);
-- ctx.key_id (core.key_id of the key) names the default snapshot.
local output = require "egoi.cli.output"

local function usage(message)
  error({ kind = "usage", code = "USAGE", message = message }, 0)
end

local HELP = [[
usage: egoi sync LIST FILE.csv [--dry-run] [--remove unsubscribe|keep] [--api v2|v3]
                               [--key email|cellphone|telephone] [--snapshot FILE]
Make LIST match FILE (a CRM export; first line = column names): new and changed contacts are
imported in bulk, contacts of the list absent from FILE are unsubscribed (--remove keep leaves
them), unchanged ones are not sent at all. The list is read first with the largest pages.
  --dry-run        print the plan and the calls it will cost; no write is made
  --remove R       unsubscribe (default) or keep
  --api A          v2 (default) or v3 (v3: one unsubscribe call for up to 10,000 contacts;
                   v2: one removeSubscriber call per contact, stated before any call)
  --key F          the field that identifies a contact (default email)
  --snapshot FILE  where the list's state after the run is kept (default: a file per list and
                   key id in ${TMPDIR:-/tmp}/egoi-<uid>, a directory only you can enter)
A dry run and the real run read the same list and agree on the calls.
]]

local function fn(ctx, pos, opt)
  if #pos ~= 2 then usage("usage: egoi sync LIST FILE.csv [--dry-run] [--remove unsubscribe|keep] [--api v2|v3]") end
  -- --api is the CLI's global option: ctx.client already speaks that API
  local remove = opt.remove or "unsubscribe"
  if remove ~= "unsubscribe" and remove ~= "keep" then usage("--remove must be unsubscribe or keep: " .. remove) end
  local sync = require "egoi.sync"
  local client = ctx.client
  local snapshot = opt.snapshot
  if not snapshot and ctx.key_id then snapshot = sync.default_snapshot(ctx.key_id, pos[1]) end
  local stated = false
  local plan, err = sync.run(client, pos[1], pos[2], { key = opt.key, remove = remove, dry_run = opt["dry-run"],
    snapshot = snapshot or false, on_plan = function(p)
      -- the plan and its cost, before the first write (stderr with --json)
      if not ctx.quiet or not ctx.json then (ctx.json and io.stderr or io.stdout):write(sync.describe(p)) end
      stated = true
    end })
  if plan == nil then
    local p = type(err) == "table" and rawget(err, "sync")
    if p and not ctx.quiet then io.stderr:write(sync.describe(p)) end
    error(err, 0)
  end
  local out = { api = plan.api, list = plan.list_id, dry_run = opt["dry-run"] == true, new = #plan.new,
    changed = #plan.changed, unchanged = plan.unchanged, absent = #plan.absent, kept = plan.absent_kept,
    invalid = #plan.invalid, calls = plan.calls, chunks = plan.chunks, done = plan.done and
    { calls = plan.done.calls, imported = plan.done.imported, removed = plan.done.removed } or nil }
  if ctx.json then return output.json(out) end
  if not stated then io.stdout:write(sync.describe(plan)) end
  if plan.done then
    io.stdout:write(("done: %d calls, %d contacts sent, %d unsubscribed\n"):format(plan.done.calls,
      plan.done.imported, plan.done.removed))
  end
end

return { fn = fn, run = fn, help = HELP, flags = { ["dry-run"] = true },
  summary = { { "sync LIST FILE.csv [--dry-run]", "make a list match a CSV file (egoi sync --help)" } },
  values = { remove = "single", key = "single", snapshot = "single" } }
