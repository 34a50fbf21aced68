-- spec/raise_false_spec.lua - raise = false holds at every public entry point: import and
-- export with a missing file, an unknown column, a bad journal, an unwritable path, bad
-- options... come back as nil, err (an egoi.Error); with raise = true the same are raised as
-- egoi.Error objects. Iterators (subscribers:each) raise in both modes, as documented.
local server = require "helpers.server"
local egoi = require "egoi"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local SANDBOX = os.getenv("EGOI_SANDBOX") or "bin/egoi-sandbox"

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local read = server.read_file

describe("raise = false", function()
  local sb, quiet, loud, list, dir, calls

  local function new_client(raise)
    local c = egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false, retries = 0,
      raise = raise, timeout = 30 }
    -- count the calls that reach the pipeline (every entry point goes through these two)
    local call, call_buffer, invoke = c.call, c.call_buffer, c.invoke
    c.call = function(...) calls = calls + 1 return call(...) end
    c.call_buffer = function(...) calls = calls + 1 return call_buffer(...) end
    c.invoke = function(...) calls = calls + 1 return invoke(...) end
    return c
  end

  setup(function()
    sb = server.start{ cmd = "lua5.4 " .. SANDBOX .. " --port {port} --rate-limit 0 --quiet" }
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -m 700 " .. dir))
    calls = 0
    quiet = new_client(false)
    loud = new_client(true)
    list = quiet:call("createList", { nome = "raise spec", idioma_lista = "en", canal_email = 1 }).LIST_ID
    quiet:call("addSubscriber", { listID = list, email = "ana@example.org", status = 1 })
    write(dir .. "/ok.csv", "email,first_name\nbea@example.org,Bea\n")
    write(dir .. "/unknown.csv", "email,shoe_size\nbea@example.org,42\n")
    write(dir .. "/long.csv", "email\n" .. ("x"):rep(500) .. "@example.org\n")
    write(dir .. "/bad.journal", "this is not a journal\n")
  end)
  teardown(function()
    quiet:close()
    loud:close()
    sb:stop()
    os.execute("rm -rf " .. dir)
  end)

  -- { what, function(client) ... end, expected code or nil, substring of the message, calls }
  local CASES = {
    { "import from a missing file", function(c)
        return c.subscribers:import(dir .. "/missing.csv", { listID = list }) end,
      "FILE_ERROR", "missing.csv", 0 },
    { "import with an unknown column", function(c)
        return c.subscribers:import(dir .. "/unknown.csv", { listID = list }) end,
      "UNKNOWN_FIELD", "shoe_size", 1 }, -- the list's extra fields were looked up
    { "import with a bad journal", function(c)
        return c.subscribers:import(dir .. "/ok.csv", { listID = list, journal = dir .. "/bad.journal" }) end,
      "JOURNAL_CORRUPT", "bad.journal", 0 },
    { "import with a journal in an unwritable place", function(c)
        return c.subscribers:import(dir .. "/ok.csv", { listID = list, journal = dir .. "/no/such/dir/j" }) end,
      "FILE_ERROR", "journal", 0 },
    { "import with a record over max_record", function(c)
        return c.subscribers:import(dir .. "/long.csv", { listID = list, max_record = 100 }) end,
      "BAD_CSV", "longer than 100 bytes", 0 },
    { "import with a misspelt option", function(c)
        return c.subscribers:import(dir .. "/ok.csv", { listID = list, jornal = dir .. "/j" }) end,
      "INVALID_ARGUMENT", "unknown option 'jornal' (did you mean 'journal'?)", 0 },
    { "import with listID = true", function(c)
        return c.subscribers:import(dir .. "/ok.csv", { listID = true }) end,
      "INVALID_ARGUMENT", "'listID'", 0 },
    { "import without options", function(c)
        return c.subscribers:import(dir .. "/ok.csv") end,
      "INVALID_ARGUMENT", "'opts'", 0 },
    { "export to an unwritable path", function(c)
        return c.subscribers:export(list, dir .. "/no/such/dir/out.csv") end,
      "FILE_ERROR", "out.csv", 0 },
    { "export with a bad eol", function(c)
        return c.subscribers:export(list, dir .. "/out.csv", { eol = "\r" }) end,
      "INVALID_ARGUMENT", "'eol'", 0 },
    { "export with a misspelt option", function(c)
        return c.subscribers:export(list, dir .. "/out.csv", { page_sise = 10 }) end,
      "INVALID_ARGUMENT", "'page_sise' (did you mean 'page_size'?)", 0 },
    { "export of a list id that is not one", function(c)
        return c.subscribers:export(-1, dir .. "/out.csv") end,
      "INVALID_ARGUMENT", "'listID'", 0 },
    { "a page with a bad page_size", function(c)
        return c.subscribers:page{ listID = list, page_size = 0 } end,
      "INVALID_ARGUMENT", "'page_size'", 0 },
    { "a page of a misspelt argument", function(c)
        return c.subscribers:page{ listID = list, segmnet = 1 } end,
      "INVALID_ARGUMENT", "subscribers:page: unknown argument 'segmnet' (did you mean 'segment'?)", 0 },
    { "a page of a misspelt page_size", function(c)
        return c.subscribers:page{ listID = list, page_sise = 10 } end,
      "INVALID_ARGUMENT", "'page_sise' (did you mean 'page_size'?)", 0 },
    { "a call with a bad argument", function(c)
        return c.lists:all{ listID = true } end,
      "INVALID_ARGUMENT", "'listID'", 1 },
  }

  for _, case in ipairs(CASES) do
    local what, fn, code, text, ncalls = case[1], case[2], case[3], case[4], case[5]

    it("returns nil, err for " .. what, function()
      calls = 0
      local res, err = fn(quiet)
      assert.is_nil(res)
      assert.is_true(egoi.is_error(err), tostring(err))
      assert.equal("usage", err.kind)
      assert.equal(code, err.code)
      assert.is_string(err.method)
      assert.truthy(err.message:find(text, 1, true), err.message)
      assert.equal(ncalls, calls, "calls made")
      assert.is_nil(tostring(err):find(KEY, 1, true))
    end)

    it("raises an egoi.Error for " .. what .. " with raise = true", function()
      local ok, err = pcall(fn, loud)
      assert.is_false(ok)
      assert.is_true(egoi.is_error(err), tostring(err))
      assert.equal(code, err.code)
    end)
  end

  it("leaves no file behind for an export refused before its first call", function()
    local res, err = quiet.subscribers:export(list, dir .. "/out.csv", { eol = "\r" })
    assert.is_nil(res)
    assert.is_not_nil(err)
    assert.is_nil(read(dir .. "/out.csv"))
  end)

  it("still imports and exports when all is well", function()
    local s = assert(quiet.subscribers:import(dir .. "/ok.csv", { listID = list }))
    assert.equal(1, s.sent)
    local info = assert(quiet.subscribers:export(list, dir .. "/all.csv"))
    assert.equal(2, info.rows)
    assert.truthy(read(dir .. "/all.csv"):find("bea@example.org", 1, true))
  end)

  it("returns the summary too when a chunk fails", function()
    local res, err, summary = quiet.subscribers:import({ { email = "c@example.org" } },
      { listID = 987654 }) -- no such list: the service refuses the chunk
    assert.is_nil(res)
    assert.is_true(egoi.is_error(err))
    assert.equal("api", err.kind)
    assert.is_table(summary)
    assert.equal(1, summary.rows)
  end)

  it("lets an error raised by the caller's own callback through", function()
    local ok, err = pcall(quiet.subscribers.import, quiet.subscribers, dir .. "/ok.csv",
      { listID = list, on_reject = function() end, on_chunk = function() error("mine", 0) end })
    assert.is_false(ok)
    assert.equal("mine", err)
  end)

  it("each, an iterator, raises in both modes", function()
    local ok, err = pcall(quiet.subscribers.each, quiet.subscribers, { listID = list, page_size = 0 })
    assert.is_false(ok)
    assert.is_true(egoi.is_error(err))
    assert.equal("usage", err.kind)
    ok, err = pcall(function()
      for _ in quiet.subscribers:each{ listID = 987654 } do end
    end)
    assert.is_false(ok)
    assert.is_true(egoi.is_error(err))
  end)

  it("egoi.new honours raise = false given with the options; without a table it raises", function()
    local c, err = egoi.new{ raise = false, apikey = KEY, rate_limit = false, timeout = -1 }
    assert.is_nil(c)
    assert.equal("usage", err.kind)
    local ok, e2 = pcall(egoi.new, "not a table")
    assert.is_false(ok)
    assert.is_true(egoi.is_error(e2))
  end)
end)
