-- egoi tags | egoi tags add NAME
local output = require "egoi.cli.output"
local usage = require("egoi.cli.args").usage

-- the checks of `tags add` on both APIs: { name =, color = } or a usage error
local function add_args(pos, opt)
  if #pos ~= 2 or pos[2] == "" then usage("usage: egoi tags add NAME [--color #RRGGBB]") end
  if opt.color and not opt.color:match("^#%x%x%x%x%x%x$") then
    usage("--color must look like #RRGGBB: " .. opt.color)
  end
  return { name = pos[2], color = opt.color }
end

return {
  add_args = add_args,
  summary = {
    { "tags", "the account's tags" },
    { "tags add NAME [--color #RRGGBB]", "create a tag (prints its id)" },
  },
  help = [[
usage: egoi tags
       egoi tags add NAME [--color #RRGGBB]
The account's tags (id, name, colour), or create one. Tag ids go to `egoi import --tags`.
]],
  values = { color = "single" },
  run = function(ctx, pos, opt)
    if pos[1] == "add" then
      local res = ctx.call("addTag", add_args(pos, opt))
      if ctx.json then return output.json(res) end
      io.stdout:write("created tag ", tostring(type(res) == "table" and res.ID or res), "\n")
      return
    end
    if #pos ~= 0 then usage("usage: egoi tags (or egoi tags add NAME)") end
    if opt.color then usage("--color goes with 'egoi tags add'") end
    local res = ctx.call("getTags", {}, { NO_TAGS_FOUND = true })
    local list = type(res) == "table" and (res.TAG_LIST or res) or {}
    local rows = {}
    for _, t in ipairs(type(list) == "table" and list or {}) do
      if type(t) == "table" then
        rows[#rows + 1] = { id = tostring(t.ID or t.id or ""), name = t.NAME or t.name, color = t.COLOR }
      end
    end
    if ctx.json then return output.json(output.array(rows)) end
    output.table({ { key = "id", title = "ID" }, { key = "name", title = "NAME" },
      { key = "color", title = "COLOR" } }, rows)
  end,
}
