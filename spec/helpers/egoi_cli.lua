-- spec/helpers/egoi_cli.lua - run the real bin/egoi (always lua5.4, as installed) in a clean
-- environment: no EGOI_* variable from the caller, a private state directory (so the send
-- ledger and rate-limit state never touch the user's own), the 5.4 build of egoi.core.
--
--   local cli = require("helpers.egoi_cli").new()        -- makes a private temp dir
--   local code, out, err, secs = cli:run("lists", { EGOI_URL = url, EGOI_APIKEY = KEY })
--   cli:cleanup()
local socket = require "socket"
local server = require "helpers.server"

local M = {}

M.KEY = "0123456789abcdef0123456789abcdef01234567"

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
M.q = q

-- the 5.4 build of egoi.core, whichever interpreter runs busted
local CPATH = (os.getenv("LUA_CPATH") or ""):gsub("/jit/", "/5.4/")

local Cli = {}
Cli.__index = Cli

function M.new()
  local dir = os.tmpname()
  os.remove(dir)
  os.execute("mkdir -p " .. q(dir) .. " && chmod 700 " .. q(dir))
  return setmetatable({ dir = dir, n = 0 }, Cli)
end

-- the shell command that runs bin/egoi with args in the clean environment (env: variables;
-- false unsets one), without redirections
function Cli:command(args, env)
  local e = { LUA_CPATH = CPATH, XDG_STATE_HOME = self.dir .. "/state", HOME = self.dir,
    XDG_RUNTIME_DIR = self.dir, EGOI_RATE_LIMIT = "off" }
  for k, v in pairs(env or {}) do e[k] = v end
  local parts = { "env" }
  for _, name in ipairs{ "EGOI_APIKEY", "EGOI_URL", "EGOI_TIMEOUT", "EGOI_LEDGER", "EGOI_RATE_LIMIT",
      "EGOI_RATE_STATE", "EGOI_RATE_REDIS", "LUA_CPATH_5_4" } do
    parts[#parts + 1] = "-u " .. name
  end
  for k, v in pairs(e) do
    if v ~= false then parts[#parts + 1] = k .. "=" .. q(v) end
  end
  return table.concat(parts, " ") .. " lua5.4 bin/egoi " .. args
end

--- args: a shell-quoted argument string; env: variables (false unsets one). Returns exit code,
-- stdout, stderr, seconds taken.
function Cli:run(args, env, stdin)
  self.n = self.n + 1
  local out, err = self.dir .. "/out" .. self.n, self.dir .. "/err" .. self.n
  local cmd = self:command(args, env) .. " >" .. out .. " 2>" .. err .. " <" .. (stdin or "/dev/null")
  local t0 = socket.gettime()
  local ok, _, code = os.execute(cmd)
  if type(ok) == "number" then code = ok / 256 end -- Lua 5.1 / LuaJIT without 5.2 compat
  local secs = socket.gettime() - t0
  local o, r = server.read_file(out) or "", server.read_file(err) or ""
  os.remove(out)
  os.remove(err)
  return code, o, r, secs
end

--- bin/egoi in the background: job.pid (the interpreter's own), job:done() (the exit code once
-- it ended, else nil), job:out(), job:err(). (Started by a non-interactive shell, the job
-- inherits SIGINT ignored; egoi installs its own handler, so kill -INT still reaches it.)
function Cli:spawn(args, env)
  self.n = self.n + 1
  local base = self.dir .. "/job" .. self.n
  os.execute(("(%s >%s.out 2>%s.err </dev/null & echo $! >%s.pid; wait $!; echo $? >%s.rc) &"):format(
    self:command(args, env), base, base, base, base))
  local pid
  for _ = 1, 200 do
    pid = tonumber(((server.read_file(base .. ".pid") or ""):match("%d+")))
    if pid then break end
    socket.sleep(0.01)
  end
  assert(pid, "the job did not start")
  return {
    pid = pid,
    done = function() return tonumber(((server.read_file(base .. ".rc") or ""):match("%d+"))) end,
    out = function() return server.read_file(base .. ".out") or "" end,
    err = function() return server.read_file(base .. ".err") or "" end,
  }
end

function Cli:path(name) return self.dir .. "/" .. name end

function Cli:cleanup()
  os.execute("rm -rf " .. q(self.dir))
end

--- Nothing of Lua's own in text: no traceback, no file:line, no "attempt to ..." message.
function M.no_internals(text)
  return not (text:find("stack traceback", 1, true) or text:find("%.lua:%d+") or text:find("attempt to ")
    or text:find("bad argument #", 1, true))
end

return M
