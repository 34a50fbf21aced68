-- egoi campaign create-email ...
local output = require "egoi.cli.output"
local usage = require("egoi.cli.args").usage

local MAX_HTML = 16 * 1024 * 1024

return {
  summary = { { "campaign create-email --list L --subject S --from ID (--url U | --html FILE)",
    "create an e-mail campaign" } },
  help = [[
usage: egoi campaign create-email --list L --subject S --from SENDER_ID (--url U | --html FILE)
                                  [--name INTERNAL_NAME]
Create an e-mail campaign; prints its hash. Sender ids: egoi senders.
]],
  values = { list = "single", subject = "single", from = "single", url = "single", html = "single",
    name = "single" },
  run = function(ctx, pos, opt)
    if pos[1] ~= "create-email" or #pos ~= 1 then
      usage("usage: egoi campaign create-email --list L --subject S --from ID (--url U | --html FILE)")
    end
    if not opt.list or not opt.subject or not opt.from then
      usage("campaign create-email needs --list, --subject and --from")
    end
    if (opt.url == nil) == (opt.html == nil) then
      usage("campaign create-email needs exactly one of --url and --html")
    end
    local args = { listID = opt.list, subject = opt.subject, fromID = opt.from, internal_name = opt.name }
    if opt.url then
      args.url = opt.url
    else
      local ok = os.execute("test -f '" .. opt.html:gsub("'", "'\\''") .. "'")
      if not (ok == true or ok == 0) then usage("--html: " .. opt.html .. " is not a readable file", "FILE_ERROR") end
      local f, err = io.open(opt.html, "rb")
      if not f then usage("cannot read " .. opt.html .. ": " .. tostring(err), "FILE_ERROR") end
      args.message = f:read(MAX_HTML + 1)
      f:close()
      if args.message and #args.message > MAX_HTML then usage("--html: " .. opt.html .. " is over 16 MB") end
      if not args.message or args.message == "" then usage("--html: " .. opt.html .. " is empty") end
    end
    local res = ctx.call("createCampaignEmail", args)
    if ctx.json then return output.json(res) end
    io.stdout:write("created campaign ", tostring(res.ID), "\n")
  end,
}
