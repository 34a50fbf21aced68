-- egoi limits (spends no call)
local output = require "egoi.cli.output"
local usage = require("egoi.cli.args").usage

return {
  summary = { { "limits", "local rate-limit status (spends no call)" } },
  help = "usage: egoi limits\nThe rate-limit window for EGOI_APIKEY (local, or shared in Redis with"
    .. " EGOI_RATE_REDIS): calls used, left, reset time. Spends no call.\n",
  run = function(ctx, pos)
    if #pos ~= 0 then usage("usage: egoi limits") end
    local st = ctx.client:rate_limit_status()
    -- the window in Redis (EGOI_RATE_REDIS): every host's calls; say where, or why not
    local lim = ctx.client._limiter and ctx.client._limiter.lim
    local shared = lim and getmetatable(lim) == require("egoi.limiter.redis").Limiter and lim or nil
    if shared then
      local used, code, msg = shared:status(0)
      if used == nil then error({ kind = "rate_limit", code = code, message = msg }, 0) end
      if st then st.shared = "redis://" .. shared.where end
    end
    if ctx.json then return output.json(st or { disabled = true }) end
    if not st then
      io.stdout:write("rate limiting is off\n")
      return
    end
    io.stdout:write(("%d of %d calls used in the current %s window%s, %d left"):format(
      st.used, st.calls, output.duration(st.window), st.shared and (" shared in " .. st.shared) or "",
      st.remaining))
    if st.used > 0 then io.stdout:write(("; a slot frees in %s"):format(output.duration(st.reset_in))) end
    io.stdout:write("\n")
  end,
}
