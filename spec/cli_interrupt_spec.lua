-- spec/cli_interrupt_spec.lua - Ctrl-C (SIGINT) and SIGTERM during any command, against a
-- real slow HTTP server on loopback (spec/servers/slow.py): a read in flight ends at once, a
-- write in flight is let finish and its outcome told, a wait ends at once; exit 130 / 143,
-- one sentence on stderr, never a traceback.
local socket = require "socket"
local cjson = require "cjson"
local slow_server = require "helpers.slow_server"
local helper = require "helpers.egoi_cli"

-- polls pred every 20 ms until it returns a value (or secs pass): the value, or nil
local function wait_for(pred, secs)
  local deadline = socket.gettime() + (secs or 20)
  repeat
    local v = pred()
    if v then return v end
    socket.sleep(0.02)
  until socket.gettime() > deadline
  return nil
end

describe("egoi interrupted", function()
  local slow, quick, cli

  setup(function()
    cli = helper.new()
    -- slow answers after 30 s: far beyond every bound below; quick after 2 s
    slow = slow_server.start(30)
    quick = slow_server.start(2)
  end)

  teardown(function()
    if slow then slow:stop() end
    if quick then quick:stop() end
    cli:cleanup()
  end)

  local function count(s, word) return s:count(word) end

  local function env(s, extra)
    local e = { EGOI_APIKEY = helper.KEY, EGOI_URL = s:url("/"), EGOI_LEDGER = cli:path("ledger") }
    for k, v in pairs(extra or {}) do e[k] = v end
    return e
  end

  -- sends sig to job once ready() holds (the request arrived, the wait began): the exit code and
  -- the seconds from the signal to the end
  local function interrupt(job, sig, ready, what)
    assert(wait_for(ready), (what or "the request never arrived") .. ": " .. job.err())
    local t0 = socket.gettime()
    os.execute("kill -" .. sig .. " " .. job.pid)
    local code = wait_for(job.done, 90)
    return code, socket.gettime() - t0
  end

  local function arrived(s, n) return function() return count(s, "arrived") >= n end end

  -- a read of args against the slow server, sig once it arrived: ends within a bound far
  -- below the server's delay, never tried again. Returns the exit code and the job.
  local function cut_read(args, sig)
    local before = count(slow, "arrived")
    local job = cli:spawn(args, env(slow))
    local code, secs = interrupt(job, sig, arrived(slow, before + 1))
    assert.is_true(secs < 10, ("took %.1fs"):format(secs))
    assert.is_true(helper.no_internals(job.err()), job.err())
    assert.falsy(job.err():find("interrupted!", 1, true), job.err())
    assert.equal(before + 1, count(slow, "arrived"))
    return code, job
  end

  it("ends a read in flight at once on Ctrl-C: exit 130, one sentence, no traceback", function()
    local code, job = cut_read("--timeout 60 lists", "INT")
    assert.equal(130, code, job.err())
    assert.truthy(job.err():find("egoi: INTERRUPTED: interrupted (Ctrl-C): a read was in flight (getLists); "
      .. "it was ended at once", 1, true), job.err())
    assert.equal("", job.out())
  end)

  it("ends a read on SIGTERM with exit 143, and --json says what was in flight", function()
    local code, job = cut_read("--json --timeout 60 lists", "TERM")
    assert.equal(143, code, job.err())
    local doc = cjson.decode(job.out())
    assert.equal("INTERRUPTED", doc.error.code)
    assert.equal(143, doc.error.exit)
    assert.same({ signal = "SIGTERM", in_flight = "read", outcome = "cut" }, doc.error.interrupted)
    assert.truthy(doc.error.message:find("interrupted (SIGTERM)", 1, true), doc.error.message)
  end)

  it("ends an API v3 read the same way", function()
    local code, job = cut_read("--api v3 --timeout 60 lists", "INT")
    assert.equal(130, code, job.err())
    assert.truthy(job.err():find("interrupted (Ctrl-C): a read was in flight", 1, true), job.err())
  end)

  it("lets a write in flight finish, then exits 130 saying it completed and how", function()
    local before, answered = count(quick, "arrived"), count(quick, "answering")
    local job = cli:spawn("--timeout 60 lists create Interrupted", env(quick))
    local code = interrupt(job, "INT", arrived(quick, before + 1))
    assert.equal(130, code, job.err())
    -- the CLI ended after the server answered: it waited for the outcome
    assert.equal(answered + 1, count(quick, "answering"))
    assert.equal(before + 1, count(quick, "arrived")) -- exactly one request
    assert.equal("created list 7\n", job.out())
    local err = job.err()
    assert.truthy(err:find("interrupted (Ctrl-C): a write was in flight (createList); it was let finish so "
      .. "that its outcome is known: the service answered (HTTP 200)", 1, true), err)
    assert.is_true(helper.no_internals(err), err)
  end)

  -- `--json lists create NAME` against s, sig once it arrived: exactly one request, the exit
  -- code, and the last JSON document on stdout (the error; the command's own may come first)
  local function cut_write(s, args, sig)
    local before = count(s, "arrived")
    local job = cli:spawn("--json " .. args, env(s))
    local code = interrupt(job, sig, arrived(s, before + 1))
    assert.equal(before + 1, count(s, "arrived"))
    assert.is_true(helper.no_internals(job.err()), job.err())
    local docs = {}
    for line in job.out():gmatch("[^\n]+") do docs[#docs + 1] = cjson.decode(line) end
    return code, docs[#docs].error, docs, job
  end

  it("tells a write's outcome in --json too (SIGTERM: 143)", function()
    local code, e, docs, job = cut_write(quick, "--timeout 60 lists create Terminated", "TERM")
    assert.equal(143, code, job.err())
    assert.equal("7", docs[1].LIST_ID) -- the command's own answer first
    assert.same({ signal = "SIGTERM", in_flight = "write", outcome = "completed" }, e.interrupted)
  end)

  it("tells a write the service refused as refused", function()
    local code, e, _, job = cut_write(quick, "--timeout 60 lists create Refused", "INT")
    assert.equal(130, code, job.err())
    assert.same({ signal = "SIGINT", in_flight = "write", outcome = "refused" }, e.interrupted)
    assert.truthy(e.message:find("the service refused it (NO_ACCESS): nothing was done", 1, true), e.message)
  end)

  it("never cuts a write that times out: it waits for the timeout and says the outcome is unknown", function()
    local code, e, _, job = cut_write(slow, "--timeout 3 lists create Stalled", "INT")
    assert.equal(130, code, job.err())
    assert.same({ signal = "SIGINT", in_flight = "write", outcome = "unknown" }, e.interrupted)
    assert.is_true(e.outcome_unknown)
    assert.truthy(e.message:find("it ended without an answer (TIMEOUT): the outcome is unknown", 1, true), e.message)
  end)

  -- `lists` with env e waits for a rate-limit slot; Ctrl-C once the wait is announced ends it
  -- within a bound far below the wait, with nothing in flight and nothing sent to s
  local function cut_wait(s, e)
    local before = count(s, "arrived")
    local job = cli:spawn("--timeout 60 lists", e)
    local code, secs = interrupt(job, "INT", function() return job.err():find("for a rate-limit slot", 1, true) end,
      "no wait was announced")
    assert.equal(130, code, job.err())
    assert.is_true(secs < 10, ("took %.1fs"):format(secs))
    assert.truthy(job.err():find("interrupted (Ctrl-C): no call was in flight (it came during a wait)", 1, true),
      job.err())
    assert.is_true(helper.no_internals(job.err()), job.err())
    assert.equal(before, count(s, "arrived"))
  end

  it("ends the pause a 429's Retry-After set at once, sending nothing more", function()
    local refusing = slow_server.start(0, "429")
    local ok, e = pcall(function()
      local e = env(refusing, { EGOI_RATE_LIMIT = "150/3600", EGOI_RATE_STATE = cli:path("rl429.bin") })
      local code, _, err = cli:run("--timeout 60 lists", e) -- 429, Retry-After: 600: the state is blocked
      assert.equal(4, code, err)
      cut_wait(refusing, e)
    end)
    refusing:stop()
    assert(ok, e)
  end)

  it("ends a rate-limit wait at once, with nothing in flight and nothing sent", function()
    local e = env(quick, { EGOI_RATE_LIMIT = "1/3600", EGOI_RATE_STATE = cli:path("rl.bin") })
    local code, _, err = cli:run("--timeout 60 lists", e) -- the window's one call
    assert.equal(0, code, err)
    cut_wait(quick, e)
  end)
end)
