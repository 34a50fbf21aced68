-- spec/helpers/fixed_answer.lua - a real HTTP server on loopback that answers every request
-- with one fixed body (spec/servers/v3_answer.py): a server that ignores offset/start answers
-- every page alike.
--
--   local fa = require("helpers.fixed_answer").start(body)
--   fa.server:url("/path")   fa.served()  -- answers given so far   fa.stop()
local server = require "helpers.server"
local http = require "socket.http"

local M = {}

function M.start(body)
  local dir = server.tmpdir("egoi-fixed-answer")
  local f = assert(io.open(dir .. "/page.json", "wb"))
  f:write(body)
  f:close()
  local s = server.start{ cmd = "python3 spec/servers/v3_answer.py {port} " .. server.shell_quote(dir .. "/page.json") }
  return {
    server = s,
    dir = dir,
    served = function() return tonumber((assert(http.request(s:url("/__count"))))) end,
    stop = function()
      s:stop()
      server.rmdir(dir)
    end,
  }
end

return M
