-- egoi.retry_after - the wait a Retry-After header asks for.
--
--   local retry_after = require "egoi.retry_after"
--   retry_after("120", now)                            -> 120
--   retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now)  -> seconds from now to then (>= 0)
--   retry_after(7, now)                                -> 7 (a number: already seconds)
--   retry_after(nil | "soon" | "-5", now)              -> nil
--
-- RFC 9110 §10.2.3: Retry-After = HTTP-date / delay-seconds. Dates are read in
-- the three forms of §5.6.7 (IMF-fixdate, RFC 850, asctime), always as GMT,
-- with calendar arithmetic (no os.time, so the local time zone never
-- matters). `now` is the caller's clock in Unix seconds.
local type, tonumber, floor = type, tonumber, math.floor

local MONTHS = { jan = 1, feb = 2, mar = 3, apr = 4, may = 5, jun = 6,
                 jul = 7, aug = 8, sep = 9, oct = 10, nov = 11, dec = 12 }

-- days since 1970-01-01 of a proleptic Gregorian date
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function epoch(y, mon, d, hh, mm, ss)
  local m = MONTHS[mon:lower()]
  y, d, hh, mm, ss = tonumber(y), tonumber(d), tonumber(hh), tonumber(mm), tonumber(ss)
  if not m or d < 1 or d > 31 or hh > 23 or mm > 59 or ss > 60 then return nil end
  return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss
end

local function http_date(v)
  -- IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
  local d, mon, y, hh, mm, ss = v:match("^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if d then return epoch(y, mon, d, hh, mm, ss) end
  -- RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (two-digit years: RFC 9110 says a year more than 50
  -- years ahead is in the past; the 1970..2069 reading is that rule for today's dates)
  d, mon, y, hh, mm, ss = v:match("^%a+, (%d%d)%-(%a%a%a)%-(%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if d then
    y = tonumber(y)
    return epoch(y < 70 and 2000 + y or 1900 + y, mon, d, hh, mm, ss)
  end
  -- asctime: Sun Nov  6 08:49:37 1994
  mon, d, hh, mm, ss, y = v:match("^%a%a%a (%a%a%a) ([ %d]%d) (%d%d):(%d%d):(%d%d) (%d%d%d%d)$")
  if mon then return epoch(y, mon, d:gsub(" ", ""), hh, mm, ss) end
  return nil
end

return function(value, now)
  if type(value) == "number" then
    if value ~= value or value < 0 or value == math.huge then return nil end
    return value
  end
  if type(value) ~= "string" then return nil end
  value = value:match("^%s*(.-)%s*$")
  if value:match("^%d+$") then return tonumber(value) end
  local t = http_date(value)
  if not t or type(now) ~= "number" then return nil end
  local wait = t - now
  if wait < 0 then wait = 0 end
  return wait
end
