-- egoi.cli.sandbox - a private egoi-sandbox for one command (`egoi --sandbox …`).
local sandbox = {}

local DEFAULT_KEY = "0123456789abcdef0123456789abcdef01234567" -- the sandbox's default account
sandbox.DEFAULT_KEY = DEFAULT_KEY

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
sandbox.shell_quote = shell_quote

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local d = f:read("*a")
  f:close()
  return d
end

--- Start `bin` (path of egoi-sandbox) on a free loopback port. Returns an object with
-- .url (base URL), .pid and :stop(), or nil, message.
function sandbox.start(bin, interpreter)
  local log = os.tmpname()
  local cmd = ("%s %s --port 0 --rate-limit 0 --quiet --max-fields 100000000 >%s 2>&1 </dev/null & echo $!")
    :format(interpreter or "lua5.4", shell_quote(bin), shell_quote(log))
  local p = io.popen(cmd, "r")
  local pid = p and tonumber((p:read("*l") or ""):match("%d+"))
  if p then p:close() end
  if not pid then
    os.remove(log)
    return nil, "cannot start " .. bin
  end
  local self = { pid = pid, log = log }
  function self.stop()
    if self.pid then
      os.execute("kill " .. self.pid .. " 2>/dev/null")
      self.pid = nil
    end
    os.remove(log)
  end
  local ok, socket = pcall(require, "socket")
  for _ = 1, 200 do
    local url = read_file(log):match("listening on (http://%S+)")
    if url then
      self.url = url
      return self
    end
    if ok then socket.sleep(0.05) else os.execute("sleep 0.05") end
  end
  local text = read_file(log)
  self.stop()
  return nil, "the sandbox did not start: " .. text
end

return sandbox
