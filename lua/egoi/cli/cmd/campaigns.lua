-- egoi campaigns
local output = require "egoi.cli.output"
local usage = require("egoi.cli.args").usage

return {
  summary = { { "campaigns", "the account's campaigns" } },
  help = "usage: egoi campaigns\nThe account's campaigns (hash, list, channel, status, subject).\n",
  run = function(ctx, pos)
    if #pos ~= 0 then usage("usage: egoi campaigns") end
    local res = ctx.call("getCampaigns", {})
    local rows = type(res) == "table" and res[1] and res or {}
    if ctx.json then return output.json(output.array(rows)) end
    output.table({ { key = "HASH", title = "HASH" }, { key = "REF", title = "REF" },
      { key = "LISTNUM", title = "LIST" }, { key = "CHANNEL", title = "CHANNEL" },
      { key = "STATUS", title = "STATUS" }, { key = "SUBJECT", title = "SUBJECT" } }, rows)
  end,
}
