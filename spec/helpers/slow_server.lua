-- spec/helpers/slow_server.lua - spec/servers/slow.py, the slow E-goi v2 REST stand-in of the
-- interrupt specs, and its request log.
--
--   local slow = require("helpers.slow_server").start(30)  -- answers after 30 s
--   slow.server:url("/"), slow:count("arrived"), slow:count("answering"), slow.log, slow:stop()
local server = require "helpers.server"

local M = {}

local Slow = {}
Slow.__index = Slow

-- how many lines of the request log start with word ("arrived", "answering")
function Slow:count(word)
  local n = 0
  for _, line in ipairs(server.read_lines(self.log)) do
    if line:sub(1, #word + 1) == word .. " " then n = n + 1 end
  end
  return n
end

function Slow:url(path) return self.server:url(path) end
function Slow:stop() self.server:stop() end

-- delay: seconds before each answer; mode "429": the answers are HTTP 429, Retry-After: 600
function M.start(delay, mode)
  local cmd = "python3 spec/servers/slow.py {port} " .. tostring(delay) .. (mode and (" " .. mode) or "")
  local s = server.start{ cmd = cmd }
  return setmetatable({ server = s, log = s.dir .. "/requests" }, Slow)
end

return M
