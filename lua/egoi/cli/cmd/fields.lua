-- egoi fields LIST | egoi fields add LIST NAME [--type T]
local output = require "egoi.cli.output"
local usage = require("egoi.cli.args").usage

local TYPES = { "texto", "numero", "data", "email", "telefone", "telemovel", "lista", "opcoes",
  "checkbox", "url" }
local IS_TYPE = {}
for _, t in ipairs(TYPES) do IS_TYPE[t] = true end

local function list_fields(ctx, list)
  local res = ctx.call("getExtraFields", { listID = list })
  local rows = {}
  local ef = type(res) == "table" and res.extra_fields
  if type(ef) == "table" then
    for k, f in pairs(ef) do
      if type(f) == "table" then
        local id = f.ID or f.id or tostring(k):match("^key_(%d+)$") or tostring(k)
        rows[#rows + 1] = { id = tostring(id), name = f.NAME or f.name, type = f.TYPE or f.type,
          field = "extra_" .. tostring(id) }
      end
    end
  end
  table.sort(rows, function(a, b) return (tonumber(a.id) or 0) < (tonumber(b.id) or 0) end)
  if ctx.json then return output.json(output.array(rows)) end
  output.table({ { key = "id", title = "ID" }, { key = "field", title = "FIELD" },
    { key = "name", title = "NAME" }, { key = "type", title = "TYPE" } }, rows)
end

return {
  summary = {
    { "fields LIST", "the extra fields of a list" },
    { "fields add LIST NAME [--type T]", "add an extra field (default type texto)" },
  },
  help = [[
usage: egoi fields LIST
       egoi fields add LIST NAME [--type texto|numero|data|email|telefone|telemovel|lista|opcoes|checkbox|url]
The extra fields of a list: id, name, type; or add one (prints its id). In an import, a column
named like an extra field (or extra_<id>) fills it.
]],
  values = { type = "single" },
  run = function(ctx, pos, opt)
    if pos[1] == "add" then
      if #pos ~= 3 or pos[3] == "" then usage("usage: egoi fields add LIST NAME [--type T]") end
      local ftype = opt.type or "texto"
      if not IS_TYPE[ftype] then usage("--type must be one of " .. table.concat(TYPES, " ") .. ": " .. ftype) end
      local res = ctx.call("addExtraField", { listID = pos[2], name = pos[3], type = ftype })
      if ctx.json then return output.json(res) end
      io.stdout:write("added field extra_", tostring(type(res) == "table" and res.NEW_ID or res), "\n")
      return
    end
    if #pos ~= 1 then usage("usage: egoi fields LIST (or egoi fields add LIST NAME)") end
    if opt.type then usage("--type goes with 'egoi fields add'") end
    return list_fields(ctx, pos[1])
  end,
}
