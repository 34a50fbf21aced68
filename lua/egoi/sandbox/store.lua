-- egoi.sandbox.store - the in-memory state and its JSON file (atomic save).
-- All persisted tables use string keys (ids) or plain arrays, so cjson
-- round-trips them unchanged.
local cjson = require("cjson").new()
cjson.encode_sparse_array(true)

local M = {}
local Store = {}
Store.__index = Store

M.VERSION = 1

local function new_data(seed)
  return {
    version = M.VERSION,
    rng = seed,
    seq = { list = 0, field = 0, tag = 0, campaign = 0, segment = 0, sender = 0, form = 0, user = 0 },
    accounts = {},
  }
end

function M.new(opts)
  return setmetatable({ path = opts.path, seed = opts.seed or 1, data = new_data(opts.seed or 1) }, Store)
end

-- load the file when it exists. true | nil, message (corrupt)
function Store:load()
  if not self.path then return true end
  local f = io.open(self.path, "rb")
  if not f then return true end
  local text = f:read("*a")
  f:close()
  if text == "" then return nil, "file is empty" end
  local ok, data = pcall(cjson.decode, text)
  if not ok then return nil, "not valid JSON (" .. tostring(data) .. ")" end
  if type(data) ~= "table" or data.version ~= M.VERSION or type(data.accounts) ~= "table"
     or type(data.seq) ~= "table" then
    return nil, "not an egoi-sandbox state file (version " .. M.VERSION .. ")"
  end
  -- JSON numbers come back as floats: ids count on as integers ("3", never "3.0"), and the
  -- 64-bit RNG state is kept as a decimal string (a double would lose its low bits)
  for k, v in pairs(data.seq) do data.seq[k] = math.tointeger(v) or math.floor(tonumber(v) or 0) end
  data.rng = math.tointeger(tonumber(data.rng)) or math.tointeger(self.seed) or 1
  self.data = data
  return true
end

function Store:save()
  if not self.path then return true end
  local tmp = self.path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local rng = self.data.rng
  self.data.rng = ("%d"):format(math.tointeger(rng) or 1)
  local eok, text = pcall(cjson.encode, self.data)
  self.data.rng = rng
  if not eok then f:close(); os.remove(tmp); return nil, text end
  local ok, werr = f:write(text)
  f:close()
  if not ok then os.remove(tmp); return nil, werr end
  local rok, rerr = os.rename(tmp, self.path)
  if not rok then os.remove(tmp); return nil, rerr end
  return true
end

-- deterministic 64-bit LCG; state persisted so reloads continue the sequence
function Store:rand()
  local x = math.tointeger(self.data.rng) or 1
  x = x * 6364136223846793005 + 1442695040888963407
  self.data.rng = x
  return (x >> 33) & 0x7fffffff
end

local HEX = {}
for i = 0, 15 do HEX[i] = ("%x"):format(i) end

-- n hex digits, one rand() step each (inlined: called for every new subscriber)
function Store:hex(n)
  local x = math.tointeger(self.data.rng) or 1
  local t = {}
  for i = 1, n do
    x = x * 6364136223846793005 + 1442695040888963407
    t[i] = HEX[((x >> 33) & 0x7fffffff) % 16]
  end
  self.data.rng = x
  return table.concat(t)
end

function Store:next_id(kind)
  local s = self.data.seq
  s[kind] = (s[kind] or 0) + 1
  return tostring(s[kind])
end

function M.date(t) return os.date("!%Y-%m-%d %H:%M:%S", t and math.floor(t) or os.time()) end

function Store:account(apikey) return self.data.accounts[apikey] end

-- create the account for apikey when missing; limits come from the command line
function Store:ensure_account(apikey, o)
  local acc = self.data.accounts[apikey]
  if acc then
    acc.max_lists, acc.max_subscribers = o.max_lists, o.max_subscribers
    return acc
  end
  local n = self:next_id("user")
  acc = {
    apikey = apikey,
    max_lists = o.max_lists, max_subscribers = o.max_subscribers,
    username = "sandbox" .. (n == "1" and "" or n), password = "sandbox",
    client = {
      CLIENTE_ID = tostring(100000 + tonumber(n)), COMPANY_NAME = "Sandbox Company " .. n,
      COMPANY_LEGAL_NAME = "Sandbox Company " .. n .. ", Lda", COMPANY_TYPE = "company",
      BUSINESS_ACTIVITY_CODE = "0000", CONTRACT = "sandbox", SIGNUP_DATE = "2020-01-01 00:00:00",
      DATE_REGISTRATION = "2020-01-01 00:00:00", CONTRACT_EXPIRE_DATE = "0000-00-00 00:00:00",
      COUNTRY = "PT", STATE = "", CITY = "Porto", ADDRESS = "Rua do Sandbox 1", WEBSITE = "http://example.com",
      PLAN_EMAIL_LIMIT = "0", PLAN_SMS_LIMIT = "0",
    },
    credits = 100, email_sent = 0, sms_sent = 0,
    user = { USER_ID = n, USERNAME = "sandbox" .. (n == "1" and "" or n), FIRST_NAME = "Sandbox",
             LAST_NAME = "User", EMAIL = "sandbox" .. n .. "@example.com" },
    lists = {}, list_order = {},
    tags = {}, tag_order = {},
    senders = {}, sender_order = {},
    campaigns = {}, campaign_order = {},
    cnames = {}, groups = {}, autobots = {}, reports = {},
  }
  local function sender(name, channel)
    local id = self:next_id("sender")
    acc.senders[id] = { FROMID = id, SENDER = name, CHANNEL = channel, STATUS = "active" }
    acc.sender_order[#acc.sender_order + 1] = id
  end
  sender("sandbox" .. n .. "@example.com", "email")
  sender("Sandbox", "telemovel")
  acc.autobots["1"] = { ID = "1", NAME = "Welcome series", STATUS = "inactive", LIST = "0" }
  self.data.accounts[apikey] = acc
  return acc
end

-- the account's API v3 state beside the shared v2 one (webhooks, advanced reports,
-- operations and their id sequences); created on first use, so older state files load
function M.v3_state(acc)
  local s = acc.v3
  if not s then
    s = { webhooks = {}, webhook_order = {}, reports = {}, report_order = {}, operations = {}, op_order = {},
          seq = { webhook = 0, report = 0, operation = 0 } }
    acc.v3 = s
  end
  return s
end

-- find a list by id anywhere: list, owner_account
function Store:find_list(id)
  for _, acc in pairs(self.data.accounts) do
    local l = acc.lists[tostring(id)]
    if l then return l, acc end
  end
end

return M
