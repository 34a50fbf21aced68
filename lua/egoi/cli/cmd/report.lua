-- egoi report HASH
local output = require "egoi.cli.output"
local usage = require("egoi.cli.args").usage

return {
  summary = { { "report HASH", "a campaign's report" } },
  help = "usage: egoi report HASH\nA campaign's report (sent, views, clicks, bounces, ...).\n",
  run = function(ctx, pos)
    if #pos ~= 1 then usage("usage: egoi report HASH") end
    local res = ctx.call("getReport", { campaign = pos[1] })
    if ctx.json then return output.json(res) end
    output.tree(res)
  end,
}
