-- egoi limits (spends no call)
local output = require "egoi.cli.output"
local usage = require("egoi.cli.args").usage

return {
  summary = { { "limits", "local rate-limit status (spends no call)" } },
  help = "usage: egoi limits\nThe local rate-limit window for EGOI_APIKEY: calls used, left, reset time."
    .. " Spends no call.\n",
  run = function(ctx, pos)
    if #pos ~= 0 then usage("usage: egoi limits") end
    local st = ctx.client:rate_limit_status()
    if ctx.json then return output.json(st or { disabled = true }) end
    if not st then
      io.stdout:write("rate limiting is off\n")
      return
    end
    io.stdout:write(("%d of %d calls used in the current %s window, %d left"):format(
      st.used, st.calls, output.duration(st.window), st.remaining))
    if st.used > 0 then io.stdout:write(("; a slot frees in %s"):format(output.duration(st.reset_in))) end
    io.stdout:write("\n")
  end,
}
