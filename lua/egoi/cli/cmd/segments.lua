-- egoi segments LIST
local output = require "egoi.cli.output"
local usage = require("egoi.cli.args").usage

return {
  summary = { { "segments LIST", "the segments of a list" } },
  help = [[
usage: egoi segments LIST
The segments of a list: id, name. A segment id goes to `egoi send HASH --list LIST --segment ID`.
]],
  run = function(ctx, pos)
    if #pos ~= 1 then usage("usage: egoi segments LIST") end
    local res = ctx.call("getSegments", { listID = pos[1] }, { NO_SEGMENTS_FOUND = true })
    local rows = {}
    for _, s in ipairs(type(res) == "table" and res or {}) do
      local seg = type(s) == "table" and (s.segment or s)
      if type(seg) == "table" then
        rows[#rows + 1] = { id = tostring(seg.ID or seg.id or ""), name = seg.NAME or seg.name,
          list = seg.LIST or pos[1] }
      end
    end
    if ctx.json then return output.json(output.array(rows)) end
    output.table({ { key = "id", title = "ID" }, { key = "name", title = "NAME" },
      { key = "list", title = "LIST" } }, rows)
  end,
}
