-- egoi call METHOD [key=value ...]
local output = require "egoi.cli.output"
local usage = require("egoi.cli.args").usage

-- key=value arguments into a nested table (a.b=v)
local function call_args(pos)
  local opts = {}
  for i = 2, #pos do
    local k, v = pos[i]:match("^([^=]+)=(.*)$")
    if not k then usage("egoi call: arguments are key=value: " .. pos[i]) end
    local node = opts
    local parts = {}
    for p in k:gmatch("[^%.]+") do parts[#parts + 1] = p end
    if #parts == 0 then usage("egoi call: '" .. k .. "' is not a key") end
    for j = 1, #parts - 1 do
      local p = parts[j]
      if type(node[p]) ~= "table" then
        if node[p] ~= nil then usage("egoi call: '" .. k .. "' clashes with an earlier value") end
        node[p] = {}
      end
      node = node[p]
    end
    if type(node[parts[#parts]]) == "table" then usage("egoi call: '" .. k .. "' clashes with a nested value") end
    if parts[#parts] == "apikey" and #parts == 1 then
      usage("egoi call: the API key comes from EGOI_APIKEY, never from the command line")
    end
    node[parts[#parts]] = v
  end
  return opts
end

return {
  summary = { { "call METHOD [key=value ...]", "any v2 method; a.b=v nests (functionOptions[a][b])" } },
  help = [[
usage: egoi call METHOD [key=value ...]
Call any v2 method. Values are strings; a.b=v nests as functionOptions[a][b]=v and
tags.0=5 tags.1=7 makes a list. Prints the normalised result. A send method
(sendEmail, sendSMS, ...) goes through the send ledger like `egoi send` (--again repeats).
]],
  flags = { again = true },
  call_args = call_args,
  run = function(ctx, pos)
    if #pos < 1 then usage("usage: egoi call METHOD [key=value ...]") end
    if not pos[1]:match("^[%a_][%w_]*$") then usage("egoi call: not a method name: " .. pos[1]) end
    local res = ctx.call(pos[1], call_args(pos))
    if ctx.json then return output.json(res) end
    output.tree(res)
  end,
}
