-- spec/helpers/redis_worker.lua - one "host" of the Redis rate-limit spec: its own process,
-- nothing shared with the others but the Redis server.
--
--   lua redis_worker.lua <counter port> <redis url> <calls> <window> <duration> <start_at> <key>
--
-- Waits until start_at (core.now() seconds), then for `duration` seconds: reserve a slot in
-- Redis (sleeping the wait it names), GET http://127.0.0.1:<port>/hit, commit. While Redis
-- fails (LIMITER_*) it sends nothing, sleeps 0.05 s and tries again. Prints
-- "done <calls made> <refusals> <limiter failures> <other errors> <failure codes>" at the end.
local core = require "egoi.core"
local http = require "socket.http"
local rl = require "egoi.limiter.redis"

local port, url = assert(tonumber(arg[1])), assert(arg[2])
local calls, window = assert(tonumber(arg[3])), assert(tonumber(arg[4]))
local duration, start_at, key = assert(tonumber(arg[5])), assert(tonumber(arg[6])), assert(arg[7])

local lim = rl.new{ url = url, key = core.key_id(key), calls = calls, window = window,
  connect_timeout = 0.5, timeout = 0.5 }
local hit = ("http://127.0.0.1:%d/hit"):format(port)

core.sleep(start_at - core.now())
local deadline = start_at + duration
local made, refused, failed, errors, codes = 0, 0, 0, 0, {}
for _ = 1, 100000 do
  local now = core.now()
  if now >= deadline then break end
  local ok, a, b = lim:reserve(now)
  if ok == nil then
    failed = failed + 1
    codes[a] = true
    if not tostring(a):match("^LIMITER_") then
      io.stderr:write("reserve: ", tostring(a), " ", tostring(b), "\n")
    end
    core.sleep(0.05)
  elseif ok then
    local body, code = http.request(hit)
    if body == nil or code ~= 200 then errors = errors + 1 end
    made = made + 1
    lim:commit(a, core.now()) -- may fail while Redis is down: the stamp stays at the reservation
  else
    refused = refused + 1
    core.sleep(math.min(a, deadline - now))
  end
end
lim:close()
local list = {}
for c in pairs(codes) do list[#list + 1] = c end
table.sort(list)
io.write(("done %d %d %d %d %s\n"):format(made, refused, failed, errors, table.concat(list, ",")))
