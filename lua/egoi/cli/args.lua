-- egoi.cli.args - argument parsing and the usage error every CLI command raises for bad input.
local args = {}

local tostring, tonumber, error, setmetatable, getmetatable = tostring, tonumber, error, setmetatable, getmetatable

-- a usage problem found by the CLI itself (exit 2)
local Usage = {}

--- Raise a usage error: message is one sentence; code defaults to USAGE.
function args.usage(message, code)
  error(setmetatable({ kind = "usage", code = code or "USAGE", message = message }, Usage), 0)
end
local usage = args.usage

function args.is_usage(err) return getmetatable(err) == Usage end

--- Split argv into positionals and options.
-- spec: { values = { name = "single"|"multi" }, flags = { name = true } }
function args.parse(argv, spec)
  local pos, opt = {}, {}
  local i = 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      for j = i + 1, #argv do pos[#pos + 1] = argv[j] end
      break
    end
    local name, val = a:match("^%-%-([%w%-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w%-]+)$") end
    if name then
      local kind = spec.values and spec.values[name]
      if kind then
        if val == nil then
          i = i + 1
          val = argv[i]
          if val == nil then usage("option --" .. name .. " needs a value") end
        end
        if kind == "multi" then
          opt[name] = opt[name] or {}
          opt[name][#opt[name] + 1] = val
        elseif opt[name] ~= nil then
          usage("option --" .. name .. " given twice")
        else
          opt[name] = val
        end
      elseif spec.flags and spec.flags[name] then
        if val ~= nil then usage("option --" .. name .. " takes no value") end
        opt[name] = true
      else
        usage("unknown option --" .. name)
      end
    elseif a == "-h" then
      opt.help = true
    elseif a:match("^%-%a") then
      usage("unknown option " .. a)
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return pos, opt
end

local MULT = { [""] = 1, k = 1024, K = 1024, m = 1048576, M = 1048576, g = 1073741824, G = 1073741824 }

--- A byte count with an optional k/M/G suffix, at least 1.
function args.size(s, name)
  local n, suffix = tostring(s):match("^(%d+)([kKmMgG]?)$")
  if not n or #n > 12 or tonumber(n) < 1 then
    usage(("--%s must be a positive number (k, M, G suffixes allowed): %s"):format(name, tostring(s)))
  end
  return tonumber(n) * MULT[suffix]
end

--- A whole number in [min, max] (defaults 1 and 1e9).
function args.int(s, name, min, max)
  min, max = min or 1, max or 1e9
  local n = tostring(s):match("^%d+$") and tonumber(s)
  if not n or n < min or n > max then
    usage(("--%s must be a whole number from %d to %d: %s"):format(name, min, max, tostring(s)))
  end
  return math.tointeger and math.tointeger(n) or n
end

--- A duration in seconds (a decimal number > 0, at most max).
function args.seconds(s, name, max)
  local n = tostring(s):match("^%d+%.?%d*$") and tonumber(s)
  if not n or n <= 0 or n > max then
    usage(("%s must be a number of seconds above 0 and at most %d: %s"):format(name, max, tostring(s)))
  end
  return n
end

return args
