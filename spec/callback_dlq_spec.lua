-- egoi.deadletter (callback.dead_letter / callback.replay) in plain Lua: failed callbacks are
-- kept scrubbed, one JSON line each, in a private bounded file, and can be replayed.
local callback = require "egoi.callback"
local deadletter = require "egoi.deadletter"
local cjson = require "cjson"

local FORM = "application/x-www-form-urlencoded"
local APIKEY = "0123456789abcdef0123456789abcdef01234567"

local function esc(s)
  return (s:gsub("[^%w%-_.~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function body_for(uid, extra)
  return "addSubscriber=" .. esc("<subscriber><UID>" .. uid .. "</UID><LIST>3</LIST><EMAIL>" .. uid
    .. "@example.com</EMAIL><FIRST_NAME>Jos\195\169</FIRST_NAME></subscriber>") .. (extra or "")
end

local function tmpdir()
  local p = io.popen("mktemp -d")
  local d = p:read("*l")
  p:close()
  return d
end

local read = require("helpers.server").read_file

local function lines(path)
  local out = {}
  for l in (read(path) or ""):gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

local function mode(path)
  local p = io.popen("stat -c %a '" .. path .. "'")
  local m = p:read("*l")
  p:close()
  return m
end

describe("callback dead-letter file", function()
  local dir, path
  before_each(function()
    dir = tmpdir()
    path = dir .. "/dead.jsonl"
  end)
  after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

  it("keeps a failed callback as one scrubbed JSON line in a 0600 file", function()
    local dl = callback.dead_letter(path, { scrub = { "s3cret-callback" } })
    local body = body_for("ab12", "&apikey=" .. APIKEY .. "&secret=s3cret-callback&note=x")
    local ev = assert(callback.parse(body, FORM))
    assert(dl:put(body, FORM, "db down (key " .. APIKEY .. ", s3cret-callback)", ev))
    assert.equal("600", mode(path))
    local text = read(path)
    assert.is_nil(text:find(APIKEY, 1, true))
    assert.is_nil(text:find("s3cret-callback", 1, true))
    local ls = lines(path)
    assert.equal(1, #ls)
    local rec = cjson.decode(ls[1])
    assert.equal("addSubscriber", rec.action)
    assert.equal("ab12", rec.uid)
    assert.equal("3", rec.list)
    assert.equal(FORM, rec.content_type)
    assert.matches("db down", rec.reason, 1, true)
    assert.matches("[scrubbed]", rec.reason, 1, true)
    assert.is_nil(rec.body:find("[^\32-\126]")) -- printable ASCII: valid JSON whatever the bytes
    -- the kept body still parses to the same event
    local again = assert(callback.parse(rec.body, rec.content_type))
    assert.same(ev.fields, again.fields)
    assert.equal("Jos\195\169", again.fields.first_name)
  end)

  it("scrubs credential-like fields, configured strings and 40-hex runs", function()
    local s = deadletter._scrub_body("a=1&API_KEY=zz&Password=p%20w&tok=" .. APIKEY .. "&k=mysecret&&z=",
      { "mysecret" })
    assert.equal("a=1&API_KEY=%5Bscrubbed%5D&Password=%5Bscrubbed%5D&tok=[scrubbed]&k=[scrubbed]&&z=", s)
  end)

  it("stops at max_bytes with a clear log and loses nothing already kept", function()
    local logged = {}
    local dl = deadletter.open(path, { max_bytes = 1500, log = function(level, msg)
      logged[#logged + 1] = level .. ": " .. msg end })
    local n, err = 0, nil
    for i = 1, 20 do
      local body = body_for("u" .. i)
      local ok, e = dl:put(body, FORM, "boom", callback.parse(body, FORM))
      if not ok then err = e break end
      n = n + 1
    end
    assert.is_true(n >= 1 and n < 20)
    assert.equal("DEAD_LETTER_FULL", err.code)
    assert.is_true(#read(path) <= 1500)
    assert.equal(n, #lines(path))
    assert.equal(1, #logged)
    assert.matches("error: dead-letter file " .. path .. " is full", logged[1], 1, true)
    assert.matches("uid u" .. (n + 1), logged[1], 1, true)
  end)

  it("replays: handled lines go, failing and unreadable lines stay", function()
    local dl = callback.dead_letter(path)
    for i = 1, 4 do
      local body = body_for("r" .. i)
      assert(dl:put(body, FORM, "first failure", callback.parse(body, FORM)))
    end
    local f = assert(io.open(path, "ab"))
    f:write("not json\n")
    f:close()
    local seen = {}
    local sum = assert(callback.replay(path, function(ev, rec)
      seen[#seen + 1] = ev.uid
      assert.equal("first failure", rec.reason)
      if ev.uid == "r2" then error("still down") end
      if ev.uid == "r3" then return false, "refused" end
    end))
    assert.same({ "r1", "r2", "r3", "r4" }, seen)
    assert.equal(5, sum.total)
    assert.equal(2, sum.replayed)
    assert.equal(2, sum.failed)
    assert.equal(1, sum.unreadable)
    assert.equal(2, #sum.errors)
    assert.matches("still down", sum.errors[1])
    local kept = lines(path)
    assert.equal(3, #kept)
    assert.equal("r2", cjson.decode(kept[1]).uid)
    assert.equal("r3", cjson.decode(kept[2]).uid)
    assert.equal("not json", kept[3])
    assert.equal("600", mode(path))
    assert.is_nil(read(path .. ".replay"))
    -- a second replay with a working handler empties it (except the unreadable line)
    sum = assert(callback.replay(path, function() end))
    assert.equal(2, sum.replayed)
    assert.same({ "not json" }, lines(path))
  end)

  it("finishes an interrupted replay first", function()
    local dl = callback.dead_letter(path)
    local b1, b2 = body_for("i1"), body_for("i2")
    assert(dl:put(b1, FORM, "x", callback.parse(b1, FORM)))
    assert(os.rename(path, path .. ".replay")) -- as a replay killed half way leaves it
    assert(dl:put(b2, FORM, "x", callback.parse(b2, FORM)))
    local seen = {}
    local sum = assert(callback.replay(path, function(ev) seen[#seen + 1] = ev.uid end))
    assert.is_true(sum.resumed)
    assert.same({ "i1" }, seen)
    sum = assert(callback.replay(path, function(ev) seen[#seen + 1] = ev.uid end))
    assert.is_nil(sum.resumed)
    assert.same({ "i1", "i2" }, seen)
    assert.equal(0, #lines(path))
  end)

  it("refuses a symbolic link and makes an existing file private", function()
    os.execute("ln -s /etc/passwd '" .. path .. "'")
    assert.has_error(function() callback.dead_letter(path) end,
      "deadletter.open: " .. path .. " is a symbolic link; name the file itself")
    os.remove(path)
    local f = assert(io.open(path, "w"))
    f:close()
    os.execute("chmod 644 '" .. path .. "'")
    callback.dead_letter(path)
    assert.equal("600", mode(path))
  end)

  it("replays nothing from a missing file", function()
    local sum = assert(callback.replay(path, function() error("no") end))
    assert.equal(0, sum.total)
  end)

  it("checks its arguments", function()
    assert.has_error(function() callback.dead_letter("") end)
    assert.has_error(function() callback.dead_letter(path, { max_byte = 3 }) end,
      "deadletter.open: unknown option 'max_byte' (known: log, max_bytes, scrub)")
    assert.has_error(function() callback.replay(path, "nope") end,
      "deadletter.replay: argument 'handler' must be a function")
  end)
end)
