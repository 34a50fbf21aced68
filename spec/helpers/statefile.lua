-- spec/helpers/statefile.lua - private temp directories and hand-made
-- bytes for the rate-limit state file specs.
local M = {}

-- a fresh private directory under /tmp (mktemp -d: mode 0700)
function M.tmpdir()
  local p = io.popen("mktemp -d /tmp/egoi-rlh-spec.XXXXXX")
  local d = p:read("*l")
  p:close()
  assert(d and d:match("^/tmp/egoi%-rlh%-spec%."), "mktemp -d failed")
  return d
end

function M.rmdir(d)
  if d and d:match("^/tmp/egoi%-rlh%-spec%.") then
    os.execute("chmod -R u+rwx '" .. d .. "' 2>/dev/null; rm -rf '" .. d .. "'")
  end
end

function M.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

-- little-endian u32 (the file uses host byte order; we test on little-endian hosts)
function M.u32(n)
  local b = {}
  for i = 1, 4 do b[i] = string.char(n % 256); n = math.floor(n / 256) end
  return table.concat(b)
end

-- little-endian double of a small non-negative integer (exact)
function M.dbl(n)
  if n == 0 then return ("\0"):rep(8) end
  local e = 0
  while 2 ^ (e + 1) <= n do e = e + 1 end
  local frac = (n / 2 ^ e - 1) * 2 ^ 52
  local bytes = {}
  for i = 1, 6 do bytes[i] = string.char(frac % 256); frac = math.floor(frac / 256) end
  local hi = (e + 1023) * 16 + frac  -- sign 0, 11 bits of exponent, the top 4 fraction bits
  bytes[7] = string.char(hi % 256)
  bytes[8] = string.char(math.floor(hi / 256))
  return table.concat(bytes)
end

-- a version 1 state file (one limiter's ring, older lua-egoi)
function M.v1(calls, window, count, head, times)
  local t = {}
  for i = 1, calls do t[i] = M.dbl(times[i] or 0) end
  return "EGOIRL\0\1" .. M.u32(1) .. M.u32(calls) .. M.dbl(window) .. M.u32(count) .. M.u32(head)
    .. table.concat(t)
end

return M
