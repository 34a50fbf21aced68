-- egoi export LIST [FILE]
local args = require "egoi.cli.args"
local output = require "egoi.cli.output"
local usage = args.usage

return {
  summary = { { "export LIST [FILE]", "every subscriber of a list as CSV (stdout without FILE)" } },
  help = [[
usage: egoi export LIST [FILE]
Write every subscriber of LIST as CSV (header = every field seen). Without FILE the CSV goes
to stdout (then --json is not allowed); the summary goes to stderr.
  --page-size N        records per call (default 1000)
Short pages do not end the export early: the count is checked against the list's (one
getLists call); fewer records than that exits 1 (EXPORT_INCOMPLETE).
]],
  values = { ["page-size"] = "single" },
  run = function(ctx, pos, opt)
    if #pos < 1 or #pos > 2 then usage("usage: egoi export LIST [FILE]") end
    local file = pos[2]
    if file == "-" then file = nil end
    if ctx.json and not file then usage("export --json needs a FILE (the CSV would share stdout)") end
    local page_size = opt["page-size"] and args.int(opt["page-size"], "page-size", 1, 1000000)
    local bulk = require "egoi.bulk"
    local dest = file or function(text) io.stdout:write(text) end
    local res, err = bulk.export(ctx.client, pos[1], dest, { page_size = page_size })
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
