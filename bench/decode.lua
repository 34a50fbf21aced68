-- bench/decode.lua N JSONFILE -> lines "name ms"
-- A 100,000-record subscriberData answer (key_N objects, string leaves): writes it to
-- JSONFILE (for decode.php), then times cjson.decode alone (the floor), our path as the
-- client runs it (core.json_decode, which folds key_N while parsing, + unwrap
-- Egoi_Api.<method> + drop status + a shallow normalize), and the client's earlier path
-- (cjson.decode + unwrap + core.normalize).
local core = require "egoi.core"
local cjson = require("cjson").new()
cjson.decode_max_depth(1000)
local n, path = tonumber(arg[1]) or 100000, arg[2] or "/tmp/egoi-decode.json"
local parts = {}
for i = 0, n - 1 do
  parts[#parts + 1] = ('"key_%d":{"UID":"%010x","LIST":"3","EMAIL":"user%07d@example.com","FIRST_NAME":"Jo\\u00e3o",'
    .. '"LAST_NAME":"Silva","CELLPHONE":"351-91%07d","STATUS":"1","ADD_DATE":"2024-01-02 03:04:05",'
    .. '"BOUNCES":"0","EMAIL_SENT":"12","EMAIL_VIEWS":"3","CLICKS":"1","TAGS":{"key_0":"4","key_1":"7"}}')
    :format(i, i, i, i)
end
local body = '{"Egoi_Api":{"subscriberData":{"subscriber":{' .. table.concat(parts, ",") .. '},"status":"success"}}}'
parts = nil -- luacheck: ignore
local f = assert(io.open(path, "wb"))
f:write(body)
f:close()

local function time(name, fn)
  local best = math.huge
  for _ = 1, 3 do
    collectgarbage("collect")
    local t0 = os.clock()
    local r = fn()
    local dt = os.clock() - t0
    assert(r)
    if dt < best then best = dt end
  end
  print(("%s %.1f"):format(name, best * 1000))
end

time("cjson.decode", function() return cjson.decode(body) end)
time("ours", function()
  local doc = assert(core.json_decode(body))
  local inner = doc.Egoi_Api.subscriberData
  inner.status = nil
  local r = core.normalize(inner, true)
  assert(r.subscriber[n].EMAIL)
  return r
end)
time("cjson+normalize", function()
  local doc = cjson.decode(body)
  local inner = doc.Egoi_Api.subscriberData
  inner.status = nil
  local r = core.normalize(inner)
  assert(r.subscriber[n].EMAIL)
  return r
end)
print(("size %.1f"):format(#body / 1048576))
