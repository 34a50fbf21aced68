-- egoi lists [create NAME]
local output = require "egoi.cli.output"
local usage = require("egoi.cli.args").usage

local LANGS = { pt = true, br = true, en = true, es = true, fr = true, de = true }

return {
  summary = {
    { "lists", "the account's lists" },
    { "lists create NAME [--language L]", "create a list (language: pt br en es fr de; default en)" },
  },
  help = [[
usage: egoi lists
       egoi lists create NAME [--language pt|br|en|es|fr|de] [--sms]
List the account's mailing lists, or create one (e-mail channel on; --sms adds SMS).
]],
  values = { language = "single" }, flags = { sms = true },
  run = function(ctx, pos, opt)
    local sub = pos[1]
    if sub == nil then
      if opt.language or opt.sms then usage("--language and --sms go with 'egoi lists create'") end
      local res = ctx.call("getLists", {})
      local rows = type(res) == "table" and res[1] and res or {}
      if ctx.json then return output.json(output.array(rows)) end
      output.table({ { key = "listnum", title = "ID" }, { key = "title", title = "TITLE" },
        { key = "idioma", title = "LANG" }, { key = "subs_activos", title = "ACTIVE" },
        { key = "subs_total", title = "TOTAL" } }, rows)
    elseif sub == "create" then
      local name = pos[2]
      if not name or name == "" or pos[3] then usage("usage: egoi lists create NAME [--language L]") end
      if opt.language and not LANGS[opt.language] then
        usage("--language must be one of pt br en es fr de: " .. opt.language)
      end
      local res = ctx.call("createList", { nome = name, idioma_lista = opt.language or "en",
        canal_email = 1, canal_sms = opt.sms and 1 or 0 })
      if ctx.json then return output.json(res) end
      io.stdout:write("created list ", tostring(res.LIST_ID), "\n")
    else
      usage("unknown subcommand 'lists " .. tostring(sub) .. "' (lists, lists create NAME)")
    end
  end,
}
