-- egoi.sandbox.conn - buffered non-blocking socket I/O for loop tasks.
local M = {}
local Conn = {}
Conn.__index = Conn

function M.new(loop, sock)
  sock:settimeout(0)
  return setmetatable({ loop = loop, sock = sock, buf = "" }, Conn)
end

-- read more bytes into buf; true | nil, "closed"|"timeout"|err
function Conn:fill(deadline)
  while true do
    local data, err, partial = self.sock:receive(65536)
    local chunk = data or partial
    if chunk and #chunk > 0 then self.buf = self.buf .. chunk; return true end
    if err == "closed" then return nil, "closed" end
    if err ~= "timeout" then return nil, err or "error" end
    if self.loop:wait(self.sock, "r", deadline) == "timeout" then return nil, "timeout" end
  end
end

-- take exactly n bytes (as a string) using a chunk table for big bodies
function Conn:read(n, deadline)
  if #self.buf >= n then
    local s = self.buf:sub(1, n)
    self.buf = self.buf:sub(n + 1)
    return s
  end
  local parts, have = { self.buf }, #self.buf
  self.buf = ""
  while have < n do
    local ok, err = self:fill(deadline)
    if not ok then return nil, err end
    parts[#parts + 1] = self.buf
    have = have + #self.buf
    self.buf = ""
  end
  local all = table.concat(parts)
  self.buf = all:sub(n + 1)
  return all:sub(1, n)
end

-- read up to and including `pattern` (plain), at most `max` bytes
function Conn:read_until(pattern, max, deadline)
  while true do
    local i = self.buf:find(pattern, 1, true)
    if i then
      local s = self.buf:sub(1, i + #pattern - 1)
      self.buf = self.buf:sub(i + #pattern)
      return s
    end
    if #self.buf > max then return nil, "too long" end
    local ok, err = self:fill(deadline)
    if not ok then return nil, err end
  end
end

function Conn:send(s, deadline)
  local i = 1
  while i <= #s do
    local last, err, lastp = self.sock:send(s, i)
    if last then
      i = last + 1
    else
      if err ~= "timeout" then return nil, err end
      i = lastp + 1
      if i <= #s and self.loop:wait(self.sock, "w", deadline) == "timeout" then return nil, "timeout" end
    end
  end
  return true
end

-- After an early answer (413, 400, ...): stop sending and read what the client
-- is still sending, until it closes, `max` bytes or the deadline. Closing with
-- unread data would reset the connection, and a reset can destroy the answer
-- before the client has read it.
function Conn:linger(deadline, max)
  if not self.sock then return end
  self.sock:shutdown("send")
  local got = 0
  while got < max do
    local data, err, partial = self.sock:receive(65536)
    local chunk = data or partial
    if chunk then got = got + #chunk end
    if err == "closed" or (err and err ~= "timeout") then break end
    if err and (not chunk or #chunk == 0) and self.loop:wait(self.sock, "r", deadline) == "timeout" then break end
  end
end

function Conn:close()
  if self.sock then self.sock:close(); self.sock = nil end
end

return M
