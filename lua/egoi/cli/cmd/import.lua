-- egoi import LIST FILE.csv [options]
local output = require "egoi.cli.output"
local args = require "egoi.cli.args"
local usage = args.usage

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

return {
  summary = { { "import LIST FILE.csv [options]", "bulk import (egoi import --help)" } },
  help = [[
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
  values = { map = "multi", journal = "single", ["max-bytes"] = "single", ["max-rows"] = "single",
    ["max-fields"] = "single", ["compare-field"] = "single", operation = "single", status = "single",
    tags = "single", rejects = "single", encoding = "single" },
  progress = true,
  run = function(ctx, pos, opt)
    if #pos ~= 2 then usage("usage: egoi import LIST FILE.csv [options]") end
    local bulk = require "egoi.bulk"
    local core = require "egoi.core"
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
    if opt.encoding and not require("egoi.charset").normalize_name(opt.encoding) then
      usage("--encoding must be utf-8, latin1 or windows-1252: " .. opt.encoding)
    end
    local bar = ctx.progress
    local o = {
      listID = pos[1], map = map, journal = opt.journal, rejects = opt.rejects, encoding = opt.encoding,
      max_bytes = opt["max-bytes"] and args.size(opt["max-bytes"], "max-bytes"),
      max_rows = opt["max-rows"] and args.int(opt["max-rows"], "max-rows"),
      max_fields = opt["max-fields"] and args.int(opt["max-fields"], "max-fields"),
      compare_field = opt["compare-field"],
      operation = opt.operation and args.int(opt.operation, "operation", 1, 2),
      status = opt.status and tostring(args.int(opt.status, "status", 0, 4)), tags = tags, max_rejected = 1000,
      on_progress = function(info)
        if info.phase == "wait" then
          if ctx.report_wait then ctx.report_wait(info.wait, info.status or {}) end
        elseif bar then
          bar:update(info)
        end
      end,
      -- first SIGINT/SIGTERM (caught for every command: egoi.cli.interrupt): finish the call
      -- in flight, journal it, stop; a second one kills
      should_stop = core.signals_caught,
    }
    local ok, s, err, partial = pcall(bulk.import, ctx.client, pos[2], o)
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
