-- spec/bulk_export_spec.lua - an export never ends early without saying so: a service that
-- caps pages is paged to the end, one that stops short of the list's count is an error.
local server = require "helpers.server"
local egoi = require "egoi"
local bulk = require "egoi.bulk"

local KEY = "0123456789abcdef0123456789abcdef01234567"
local SANDBOX = os.getenv("EGOI_SANDBOX") or "bin/egoi-sandbox"

describe("egoi.bulk export", function()
  local sb, client, list

  setup(function()
    sb = server.start{ cmd = "lua5.4 " .. SANDBOX .. " --port {port} --rate-limit 0 --quiet --page-cap 40" }
    client = egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false, timeout = 60 }
    list = client:call("createList", { nome = "export spec", idioma_lista = "en", canal_email = 1 }).LIST_ID
    local rows = {}
    for i = 1, 130 do rows[i] = { email = ("x%03d@example.com"):format(i) } end
    bulk.import(client, rows, { listID = list })
  end)

  teardown(function()
    if client then client:close() end
    if sb then sb:stop() end
  end)

  it("pages past short pages until the list's count is reached", function()
    local lines = {}
    local x = bulk.export(client, list, function(t) lines[#lines + 1] = t end, { page_size = 100 })
    assert.equal(130, x.rows)
    assert.equal(130, x.total)
    assert.equal(131, #lines)
    assert.equal(5, x.calls) -- 40 (short: getLists) + 40 + 40 + 10
  end)

  it("fails with EXPORT_INCOMPLETE when the pages end before the list's count", function()
    -- a service that stops answering records after the first 80
    local spy = setmetatable({
      call = function(_, m, o) return client:call(m, o) end,
      subscribers = { page = function(_, o)
        if o.start >= 80 then return {} end
        return client.subscribers:page(o)
      end },
    }, { __index = client })
    local ok, err = pcall(bulk.export, spy, list, function() end, { page_size = 100 })
    assert.is_false(ok)
    assert.equal("EXPORT_INCOMPLETE", err.code)
    assert.equal(80, err.export.rows)
    assert.equal(130, err.export.total)
    local quiet = egoi.new{ apikey = KEY, url = sb:url("/v2/rest.php"), rate_limit = false, raise = false }
    local spy2 = setmetatable({ subscribers = spy.subscribers, raise = false,
      call = function(_, m, o) return quiet:call(m, o) end }, { __index = quiet })
    local res, e = bulk.export(spy2, list, function() end, { page_size = 100 })
    assert.is_nil(res)
    assert.equal("EXPORT_INCOMPLETE", e.code)
    quiet:close()
  end)
end)
