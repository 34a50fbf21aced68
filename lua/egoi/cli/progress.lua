-- egoi.cli.progress - import progress on stderr: a bar redrawn in place on a terminal,
-- plain periodic lines in a pipe. Fed by bulk.import's on_progress and the client's
-- rate-limit on_wait.
local output = require "egoi.cli.output"

local progress = {}

local floor, max, min, ceil = math.floor, math.max, math.min, math.ceil

--- True when `fd` (1 or 2) is a terminal and TERM is usable.
function progress.isatty(fd)
  local term = os.getenv("TERM")
  if not term or term == "" or term == "dumb" then return false end
  local ok, unistd = pcall(require, "posix.unistd")
  if ok and unistd.isatty then return unistd.isatty(fd) == 1 or unistd.isatty(fd) == true end
  -- no lua-posix for this interpreter: ask the shell (one fork per command run)
  local r = os.execute("test -t " .. tostring(fd))
  return r == true or r == 0
end

--- opts: tty (bool), out (file, default io.stderr), clock (function), every (seconds between
-- plain lines, default 5).
function progress.new(opts)
  opts = opts or {}
  local self = {
    tty = opts.tty, out = opts.out or io.stderr, clock = opts.clock or os.time,
    every = opts.every or 5, last_line = -math.huge, waiting = nil,
  }
  self.start = self.clock()
  return setmetatable(self, { __index = progress })
end

-- seconds still needed: work at the observed pace + waits for rate-limit slots
local function eta(self, info)
  local size, offset = info.size, info.offset
  if not size or size == 0 or not offset or offset == 0 then return nil end
  local frac = min(1, offset / size)
  local elapsed = self.clock() - self.start
  local work = frac > 0 and elapsed * (1 - frac) / frac or 0
  local wait = 0
  local rate = info.rate or self.rate
  if rate and info.cap and info.cap > 0 then
    -- encoded bytes per source byte so far -> calls still to make
    local encoded = (info.bytes or 0) + (info.pending or 0)
    local total_calls = ceil(encoded / frac / info.cap)
    local left = max(0, total_calls - (info.chunk or 0))
    if left > (rate.remaining or 0) then
      local over = left - rate.remaining
      wait = (rate.reset_in or 0) + floor((over - 1) / max(1, rate.calls)) * (rate.window or 3600)
    end
  end
  return work + wait
end

function progress:update(info)
  if info.rate then self.rate = info.rate end
  local now = self.clock()
  local rate = info.rate or self.rate
  local calls = rate and ("%d/%d calls this hour"):format(rate.used or 0, rate.calls or 150)
    or (info.calls .. " calls")
  local e = eta(self, info)
  local mb = info.offset and output.bytes(info.offset) or output.bytes(info.bytes or 0)
  local total = info.size and ("/" .. output.bytes(info.size)) or ""
  local status = ("%d rows (%d sent, %d rejected)  %s%s  %s%s"):format(
    info.rows + (info.skipped or 0), info.sent, info.rejected, mb, total, calls,
    e and ("  ETA " .. output.duration(e)) or "")
  if self.waiting then status = status .. "  " .. self.waiting end
  if self.tty then
    local frac = (info.size and info.size > 0 and info.offset) and min(1, info.offset / info.size) or 0
    if info.phase == "done" then frac = 1 end
    local w = 24
    local fill = floor(frac * w + 0.5)
    self.out:write("\r\27[K[", ("#"):rep(fill), ("."):rep(w - fill), "] ",
      ("%3d%% "):format(floor(frac * 100)), status)
    if info.phase == "done" then self.out:write("\n") end
    self.out:flush()
  elseif info.phase ~= "read" or now - self.last_line >= self.every then
    self.last_line = now
    local what = info.phase == "sent" and ("chunk %d accepted: "):format(info.chunk)
      or info.phase == "send" and ("sending chunk %d: "):format(info.chunk)
      or info.phase == "done" and "done: " or ""
    self.out:write("egoi: import: ", what, status, "\n")
    self.out:flush()
  end
  if info.phase == "sent" then self.waiting = nil end
end

--- A rate-limit wait (text says what for and until when): shown in the bar on a terminal,
-- as a line in a pipe.
function progress:wait(text)
  self.waiting = text
  if self.tty then
    self.out:write("\r\27[K", text)
  else
    self.out:write("egoi: import: ", text, "\n")
  end
  self.out:flush()
end

return progress
