-- egoi.limiter.file - where the default rate-limit state file lives.
--
--   local path, err = require("egoi.limiter.file").default_path(apikey[, getenv])
--
-- The file is named after the key (core.key_id, never the key itself) and
-- lives in a directory only this user can change, so another local user
-- can neither read the account's call times nor plant a state that stalls
-- every call:
--   1. $XDG_RUNTIME_DIR, when set to an absolute path of a directory owned
--      by this user that group and others cannot write;
--   2. else ${TMPDIR:-/tmp}/egoi-<uid>, created with mode 0700; one found
--      with another owner, another mode, or a symlink there is refused.
-- When neither can be used, path is nil and err says why and what to do.
local core = require "egoi.core"

local M = {}

local HINT = "; set rate_limit.state_file to a path of your own, or XDG_RUNTIME_DIR to a directory only you can write"

function M.default_path(apikey, getenv)
  getenv = getenv or os.getenv
  local name = ("egoi-ratelimit-%s.bin"):format(core.key_id(apikey))
  local why
  local xdg = getenv("XDG_RUNTIME_DIR")
  if xdg and xdg ~= "" then
    if xdg:sub(1, 1) ~= "/" then
      why = "XDG_RUNTIME_DIR is not an absolute path"
    else
      local ok, err = core.user_dir(xdg, false)
      if ok then return (xdg:gsub("/+$", "")) .. "/" .. name end
      why = "XDG_RUNTIME_DIR: " .. err
    end
  end
  local base = getenv("TMPDIR")
  if not base or base:sub(1, 1) ~= "/" then base = "/tmp" end
  local dir = ("%s/egoi-%d"):format((base:gsub("/+$", "")), core.euid())
  local ok, err = core.user_dir(dir, true)
  if ok then return dir .. "/" .. name end
  return nil, "no private directory for the default rate-limit state file: " .. err
    .. (why and (" (" .. why .. ")") or "") .. HINT
end

-- A limiter that refuses everything with STATE_FILE_ERROR (same methods as
-- core.ratelimit), for a client whose state file cannot be placed: every
-- call fails with the reason, none goes out unlimited.
local Refusing = {}
Refusing.__index = Refusing

function Refusing:reserve() return nil, "STATE_FILE_ERROR", self.message end
Refusing.status = Refusing.reserve
Refusing.block = Refusing.reserve
Refusing.fill = Refusing.reserve
Refusing.commit = Refusing.reserve
function Refusing.close() end

function M.refusing(message)
  return setmetatable({ message = message }, Refusing)
end

return M
