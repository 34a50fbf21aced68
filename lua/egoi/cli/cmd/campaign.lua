-- egoi campaign create-email ...
local output = require "egoi.cli.output"
local usage = require("egoi.cli.args").usage

local MAX_HTML = 16 * 1024 * 1024

-- the text of --html FILE (a regular file, not empty, at most 16 MB), or a usage error
local function read_html(path)
  local ok = os.execute("test -f '" .. path:gsub("'", "'\\''") .. "'")
  if not (ok == true or ok == 0) then usage("--html: " .. path .. " is not a readable file", "FILE_ERROR") end
  local f, err = io.open(path, "rb")
  if not f then usage("cannot read " .. path .. ": " .. tostring(err), "FILE_ERROR") end
  local text = f:read(MAX_HTML + 1)
  f:close()
  if text and #text > MAX_HTML then usage("--html: " .. path .. " is over 16 MB") end
  if not text or text == "" then usage("--html: " .. path .. " is empty") end
  return text
end

-- the checks of `campaign create-email` on both APIs: a usage error, or the content's source
-- ("url", U) or ("html", the file's text)
local function create_email_args(pos, opt)
  if pos[1] ~= "create-email" or #pos ~= 1 then
    usage("usage: egoi campaign create-email --list L --subject S --from ID (--url U | --html FILE)")
  end
  if not opt.list or not opt.subject or not opt.from then
    usage("campaign create-email needs --list, --subject and --from")
  end
  if (opt.url == nil) == (opt.html == nil) then
    usage("campaign create-email needs exactly one of --url and --html")
  end
  if opt.url then return "url", opt.url end
  return "html", read_html(opt.html)
end

return {
  read_html = read_html,
  create_email_args = create_email_args,
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
    local kind, content = create_email_args(pos, opt)
    local args = { listID = opt.list, subject = opt.subject, fromID = opt.from, internal_name = opt.name }
    if kind == "url" then args.url = content else args.message = content end
    local res = ctx.call("createCampaignEmail", args)
    if ctx.json then return output.json(res) end
    io.stdout:write("created campaign ", tostring(res.ID), "\n")
  end,
}
