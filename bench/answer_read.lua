-- bench/answer_read.lua write DIR RECORDS | read FILE PROTOCOL
-- What reading one big answer costs per protocol: `write` puts a subscriberData-like answer
-- of RECORDS subscribers x 40 fields into DIR/answer.<protocol>, each written by the
-- sandbox's own encoders (as the service writes it); `read` (one fresh process per file, so
-- the peak is the reader's own) parses it with the client's C reader for that protocol and
-- prints "<ms per read, best of 5> <peak MB above the process before the first read>".
local core = require "egoi.core"

local mode = arg[1]

local function records(n)
  local list = {}
  for i = 1, n do
    local r = { UID = ("%010x"):format(i), EMAIL = "user" .. i .. "@example.com", STATUS = "1" }
    for f = 1, 37 do r["FIELD_" .. f] = "value " .. i .. "/" .. f end
    list[i] = r
  end
  return { subscriber = list }
end

local function vm(key)
  local f = assert(io.open("/proc/self/status", "rb"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match(key .. ":%s*(%d+)")) or 0
end

if mode == "write" then
  local envelope = require "egoi.sandbox.envelope"
  local xmlrpc = require "egoi.sandbox.xmlrpc"
  local soap_write = require "egoi.sandbox.soap_write"
  local dir, n = assert(arg[2], "DIR"), assert(tonumber(arg[3]), "RECORDS")
  local v = records(n)
  local bodies = {
    rest = envelope.json("subscriberData", v),
    xmlrpc = xmlrpc.response(v),
    soap = assert(soap_write.response("1.1", "http://api.e-goi.com/v2/soap.php", "subscriberData", v,
      "xsd:anyType")),
  }
  for proto, body in pairs(bodies) do
    local f = assert(io.open(dir .. "/answer." .. proto, "wb"))
    f:write(body)
    f:close()
  end
elseif mode == "read" then
  local file, proto = assert(arg[2], "FILE"), assert(arg[3], "PROTOCOL")
  local f = assert(io.open(file, "rb"))
  local body = f:read("a")
  f:close()
  local read = ({
    rest = function(b) return core.json_decode(b) end,
    xmlrpc = function(b) return core.xmlrpc_response(b) end,
    soap = function(b) return core.soap_response(b) end,
  })[proto]
  collectgarbage()
  collectgarbage()
  local base = vm("VmRSS")
  local peak
  do
    local _ = assert(read(body)) -- held until the peak is read
    peak = vm("VmHWM") - base
  end
  collectgarbage()
  local best = math.huge
  for _ = 1, 5 do
    local t = os.clock()
    assert(read(body))
    best = math.min(best, os.clock() - t)
    collectgarbage()
  end
  print(("%.1f %.1f %.2f"):format(best * 1000, peak / 1024, #body / 1048576))
else
  error("usage: answer_read.lua write DIR RECORDS | read FILE PROTOCOL")
end
