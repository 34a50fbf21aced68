-- egoi.sync on v2 compares every base field a row carries: a source identical to the list
-- (with city, zip_code, company, ... columns) is "unchanged" and costs no import call.
local server = require "helpers.server"
local egoi = require "egoi"
local sync = require "egoi.sync"

local KEY = "0123456789abcdef0123456789abcdef01234567"

describe("egoi.sync (v2) against the sandbox", function()
  local sb, dir
  before_each(function()
    sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --rate-limit 0" }
    dir = server.tmpdir("sync-fields")
  end)
  after_each(function()
    if sb then sb:stop() end
    if dir then server.rmdir(dir) end
  end)

  it("sees an unchanged source with base fields beyond name and phone as unchanged", function()
    local c = egoi.new{ apikey = KEY, url = sb:url("/"), rate_limit = false }
    local list = c:call("createList", { nome = "sync fields", idioma_lista = "en" }).LIST_ID
    local csv = dir .. "/crm.csv"
    local f = assert(io.open(csv, "w"))
    f:write("email,first_name,cellphone,city,zip_code,company\n",
      "ana@example.com,Ana,351-910000001,Lisboa,1000-001,ACME\n",
      "rui@example.com,Rui,351-910000002,Porto,4000-002,Initech\n")
    f:close()
    assert(sync.run(c, list, csv, { snapshot = false }))
    local plan = assert(sync.run(c, list, csv, { snapshot = false, dry_run = true }))
    assert.equal(2, plan.unchanged)
    assert.equal(0, #plan.changed)
    assert.equal(0, plan.calls.import)
    -- one field really changed: that row only
    f = assert(io.open(csv, "w"))
    f:write("email,first_name,cellphone,city,zip_code,company\n",
      "ana@example.com,Ana,351-910000001,Faro,1000-001,ACME\n",
      "rui@example.com,Rui,351-910000002,Porto,4000-002,Initech\n")
    f:close()
    plan = assert(sync.run(c, list, csv, { snapshot = false, dry_run = true }))
    assert.equal(1, plan.unchanged)
    assert.equal(1, #plan.changed)
    c:close()
  end)

  local function write(path, text)
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
  end

  it("never unsubscribes a contact because its source row was refused", function()
    local c = egoi.new{ apikey = KEY, url = sb:url("/"), rate_limit = false }
    local list = c:call("createList", { nome = "sync held", idioma_lista = "en" }).LIST_ID
    local csv = dir .. "/crm.csv"
    write(csv, "email,first_name,cellphone\nana@example.com,Ana,351-910000001\nrui@example.com,Rui,351-910000002\n"
      .. "eva@example.com,Eva,351-910000003\n")
    assert(sync.run(c, list, csv, { snapshot = false }))
    -- rui's row now has a bad phone: refused, but rui is still in the source; eva is gone
    write(csv, "email,first_name,cellphone\nana@example.com,Ana,351-910000001\nrui@example.com,Rui,12\n")
    local plan = assert(sync.run(c, list, csv, { snapshot = false, dry_run = true }))
    assert.equal(1, #plan.invalid)
    assert.equal(1, #plan.absent)
    assert.equal("eva@example.com", plan.absent[1].key)
    -- a line that cannot be read at all may name anyone: nothing is unsubscribed
    write(csv, "email,first_name,cellphone\nana@example.com,Ana,351-910000001\n\"broken,Rui\n")
    plan = assert(sync.run(c, list, csv, { snapshot = false, dry_run = true }))
    assert.equal(0, #plan.absent)
    assert.is_table(plan.removal_held)
    assert.truthy(sync.describe(plan):find("none is unsubscribed", 1, true))
    c:close()
  end)
end)
