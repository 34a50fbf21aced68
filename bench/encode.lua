-- bench/encode.lua N -> lines "name ms MB"
-- A 100,000-subscriber addSubscriberBulk body: core.form_request of the whole table, the
-- bulk importer's way (each row appended to a core.form_buffer, measured as it packs), the
-- older per-row way (one core.form_encode string per row + table.concat), and plain Lua.
local core = require "egoi.core"
local n = tonumber(arg[1]) or 100000
local rows = {}
for i = 1, n do
  rows[i] = { email = ("user%07d+tag@example.com"):format(i), first_name = "João " .. i,
    last_name = "Silva & Filhos", cellphone = ("351-91%07d"):format(i), status = 1 }
end
local opts = { apikey = "0123456789abcdef0123456789abcdef01234567", listID = 3, compareField = "email",
  operation = 2, subscribers = rows }

local function esc(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return ("%%%02X"):format(c:byte()) end))
end
-- plain Lua, same rules as the C encoder (sorted keys, sequences as [0]..)
local function plain(prefix, v, out)
  if type(v) == "table" then
    if v[1] ~= nil then
      for i = 1, #v do plain(prefix .. "[" .. (i - 1) .. "]", v[i], out) end
    else
      local ks = {}
      for k in pairs(v) do ks[#ks + 1] = k end
      table.sort(ks)
      for _, k in ipairs(ks) do plain(prefix .. "[" .. k .. "]", v[k], out) end
    end
  else
    out[#out + 1] = prefix .. "=" .. esc(tostring(v))
  end
  return out
end

local function time(name, f)
  collectgarbage("collect")
  local best, size = math.huge, 0
  for _ = 1, 3 do
    local t0 = os.clock()
    local s = f()
    local dt = os.clock() - t0
    size = #s
    if dt < best then best = dt end
  end
  print(("%s %.1f %.2f"):format(name, best * 1000, size / 1048576))
end

time("lua-core.form_request", function() return core.form_request("addSubscriberBulk", opts, "json") end)
time("lua-bulk-form_buffer", function()
  local fb = core.form_buffer()
  for i = 1, n do fb:add(rows[i], "functionOptions[subscribers]", i - 1) end
  return fb:take()
end)
time("lua-per-row-strings", function()
  local pieces = {}
  for i = 1, n do pieces[i] = core.form_encode(rows[i], "functionOptions[subscribers][" .. (i - 1) .. "]") end
  return table.concat(pieces, "&")
end)
time("lua-plain", function()
  local out = { "method=addSubscriberBulk", "type=json" }
  return table.concat(plain("functionOptions", opts, out), "&")
end)
