-- tools/rockspec_modules.lua [--check] - the rockspec's Lua module list must
-- name every file under lua/egoi, and egoi.core's sources every csrc/*.c.
-- Without --check it prints the Lua entries to paste; with --check it exits 1
-- listing what is missing or stale.
local function files()
  local p = assert(io.popen("find lua/egoi -name '*.lua' | sort"))
  local out = {}
  for path in p:lines() do
    local mod = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
    out[#out + 1] = { mod = mod, path = path }
  end
  p:close()
  return out
end

local f = assert(io.open("rockspec/egoi-scm-1.rockspec", "rb"))
local spec = f:read("*a")
f:close()

if arg[1] ~= "--check" then
  for _, e in ipairs(files()) do print(('      ["%s"] = "%s",'):format(e.mod, e.path)) end
  return
end
local bad = {}
local listed = {}
for mod, path in spec:gmatch('%["([%w%._]+)"%]%s*=%s*"(lua/[^"]+)"') do listed[mod] = path end
for _, e in ipairs(files()) do
  if listed[e.mod] ~= e.path then bad[#bad + 1] = "missing: " .. e.mod .. " = " .. e.path end
  listed[e.mod] = nil
end
for mod in pairs(listed) do bad[#bad + 1] = "stale: " .. mod end
local sources = {}
for c in spec:gmatch('"(csrc/[%w_]+%.c)"') do sources[c] = true end
local p = assert(io.popen("ls csrc/*.c"))
for c in p:lines() do
  if not sources[c] then bad[#bad + 1] = "missing C source: " .. c end
  sources[c] = nil
end
p:close()
for c in pairs(sources) do bad[#bad + 1] = "stale C source: " .. c end
if #bad > 0 then
  io.stderr:write("rockspec/egoi-scm-1.rockspec is out of date:\n  " .. table.concat(bad, "\n  ") .. "\n")
  os.exit(1)
end
