-- egoi.deadletter - keep the E-goi callbacks a handler failed on, and replay them.
--
-- E-goi posts each callback once and never retries, so a callback whose handler raised (or
-- returned false) would be lost. A dead-letter file keeps such bodies:
--
--   local dl = require("egoi.deadletter").open(path, { max_bytes = 16 * 1024 * 1024,
--                                                      scrub = { secret, apikey }, log = fn })
--   dl:put(body, content_type, reason, ev)   -> true | nil, err
--   require("egoi.deadletter").replay(path, handler[, opts])  -> summary | nil, err
--
-- The file is append-only, one JSON object per line:
--   {"time":1764626400,"action":"addSubscriber","list":"3","uid":"ab12",
--    "reason":"...","content_type":"application/x-www-form-urlencoded","body":"addSubscriber=%3C..."}
-- `body` is the request body with form fields named like a credential (apikey, key, secret,
-- password, token) replaced by "[scrubbed]", every string of opts.scrub and every run of 40 hex
-- digits (the shape of an API key) replaced too, and bytes outside printable ASCII
-- percent-encoded (the form decodes to the same values, and the line stays valid JSON).
-- `reason` is scrubbed the same way. The file is created with mode 0600 (under umask 077, by
-- one short `sh` call); open() refuses a path that is a symbolic link and takes group/other
-- access away from an existing file. The file
-- grows to at most max_bytes (default 16 MiB): past that, put() writes nothing, logs
-- "dead-letter file <path> is full" with the action, list and uid of the lost callback, and
-- returns nil, err (code DEAD_LETTER_FULL). Each line is one write(2) on an O_APPEND file, so
-- nginx workers appending at once never interleave lines; under such a race the file can
-- exceed max_bytes by at most one line.
--
-- replay(path, handler) moves the file aside (path .. ".replay", an atomic rename, so callbacks
-- that fail meanwhile start a new file), parses each line's body with egoi.callback.parse and
-- calls handler(ev, record). Lines whose handler fails again (raises or returns false), and
-- lines that cannot be read, are appended back to `path`; the moved file is then removed.
-- Delivery is at least once: a replay interrupted half way leaves path .. ".replay", which the
-- next replay finishes (alone: call once more for `path`); its lines handled before the
-- interruption are handled again, so keep handlers idempotent.
-- Returns { total =, replayed =, failed =, unreadable =, errors = { scrubbed messages },
-- resumed = true when it finished an interrupted replay } | nil, err.
local callback = require "egoi.callback"
local errors = require "egoi.errors"

local type, tostring, pairs, ipairs, pcall, error, io_open, os_rename, os_remove, format =
  type, tostring, pairs, ipairs, pcall, error, io.open, os.rename, os.remove, string.format

local M = {}

M.DEFAULT_MAX_BYTES = 16 * 1024 * 1024
M.SCRUBBED = "[scrubbed]"

local SENSITIVE = { apikey = true, api_key = true, key = true, secret = true, password = true,
  passwd = true, token = true }

local cjson
local function json()
  if not cjson then cjson = require "cjson.safe" end
  return cjson
end

local function fail(code, message)
  return nil, errors.new{ kind = "usage", code = code, message = message }
end

local function shell_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function plain_pattern(s)
  return (s:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"))
end

-- percent-encode as the form would (for matching a secret inside the body)
local function form_escape(s)
  return (s:gsub("[^%w%-_.~]", function(c) return format("%%%02X", c:byte()) end))
end

-- the text with every configured string, and every 40-hex run, replaced
local function scrub_text(text, strings)
  text = tostring(text)
  for _, s in ipairs(strings) do
    text = text:gsub(plain_pattern(s), M.SCRUBBED)
    local e = form_escape(s)
    if e ~= s then text = text:gsub(plain_pattern(e), M.SCRUBBED) end
  end
  return (text:gsub("%x+", function(run) if #run == 40 then return M.SCRUBBED end end))
end
M._scrub_text = scrub_text

-- the form body with credential-like fields blanked, then scrub_text, then printable ASCII
local function scrub_body(body, strings)
  local parts = {}
  for pair in (body .. "&"):gmatch("([^&]*)&") do
    local name = pair:match("^([^=]*)")
    if pair:find("=", 1, true) and SENSITIVE[callback.unescape(name):lower()] then
      pair = name .. "=" .. form_escape(M.SCRUBBED)
    end
    parts[#parts + 1] = pair
  end
  local s = scrub_text(table.concat(parts, "&"), strings)
  return (s:gsub("[^\32-\126]", function(c) return format("%%%02X", c:byte()) end))
end
M._scrub_body = scrub_body

local function default_log(level, message)
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.log then
    ngx.log(level == "warning" and ngx.WARN or ngx.ERR, message)
  else
    io.stderr:write("egoi: ", message, "\n")
  end
end

-- Create the file (mode 0600) when it does not exist; never through a symlink.
local function ensure_file(path)
  local f = io_open(path, "rb")
  if f then
    f:close()
    return true
  end
  local q = shell_quote(path)
  os.execute("umask 077 && [ ! -L " .. q .. " ] && : >> " .. q .. " 2>/dev/null")
  f = io_open(path, "rb")
  if not f then return nil end
  f:close()
  return true
end

local DL = {}
DL.__index = DL

local function check_opts(fname, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(fname .. ": argument 'opts' must be a table or nil", 3)
  end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "max_bytes" and k ~= "scrub" and k ~= "log" then
      error(fname .. ": unknown option '" .. tostring(k) .. "' (known: log, max_bytes, scrub)", 3)
    end
  end
  local max = opts.max_bytes or M.DEFAULT_MAX_BYTES
  if type(max) ~= "number" or max ~= max or max <= 0 then
    error(fname .. ": option 'max_bytes' must be a positive number", 3)
  end
  local strings = {}
  if opts.scrub ~= nil then
    if type(opts.scrub) ~= "table" then error(fname .. ": option 'scrub' must be a list of strings", 3) end
    for _, s in ipairs(opts.scrub) do
      if type(s) ~= "string" then error(fname .. ": option 'scrub' must be a list of strings", 3) end
      if s ~= "" then strings[#strings + 1] = s end
    end
  end
  table.sort(strings, function(a, b) return #a > #b end) -- longest first
  if opts.log ~= nil and type(opts.log) ~= "function" then
    error(fname .. ": option 'log' must be a function", 3)
  end
  return max, strings, opts.log or default_log
end

--- A dead-letter file at `path` (created on first use, mode 0600).
function M.open(path, opts)
  if type(path) ~= "string" or path == "" then
    error("deadletter.open: argument 'path' must be a non-empty string", 2)
  end
  local max, strings, log = check_opts("deadletter.open", opts)
  -- once per open: a symlink is refused; an existing file loses any group/other access
  local q = shell_quote(path)
  local p = io.popen("if [ -L " .. q .. " ]; then echo link; elif [ -e " .. q .. " ]; then chmod go-rwx "
    .. q .. " 2>/dev/null; fi")
  local what = p and p:read("*l")
  if p then p:close() end
  if what == "link" then
    error("deadletter.open: " .. path .. " is a symbolic link; name the file itself", 2)
  end
  return setmetatable({ path = path, max_bytes = max, scrub = strings, log = log }, DL)
end

-- append one ready line (with its newline) unless the file would grow past max_bytes
local function append(self, line, what)
  if not ensure_file(self.path) then
    return fail("FILE_ERROR", "cannot create the dead-letter file " .. self.path)
  end
  local f, oerr = io_open(self.path, "ab")
  if not f then
    return fail("FILE_ERROR", "cannot open the dead-letter file: " .. tostring(oerr))
  end
  local size = f:seek("end") or 0
  if size + #line > self.max_bytes then
    f:close()
    local msg = format("dead-letter file %s is full (%d bytes, limit %d): callback lost: %s",
      self.path, size, self.max_bytes, what)
    self.log("error", msg)
    return fail("DEAD_LETTER_FULL", msg)
  end
  f:setvbuf("no") -- one write(2) for the whole line
  local ok, werr = f:write(line)
  f:close()
  if not ok then
    return fail("FILE_ERROR", "cannot write the dead-letter file: " .. tostring(werr))
  end
  return true
end

local function shown(v)
  if v == nil then return "?" end
  return (tostring(v):gsub("[^%w@._+%-]", "?"):sub(1, 80))
end

--- Keep one failed callback. `ev` (the parsed event, optional) names it in the record.
function DL:put(body, content_type, reason, ev)
  if getmetatable(self) ~= DL then error("call dead_letter:put(...) with a colon", 2) end
  if type(body) ~= "string" then error("dead_letter:put: argument 'body' must be a string", 2) end
  ev = type(ev) == "table" and ev or {}
  local rec = {
    time = os.time(), action = ev.action, list = ev.list, uid = ev.uid,
    reason = reason ~= nil and scrub_text(reason, self.scrub):gsub("[^\32-\126]", "?") or nil,
    content_type = type(content_type) == "string" and content_type:gsub("[^\32-\126]", "?") or nil,
    body = scrub_body(body, self.scrub),
  }
  local line = json().encode(rec)
  if not line then return fail("FILE_ERROR", "cannot encode the dead-letter record") end
  return append(self, line .. "\n", format("%s list %s uid %s", shown(ev.action), shown(ev.list), shown(ev.uid)))
end

-- a line back as it was (for lines replay could not handle)
function DL:put_line(line)
  return append(self, line .. "\n", "an unreplayable dead-letter line")
end

local function replay_file(file, handler, dl, summary)
  local f = io_open(file, "rb")
  if not f then return true end
  for line in f:lines() do
    if line ~= "" then
      summary.total = summary.total + 1
      local rec = json().decode(line)
      local ev = type(rec) == "table" and type(rec.body) == "string"
        and callback.parse(rec.body, type(rec.content_type) == "string" and rec.content_type or nil)
      local ok, res, herr
      if ev then
        ok, res, herr = pcall(handler, ev, rec)
      end
      if ev and ok and res ~= false then
        summary.replayed = summary.replayed + 1
      else
        if not ev then
          summary.unreadable = summary.unreadable + 1
        else
          summary.failed = summary.failed + 1
          local why = ok and ("the handler returned false: " .. tostring(herr)) or tostring(res)
          summary.errors[#summary.errors + 1] = scrub_text(why, dl.scrub)
        end
        local kept, kerr = dl:put_line(line)
        if not kept then
          f:close()
          return nil, kerr
        end
      end
    end
  end
  f:close()
  os_remove(file)
  return true
end

--- Replay the dead-letter file at `path` through handler(ev, record). Options as open().
function M.replay(path, handler, opts)
  if type(path) ~= "string" or path == "" then
    error("deadletter.replay: argument 'path' must be a non-empty string", 2)
  end
  if type(handler) ~= "function" then
    error("deadletter.replay: argument 'handler' must be a function", 2)
  end
  local dl = M.open(path, opts)
  local summary = { total = 0, replayed = 0, failed = 0, unreadable = 0, errors = {} }
  local aside = path .. ".replay"
  local f = io_open(aside, "rb")
  if f then
    f:close() -- an interrupted replay: finish it (the current file waits for the next call)
    summary.resumed = true
  else
    f = io_open(path, "rb")
    if not f then return summary end
    f:close()
    local moved, merr = os_rename(path, aside)
    if not moved then return fail("FILE_ERROR", "cannot move the dead-letter file aside: " .. tostring(merr)) end
  end
  local ok, err = replay_file(aside, handler, dl, summary)
  if not ok then return nil, err end
  return summary
end

return M
