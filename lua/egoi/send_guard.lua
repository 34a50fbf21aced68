-- egoi.send_guard - never mail the same list twice by accident: a local ledger of sends.
--
--   local guard = require "egoi.send_guard"
--   guard.wrap(client)                      -- sends through `client` now consult the ledger
--   guard.wrap(client, { path = "/var/lib/app/sends.ledger", again = false })
--
-- Every send method (sendEmail, sendSMS, sendFAX, sendCall; through client:call, client:invoke
-- and client.send:*) is keyed by method × campaign × list × target (segment, UIDs, addresses:
-- every other argument). On an API v3 client the sends are the actionSend* operations
-- (client.campaigns:send / :send_sms / :schedule, client:call, client:invoke) and any
-- client:request("POST", "/campaigns/<channel>/<hash>/actions/send", ...): one key per
-- operation × campaign_hash × body.list_id × the rest of the body, whichever path.
-- Before the call a "pending" line is appended to the ledger, after it a line with the
-- outcome: "sent", "failed" (the service or the network provably did nothing) or "unknown"
-- (the request may have been applied). A key whose last outcome is "sent",
-- "unknown" or a "pending" that never finished (the process died during the call) is refused
-- with ALREADY_SENT / SEND_OUTCOME_UNKNOWN (kind "usage", before any I/O) unless `again` is
-- true. Of two processes starting the same send at once, the one whose pending line comes first
-- goes on; the other gets SEND_IN_PROGRESS without calling. A ledger line that cannot be read
-- is LEDGER_CORRUPT: never skipped.
--
-- The ledger is one JSON object per line, each appended with one write (O_APPEND), mode 0600;
-- default $XDG_STATE_HOME/egoi/sends.ledger or ~/.local/state/egoi/sends.ledger. A path that
-- exists and is not a regular file is refused (LEDGER_ERROR).
local cjson = require("cjson").new()
local errors = require "egoi.errors"
local methods = require "egoi.methods"

local guard = {}

local type, tostring, pairs, ipairs, pcall, error, select = type, tostring, pairs, ipairs, pcall, error, select
local concat, sort = table.concat, table.sort
local unpack = table.unpack or unpack -- luacheck: ignore
local function pack(...) return { n = select("#", ...), ... } end

guard.METHODS = { sendEmail = true, sendSMS = true, sendFAX = true, sendCall = true,
  -- API v3's sends (POST /campaigns/<channel>/{campaign_hash}/actions/send)
  actionSendEmail = true, actionSendSms = true, actionSendSmartSms = true, actionSendVoice = true,
  actionSendPush = true, actionSendWebPush = true }

-- a v3 send path's channel -> its operation id (so client:request and client:call of one send
-- share a ledger key)
local V3_SEND_PATHS = { email = "actionSendEmail", sms = "actionSendSms", ["smart-sms"] = "actionSendSmartSms",
  voice = "actionSendVoice", push = "actionSendPush", ["web-push"] = "actionSendWebPush" }

local MAX_LEDGER = 64 * 1024 * 1024 -- a ledger larger than this is not a ledger

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function fail(code, message, detail)
  return errors.new{ kind = "usage", code = code, message = message, detail = detail }
end

--- The default ledger path from the environment (getenv defaults to os.getenv).
function guard.default_path(getenv)
  getenv = getenv or os.getenv
  local state = getenv("XDG_STATE_HOME")
  if not state or state == "" then
    local home = getenv("HOME")
    if not home or home == "" then return nil end
    state = home .. "/.local/state"
  end
  return state .. "/egoi/sends.ledger"
end

-- "regular" | "absent" | "other"
local function kind_of(path)
  local ok = os.execute("test -f " .. shell_quote(path))
  if ok == true or ok == 0 then return "regular" end
  ok = os.execute("test -e " .. shell_quote(path) .. " || test -L " .. shell_quote(path))
  if ok == true or ok == 0 then return "other" end
  return "absent"
end

local Ledger = {}
Ledger.__index = Ledger

--- Open (creating when absent, mode 0600, its directory 0700) the ledger at path.
-- Returns a ledger | nil, err.
function guard.open(path)
  if type(path) ~= "string" or path == "" then
    return nil, fail("LEDGER_ERROR", "send ledger: no path (set HOME, XDG_STATE_HOME or name one)")
  end
  local k = kind_of(path)
  if k == "other" then
    return nil, fail("LEDGER_ERROR", "send ledger " .. path .. " exists and is not a regular file")
  end
  if k == "absent" then
    local dir = path:match("^(.*)/[^/]*$")
    local cmd = "umask 077 && " .. (dir and dir ~= "" and ("mkdir -p " .. shell_quote(dir) .. " && ") or "")
      .. ": >> " .. shell_quote(path)
    local ok = os.execute(cmd .. " 2>/dev/null")
    if not (ok == true or ok == 0) or kind_of(path) ~= "regular" then
      return nil, fail("LEDGER_ERROR", "send ledger: cannot create " .. path)
    end
  end
  return setmetatable({ path = path }, Ledger)
end

--- Every record, checked. Returns an array | nil, err (LEDGER_CORRUPT names the line).
function Ledger:records()
  local f, oerr = io.open(self.path, "rb")
  if not f then return nil, fail("LEDGER_ERROR", "send ledger: cannot read " .. tostring(oerr)) end
  local size = f:seek("end")
  if not size or size > MAX_LEDGER then
    f:close()
    return nil, fail("LEDGER_CORRUPT", ("send ledger %s is larger than %d MB or unreadable"):format(
      self.path, 64))
  end
  f:seek("set")
  local text = f:read("*a") or ""
  f:close()
  local out, n = {}, 0
  if text ~= "" and text:sub(-1) ~= "\n" then
    return nil, fail("LEDGER_CORRUPT", "send ledger " .. self.path .. ": the last line is cut short")
  end
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    local ok, rec = pcall(cjson.decode, line)
    if not ok or type(rec) ~= "table" or type(rec.key) ~= "string" or type(rec.id) ~= "string"
       or type(rec.outcome) ~= "string" then
      return nil, fail("LEDGER_CORRUPT", ("send ledger %s: line %d is not a ledger record"):format(self.path, n))
    end
    out[#out + 1] = rec
  end
  return out
end

--- The record that blocks a repeat of key (false when none), or nil, err. With upto_id, only
-- the lines before that record's first line count (who came first in the append order).
function Ledger:blocking(key, upto_id)
  local recs, err = self:records()
  if not recs then return nil, err end
  local last_by_id, order = {}, {}
  for _, r in ipairs(recs) do
    if upto_id and r.id == upto_id then break end
    if r.key == key then
      if not last_by_id[r.id] then order[#order + 1] = r.id end
      last_by_id[r.id] = r
    end
  end
  for i = #order, 1, -1 do
    local r = last_by_id[order[i]]
    if r.outcome ~= "failed" then return r end
  end
  return false
end

--- Append one record (one write). true | nil, err
function Ledger:append(rec)
  local f, oerr = io.open(self.path, "ab")
  if not f then return nil, fail("LEDGER_ERROR", "send ledger: cannot append: " .. tostring(oerr)) end
  f:setvbuf("no")
  local ok, werr = f:write(cjson.encode(rec) .. "\n")
  f:close()
  if not ok then return nil, fail("LEDGER_ERROR", "send ledger: cannot append: " .. tostring(werr)) end
  return true
end

-- flatten arguments into sorted k=v pairs (str: how a value is written, default tostring)
local function flatten(t, prefix, out, str)
  str = str or tostring
  for k, v in pairs(t) do
    local name = prefix and (prefix .. "." .. str(k)) or str(k)
    if type(v) == "table" then flatten(v, name, out, str) else out[#out + 1] = name .. "=" .. str(v) end
  end
  return out
end

-- a v3 JSON value as it goes on the wire: 7, 7.0 and "7" are one list or segment id
local function json_scalar(v)
  if type(v) == "number" and v == math.floor(v) and v > -2^53 and v < 2^53 then return ("%d"):format(v) end
  return tostring(v)
end

--- The ledger key of a send and its parts: method, campaign, list, target. args: v2's wire
-- arguments ({ campaign =, listID =, ... }) or a v3 operation's options ({ campaign_hash =,
-- body = { list_id =, segments =, ... } }; no segments means the whole list, as
-- client.campaigns:send sends it).
function guard.key(method, args, account)
  local campaign, list, rest = nil, nil, {}
  if type(args) == "table" and args.campaign_hash ~= nil then
    campaign = tostring(args.campaign_hash)
    local body = type(args.body) == "table" and args.body or {}
    for k, v in pairs(body) do
      if k == "list_id" then list = json_scalar(v) else rest[k] = v end
    end
    if rest.segments == nil then rest.segments = { type = "none" } end
    local target = flatten(rest, nil, {}, json_scalar)
    sort(target)
    local t = concat(target, "&")
    return concat({ method, account or "", campaign, list or "", t }, "|"),
      { method = method, campaign = campaign, list = list, target = t }
  end
  for k, v in pairs(args or {}) do
    if k == "campaign" then campaign = tostring(v)
    elseif k == "listID" then list = tostring(v)
    elseif k ~= "apikey" then rest[k] = v end
  end
  local target = flatten(rest, nil, {})
  sort(target)
  local t = concat(target, "&")
  local parts = { method, account or "", campaign or "", list or "", t }
  return concat(parts, "|"), { method = method, campaign = campaign, list = list, target = t }
end

local function outcome_of(err)
  if err.retryable then return "failed" end
  if err.kind == "usage" or err.kind == "rate_limit" or err.kind == "api" and not err.reason then
    return "failed"
  end
  if type(err.reason) == "string" or err.kind == "protocol" then return "unknown" end
  return "failed"
end
guard.outcome_of = outcome_of

local counter = 0
local function new_id(clock)
  counter = counter + 1
  local addr = tostring({}):match("0x%x+") or tostring(os.clock())
  return ("%d-%s-%d-%d"):format(clock(), addr, math.random(0, 0x7fffffff), counter)
end

--- Guard one send: run(fn) where fn performs it and returns result | nil, err (or raises).
-- Returns what fn returned, or nil, err when the ledger refuses.
local function guarded(state, method, wire, fn)
  local key, parts = guard.key(method, wire, state.account)
  local ledger = state.ledger
  if not ledger then
    local l, err = guard.open(state.path)
    if not l then return nil, err end
    ledger = l
    state.ledger = l
  end
  local block, berr = ledger:blocking(key)
  if block == nil then return nil, berr end
  if block and not state.again then
    local when = os.date("!%Y-%m-%d %H:%M:%S UTC", tonumber(block.at) or 0)
    local what = ("%s of campaign %s to list %s%s"):format(method, tostring(parts.campaign),
      tostring(parts.list), parts.target ~= "" and (" (" .. parts.target .. ")") or "")
    if block.outcome == "sent" then
      return nil, fail("ALREADY_SENT", ("%s was already sent on %s (send ledger %s); pass again to send it once more")
        :format(what, when, ledger.path), { ledger = ledger.path, at = block.at, outcome = block.outcome })
    end
    return nil, fail("SEND_OUTCOME_UNKNOWN", ("%s of %s has an unknown outcome (%s, send ledger %s): check "
      .. "the campaign's report before sending again, then pass again"):format(what, when, block.outcome,
      ledger.path), { ledger = ledger.path, at = block.at, outcome = block.outcome })
  end
  local rec = { key = key, id = new_id(state.clock), at = state.clock(), method = method,
    campaign = parts.campaign, list = parts.list, target = parts.target, outcome = "pending" }
  local ok, aerr = ledger:append(rec)
  if not ok then return nil, aerr end
  if not state.again then
    -- another process may have checked at the same moment: the one whose pending line came
    -- first in the file goes on, the other steps back without calling
    local first, ferr0 = ledger:blocking(key, rec.id)
    if first ~= false then
      rec.outcome, rec.code = "failed", "SEND_IN_PROGRESS"
      ledger:append(rec)
      if first == nil then return nil, ferr0 end
      return nil, fail("SEND_IN_PROGRESS", ("another process started the same %s of campaign %s to list %s "
        .. "just now (send ledger %s): nothing was sent by this one"):format(method, tostring(parts.campaign),
        tostring(parts.list), ledger.path), { ledger = ledger.path })
    end
  end
  local packed = pack(pcall(fn))
  local res, err
  if packed[1] then res, err = packed[2], packed[3] else err = packed[2] end
  if res ~= nil then
    rec.outcome = "sent"
  elseif type(err) == "table" then
    rec.outcome = outcome_of(err)
    rec.code = type(err.code) == "string" and err.code or nil
  else
    rec.outcome = "unknown"
  end
  rec.at = state.clock()
  local fok, ferr = ledger:append(rec)
  if not packed[1] then error(packed[2], 0) end
  if not fok and res ~= nil then
    -- the send went out but the ledger could not say so: the caller must know
    return nil, ferr
  end
  return unpack(packed, 2, packed.n)
end

local function raise_or_return(client, res, err)
  if res == nil and err and client.raise then error(err, 3) end
  return res, err
end

--- Make client's sends go through the ledger. opts: path (default guard.default_path()),
-- again (bool: allow repeats, still recorded), account (a string that tells accounts apart in
-- a shared ledger), clock (seconds; os.time). Returns client.
function guard.wrap(client, opts)
  opts = opts or {}
  if type(client) ~= "table" or type(client.call) ~= "function" then
    error(errors.usage(nil, "INVALID_ARGUMENT", "send_guard.wrap: argument 'client' must be an egoi client"), 2)
  end
  for _, name in ipairs{ "path", "account" } do
    if opts[name] ~= nil and type(opts[name]) ~= "string" then
      error(errors.usage(nil, "INVALID_ARGUMENT", "send_guard.wrap: option '" .. name .. "' must be a string"), 2)
    end
  end
  local state = { path = opts.path or guard.default_path(), again = opts.again == true,
    account = opts.account, clock = opts.clock or os.time }
  local call, invoke, request = client.call, client.invoke, client.request
  client.call = function(self, method, options)
    if type(method) == "string" and guard.METHODS[method] and type(options) == "table" then
      local res, err = guarded(state, method, options, function() return call(self, method, options) end)
      return raise_or_return(self, res, err)
    end
    return call(self, method, options)
  end
  client.invoke = function(self, name, args)
    local catalogue = type(self) == "table" and rawget(self, "_catalogue") or methods
    local entry = catalogue.lookup(name)
    if entry and guard.METHODS[entry.name] and type(args) == "table" then
      local wire = catalogue.prepare(entry, args)
      if wire then
        local res, err = guarded(state, entry.name, wire, function() return invoke(self, name, args) end)
        return raise_or_return(self, res, err)
      end
    end
    return invoke(self, name, args)
  end
  if type(request) == "function" then
    -- v3: a send through any path, e.g. client:request("POST", "/campaigns/email/<hash>/actions/send")
    client.request = function(self, verb, path, ropts)
      local channel, hash
      local proto = type(self) == "table" and rawget(self, "_protocol")
      local has_paths = not (type(proto) == "table" and proto.raw == nil) -- a v2 client refuses paths itself
      if has_paths and type(verb) == "string" and verb:upper() == "POST" and type(path) == "string" then
        channel, hash = path:gsub("%?.*$", ""):match("^/campaigns/([%w%-]+)/([^/]+)/actions/send/?$")
      end
      local method = channel and V3_SEND_PATHS[channel]
      if method and (ropts == nil or type(ropts) == "table") then
        local options = { campaign_hash = hash, body = ropts and ropts.body }
        local res, err = guarded(state, method, options, function() return request(self, verb, path, ropts) end)
        return raise_or_return(self, res, err)
      end
      return request(self, verb, path, ropts)
    end
  end
  client.send_guard = state
  return client
end

return guard
