-- spec/helpers/rl_worker.lua - one worker process of the multi-process
-- rate-limit spec.
--
--   lua rl_worker.lua <port> <state-file> <calls> <window> <duration> [start_at]
--
-- Waits until start_at (core.now() seconds; default: now), then for
-- `duration` seconds: reserve a slot in the shared state file (sleeping
-- with core.sleep for the wait the limiter names, then retrying), GET
-- http://127.0.0.1:<port>/hit, commit the slot. Prints "done <calls made>
-- <refusals> <errors>" on stdout when finished.
local core = require "egoi.core"
local http = require "socket.http"

local port, path = assert(tonumber(arg[1])), assert(arg[2])
local calls, window = assert(tonumber(arg[3])), assert(tonumber(arg[4]))
local duration = assert(tonumber(arg[5]))
local start_at = tonumber(arg[6]) or core.now()

local lim = core.ratelimit{ calls = calls, window = window, path = path }
local url = ("http://127.0.0.1:%d/hit"):format(port)

core.sleep(start_at - core.now())
local deadline = start_at + duration
local made, refused, errors = 0, 0, 0
-- bounded: at most one iteration per admitted call or per wait
for _ = 1, 100000 do
  local now = core.now()
  if now >= deadline then break end
  local ok, a, b = lim:reserve(now)
  if ok == nil then
    io.stderr:write("reserve failed: ", tostring(a), " ", tostring(b), "\n")
    errors = errors + 1
    break
  elseif ok then
    local body, code = http.request(url)
    if body == nil or code ~= 200 then errors = errors + 1 end
    made = made + 1
    local cok, _, w = lim:commit(a, core.now())
    if cok == nil or w then errors = errors + 1 end
  else
    refused = refused + 1
    core.sleep(math.min(a, deadline - now))
  end
end
lim:close()
io.write(("done %d %d %d\n"):format(made, refused, errors))
