-- egoi.sandbox.loop - a small select() event loop running one coroutine per task.
-- Inside a task: loop:wait(sock, "r"|"w", deadline) -> "ready" | "timeout";
-- loop:sleep(seconds). Outside: loop:spawn(fn, ...), loop:step(max_wait).
local socket = require "socket"

local M = {}
local Loop = {}
Loop.__index = Loop

function M.new(on_error)
  return setmetatable({
    waits = {},      -- co -> { sock=, mode=, deadline= }
    on_error = on_error or function(err) io.stderr:write("task error: ", tostring(err), "\n") end,
    ntasks = 0,
  }, Loop)
end

function M.now() return socket.gettime() end

function Loop:resume(co, ...)
  local ok, err = coroutine.resume(co, ...)
  if not ok then self.on_error(debug.traceback(co, tostring(err))) end
  if coroutine.status(co) == "dead" then
    self.waits[co] = nil
    self.ntasks = self.ntasks - 1
  end
end

function Loop:spawn(fn, ...)
  local co = coroutine.create(fn)
  self.ntasks = self.ntasks + 1
  self:resume(co, ...)
end

function Loop:wait(sock, mode, deadline)
  local co = coroutine.running()
  self.waits[co] = { sock = sock, mode = mode, deadline = deadline }
  return coroutine.yield()
end

function Loop:sleep(seconds)
  return self:wait(nil, nil, M.now() + seconds)
end

-- one round: select, then resume ready and timed-out tasks
function Loop:step(max_wait)
  local recvt, sendt = {}, {}
  local now = M.now()
  local timeout = max_wait or 0.2
  for _, w in pairs(self.waits) do
    if w.sock then
      if w.mode == "r" then recvt[#recvt + 1] = w.sock else sendt[#sendt + 1] = w.sock end
    end
    if w.deadline then
      local d = w.deadline - now
      if d < timeout then timeout = d end
    end
  end
  if timeout < 0 then timeout = 0 end
  local r, s = {}, {}
  if #recvt > 0 or #sendt > 0 then
    r, s = socket.select(recvt, sendt, timeout)
  elseif timeout > 0 then
    socket.sleep(timeout)
  end
  now = M.now()
  local ready = {}
  for co, w in pairs(self.waits) do
    if w.sock and ((w.mode == "r" and r[w.sock]) or (w.mode == "w" and s[w.sock])) then
      ready[#ready + 1] = { co, "ready" }
    elseif w.deadline and now >= w.deadline then
      ready[#ready + 1] = { co, "timeout" }
    end
  end
  for _, item in ipairs(ready) do
    self.waits[item[1]] = nil
    self:resume(item[1], item[2])
  end
end

return M
