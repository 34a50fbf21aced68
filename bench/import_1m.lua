-- bench/import_1m.lua URL CSV [MAX_BYTES] -> "rows sent calls chunks wall_s min_calls VmHWM_kB"
-- bulk.import of a big CSV into the sandbox; min_calls = the fewest calls the cap allows
-- (greedy packing of the encoded rows, computed from the bytes actually sent).
local egoi = require "egoi"
local bulk = require "egoi.bulk"
local socket = require "socket"
local url, path, max = arg[1], arg[2], tonumber(arg[3] or "") or nil
local c = egoi.new{ apikey = "0123456789abcdef0123456789abcdef01234567", url = url, rate_limit = false,
  timeout = 3600 }
local list = c:call("createList", { nome = "bench 1M", idioma_lista = "en", canal_email = 1 }).LIST_ID
local t0 = socket.gettime()
local s = bulk.import(c, path, { listID = list, max_bytes = max })
local wall = socket.gettime() - t0
local hwm = 0
local f = io.open("/proc/self/status")
if f then
  hwm = tonumber(f:read("*a"):match("VmHWM:%s*(%d+)")) or 0
  f:close()
end
print(("%d %d %d %d %.1f %d %d"):format(s.rows, s.sent, s.calls, s.chunks, wall, math.ceil(s.bytes / s.cap), hwm))
