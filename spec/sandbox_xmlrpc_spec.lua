-- XML-RPC side of bin/egoi-sandbox: Python's xmlrpc.client drives a session,
-- raw posts check the bare-string INVALID and malformed documents.
local server = require "helpers.server"
local http = require "socket.http"
local ltn12 = require "ltn12"
local cjson = require("cjson").new()

local KEY = "0123456789abcdef0123456789abcdef01234567"

local function post(s, body)
  local chunks = {}
  local _, code, h = http.request{
    url = s:url("/v2/xmlrpc.php"), method = "POST", sink = ltn12.sink.table(chunks),
    source = ltn12.source.string(body),
    headers = { ["Content-Type"] = "text/xml", ["Content-Length"] = tostring(#body) },
  }
  return code, table.concat(chunks), h
end

local function call_xml(method, members)
  local m = {}
  for k, v in pairs(members) do
    m[#m + 1] = ("<member><name>%s</name><value><string>%s</string></value></member>"):format(k, v)
  end
  return ('<?xml version="1.0"?><methodCall><methodName>%s</methodName><params><param><value><struct>%s'
    .. "</struct></value></param></params></methodCall>"):format(method, table.concat(m))
end

describe("egoi-sandbox XML-RPC", function()
  local S
  setup(function() S = server.start{ cmd = "bin/egoi-sandbox --quiet --rate-limit 0 --port {port}" } end)
  teardown(function() S:stop() end)

  it("serves a Python xmlrpc.client session", function()
    local p = assert(io.popen("python3 spec/servers/sandbox_pyclient.py " .. S:url("/v2/xmlrpc.php") .. " " .. KEY
      .. " 2>&1"))
    local text = p:read("*a")
    p:close()
    local ok, out = pcall(cjson.decode, text)
    assert(ok, text)
    local lid = out.createList.LIST_ID
    assert.is_string(lid)
    assert.is_string(out.addExtraField.NEW_ID)
    assert.equal("py@example.com", out.addSubscriber.EMAIL)
    assert.equal(out.addSubscriber.UID, out.subscriberData.subscriber.UID)
    assert.equal("Faro", out.subscriberData.subscriber["EXTRA_FIELD_" .. out.addExtraField.NEW_ID])
    assert.equal("py@example.com", out.all.subscriber[1].EMAIL)         -- lists are arrays in XML-RPC
    assert.equal("Py list", out.getLists[1].title)
    assert.equal("city", out.getLists[1].extra_fields[1].ref)
    assert.equal("city", out.getExtraFields.extra_fields[out.addExtraField.NEW_ID].NAME)
    assert.equal("1", out.checklogin.APIKEY_VALID)
    assert.equal("INVALID", out.badKey)                                 -- bare string
    assert.equal("NO_ACCESS", out.noAccess.ERROR)
    assert.equal("LIST_MISSING", out.listMissing.subscriber.ERROR)
    assert.equal("OK", out.removeSubscriber)
    assert.equal(-32601, out.fault.code)
    assert.is_table(out.noParams)
  end)

  it("returns a bare <string> for INVALID", function()
    local code, body = post(S, call_xml("getLists", { apikey = ("0"):rep(40) }))
    assert.equal(200, code)
    assert.truthy(body:find("<params><param><value><string>INVALID</string></value></param></params>", 1, true), body)
  end)

  it("returns a struct with ERROR for business errors", function()
    local _, body = post(S, call_xml("createList", { apikey = KEY }))
    assert.truthy(body:find("<member><name>ERROR</name><value><string>NAME_MISSING</string></value></member>", 1,
      true), body)
  end)

  it("answers faults for malformed documents, DOCTYPE and deep nesting, and keeps serving", function()
    local _, body = post(S, "<methodCall><methodName>getLists</methodName><params>")
    assert.truthy(body:find("<fault>", 1, true))
    _, body = post(S, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><methodCall><methodName>&a;'
      .. "</methodName></methodCall>")
    assert.truthy(body:find("<fault>", 1, true))
    local deep = ("<value><array><data>"):rep(200) .. ("</data></array></value>"):rep(200)
    _, body = post(S, "<methodCall><methodName>getLists</methodName><params><param>" .. deep
      .. "</param></params></methodCall>")
    assert.truthy(body:find("<fault>", 1, true))
    _, body = post(S, call_xml("getCredits", { apikey = KEY }))
    assert.truthy(body:find("<name>CREDITS</name>", 1, true), body)
  end)
end)
