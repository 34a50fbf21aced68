-- egoi senders [--channel email|sms]
local output = require "egoi.cli.output"
local usage = require("egoi.cli.args").usage

local CHANNELS = { email = "email", sms = "telemovel", telemovel = "telemovel", fax = "fax" }

return {
  summary = { { "senders [--channel email|sms]", "the account's senders (ids for --from)" } },
  help = [[
usage: egoi senders [--channel email|sms|fax]
The account's senders: FROMID (what `egoi campaign create-email --from` takes), address, channel.
]],
  values = { channel = "single" },
  run = function(ctx, pos, opt)
    if #pos ~= 0 then usage("usage: egoi senders [--channel email|sms|fax]") end
    local args = {}
    if opt.channel then
      args.channel = CHANNELS[opt.channel]
      if not args.channel then usage("--channel must be email, sms or fax: " .. opt.channel) end
    end
    local res = ctx.call("getSenders", args)
    local rows = {}
    for _, s in ipairs(type(res) == "table" and res or {}) do
      if type(s) == "table" then
        rows[#rows + 1] = { id = tostring(s.FROMID or s.id or ""), sender = s.SENDER, channel = s.CHANNEL,
          status = s.STATUS }
      end
    end
    if ctx.json then return output.json(output.array(rows)) end
    output.table({ { key = "id", title = "FROMID" }, { key = "sender", title = "SENDER" },
      { key = "channel", title = "CHANNEL" }, { key = "status", title = "STATUS" } }, rows)
  end,
}
