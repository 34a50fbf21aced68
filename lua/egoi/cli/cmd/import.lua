-- egoi import LIST FILE.csv [options]
local output = require "egoi.cli.output"
local args = require "egoi.cli.args"
local usage = args.usage

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
  --rejects FILE        write the rejected rows as CSV (line, reason, then the row)
Fields: email cellphone telephone fax first_name last_name birth_date (YYYY-MM-DD) lang
status tax_id address zip_code city district state country age gender id_card company
tags extra_<id>, or an extra field's name. Phones: 351-912345678 or +351912345678.
]],
  values = { map = "multi", journal = "single", ["max-bytes"] = "single", ["max-rows"] = "single",
    ["max-fields"] = "single", ["compare-field"] = "single", operation = "single", status = "single",
    tags = "single", rejects = "single" },
  progress = true,
  run = function(ctx, pos, opt)
    if #pos ~= 2 then usage("usage: egoi import LIST FILE.csv [options]") end
    local bulk = require "egoi.bulk"
    local map
    for _, m in ipairs(opt.map or {}) do
      local col, field = m:match("^(.-)=(.*)$")
      if not col or col == "" then usage("--map wants COLUMN=FIELD (or COLUMN=- to skip): " .. m) end
      map = map or {}
      map[col] = (field == "" or field == "-") and false or field
    end
    local tags
    if opt.tags then
      tags = {}
      for t in opt.tags:gmatch("[^,%s]+") do tags[#tags + 1] = t end
    end
    local rejects
    if opt.rejects then
      local csv = require "egoi.csv"
      local w, err = csv.writer(opt.rejects)
      if not w then usage("cannot write " .. opt.rejects .. ": " .. tostring(err), "FILE_ERROR") end
      rejects = w
      w:write({ "line", "reason", "row" })
    end
    local bar = ctx.progress
    local o = {
      listID = pos[1], map = map, journal = opt.journal,
      max_bytes = opt["max-bytes"] and args.size(opt["max-bytes"], "max-bytes"),
      max_rows = opt["max-rows"] and args.int(opt["max-rows"], "max-rows"),
      max_fields = opt["max-fields"] and args.int(opt["max-fields"], "max-fields"),
      compare_field = opt["compare-field"],
      operation = opt.operation and args.int(opt.operation, "operation", 1, 2),
      status = opt.status and tostring(args.int(opt.status, "status", 0, 4)), tags = tags, max_rejected = 1000,
      on_progress = bar and function(info) bar:update(info) end,
      on_reject = rejects and function(e)
        local parts = {}
        if type(e.row) == "table" then
          local keys = {}
          for k in pairs(e.row) do keys[#keys + 1] = tostring(k) end
          table.sort(keys)
          for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. tostring(e.row[k]) end
        end
        rejects:write({ tostring(e.line), e.reason, table.concat(parts, "; ") })
      end,
    }
    local ok, s, err = pcall(bulk.import, ctx.client, pos[2], o)
    if rejects then rejects:close() end
    if not ok then error(s, 0) end
    if s == nil then error(err, 0) end
    if ctx.json then
      s.failed = #s.failed > 0 and s.failed or nil
      return output.json(s)
    end
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
    if s.stopped then out:write("stopped early\n") end
  end,
}
