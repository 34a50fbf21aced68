-- spec/v3_bulk_openapi_spec.lua - every request the v3 bulk jobs (import with a 413 split and
-- a single contact, completion wait, export by pages and by the export action, sync with
-- removals) send, and every answer they get, valid against the vendor's OpenAPI document.
local server = require "helpers.server"
local openapi = require "helpers.openapi"
local json = require "egoi.sandbox.v3.json"
local egoi = require "egoi"
local bulk = require "egoi.bulk"
local sync = require "egoi.sync"

local KEY = "0123456789abcdef0123456789abcdef01234567"

local function recorder(inner, log)
  return {
    request = function(_, req)
      local st, h, b, info = inner:request(req)
      log[#log + 1] = { verb = req.verb, url = req.url, body = req.body, status = st, response = st and b or nil }
      return st, h, b, info
    end,
    close = function() return inner:close() end,
  }
end

describe("v3 bulk jobs against the OpenAPI document", function()
  it("send only requests the document allows and get only answers it describes", function()
    local doc = openapi.load("spec/data/v3-openapi.json")
    local sb = assert(server.start{ cmd = "bin/egoi-sandbox --quiet --port {port} --rate-limit 0 --v3-max-body 3000"
      .. " --v3-page-cap 25" })
    local dir = server.tmpdir("v3oas")
    local hooks = dir .. "/hooks.jsonl"
    local sink = assert(server.start{ cmd = "/usr/bin/python3 spec/servers/sandbox_callback_sink.py {port} "
      .. hooks })
    local log = {}
    local c = egoi.new{ api = "v3", apikey = KEY, url = sb:url("/"), rate_limit = false,
      transport = recorder(require("egoi.transport.curl").new{}, log) }
    local list = c.lists:create{ internal_name = "oas bulk" }.list_id
    local rows = {}
    for i = 1, 60 do rows[i] = { email = ("o%02d@example.com"):format(i), first_name = "O" .. i, lang = "pt",
      telephone = "351-21234567" .. (i % 10), birth_date = "1990-01-02" } end
    local s = bulk.import(c, rows, { listID = list, mode = "update", wait = { interval = 0.01 } })
    assert.is_true(s.split >= 1)
    bulk.import(c, { { email = "solo@example.com" } }, { listID = list, mode = "update" })
    bulk.import(c, { { email = "solo@example.com", last_name = "S" } }, { listID = list, mode = "update" })
    c.contacts:export(list, function() end)
    local function receive()
      local f = io.open(hooks, "rb")
      if not f then return nil end
      local line = f:read("l")
      f:close()
      return line and json.decode(json.decode(line).body) or nil
    end
    c.contacts:export(list, function() end, { callback_url = sink:url("/x"), receive = receive, poll_interval = 0.05,
      wait_timeout = 30 })
    local src = {}
    for i = 3, 62 do src[#src + 1] = { email = ("o%02d@example.com"):format(i), first_name = "N" .. i } end
    local plan = sync.run(c, list, src, {})
    assert.equal(3, #plan.absent) -- o01, o02, solo
    c:close()

    local base = sb:url("")
    local seen = {}
    for i, x in ipairs(log) do
      local path = x.url:sub(#base + 1)
      if not path:match("^/exports/") then -- the file link is no API operation
        seen[x.verb .. " " .. path:gsub("%?.*", ""):gsub("/%d+", "/{id}"):gsub("/%x%x%x%x%x%x%x%x%x%x$", "/{cid}")]
          = true
        if x.body then assert(doc:request(x.verb, path, assert(json.decode(x.body)))) end
        local rb = x.response ~= nil and x.response ~= "" and assert(json.decode(x.response)) or nil
        local ok, err = doc:response(x.verb, path, x.status, rb)
        assert(ok, ("exchange %d (%s %s): %s"):format(i, x.verb, path, tostring(err)))
      end
    end
    for _, want in ipairs{ "POST /lists/{id}/contacts/actions/import-bulk", "GET /operations",
      "GET /contacts/search", "POST /lists/{id}/contacts", "PATCH /lists/{id}/contacts/{cid}",
      "GET /lists/{id}/contacts", "POST /lists/{id}/contacts/actions/export",
      "POST /lists/{id}/contacts/actions/unsubscribe" } do
      assert.is_true(seen[want], want)
    end
    sink:stop()
    sb:stop()
    server.rmdir(dir)
  end)
end)
