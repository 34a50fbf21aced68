-- The API key never appears in an error or a log line, even when the server echoes it back
-- (a business error code, a v3 error body's `errors` names, a fault string, a body snippet)
-- and even when the key holds Lua pattern characters and percent signs. A transport object
-- answers as the server would: the classification is the point here.
local egoi = require "egoi"

local KEY = "k%1%%.*+-?[^]$()%b{}" .. ("x"):rep(20)

local function transport(status, body, fail)
  local t = {}
  function t.request(_, req)
    if fail then return nil, "COULDNT_CONNECT", "cannot connect " .. KEY .. " " .. tostring(req.url), true end
    return status, { ["content-type"] = "text/plain" }, body
  end
  function t.close() end
  return t
end

-- every string reachable from v (keys too)
local function strings(v, out, depth)
  out = out or {}
  depth = depth or 0
  if type(v) == "table" and depth < 10 then
    for k, x in pairs(v) do
      strings(k, out, depth + 1)
      strings(x, out, depth + 1)
    end
  elseif v ~= nil then
    out[#out + 1] = tostring(v)
  end
  return out
end

local FAULT = '<?xml version="1.0"?><methodResponse><fault><value><struct>'
  .. '<member><name>faultString</name><value><string>' .. KEY .. '</string></value></member>'
  .. '<member><name>faultCode</name><value><int>3</int></value></member></struct></value></fault></methodResponse>'

local FAULT_CODE = '<?xml version="1.0"?><methodResponse><fault><value><struct>'
  .. '<member><name>faultString</name><value><string>x</string></value></member>'
  .. '<member><name>faultCode</name><value><string>' .. KEY .. '</string></value></member></struct></value></fault>'
  .. '</methodResponse>'

local answers = {
  { 200, FAULT_CODE },
  { 500, FAULT_CODE },
  { 500, "oops " .. KEY },
  { 200, "not json " .. KEY },
  { 400, '{"title":"Bad ' .. KEY .. '","detail":"' .. KEY .. '","errors":{"' .. KEY .. '":"' .. KEY .. '"}}' },
  { 200, FAULT },
  { 200, '{"Egoi_Api":{"getLists":{"ERROR":"' .. KEY .. '"}}}' },
  { 500, '{"Egoi_Api":{"getLists":{"ERROR":"' .. KEY .. '"}}}' },
  { 429, KEY },
  { nil, nil, true },
}

describe("an error built from what the server sent", function()
  for _, api in ipairs{ { protocol = "rest" }, { protocol = "xmlrpc" }, { api = "v3" } } do
    for i, a in ipairs(answers) do
      it(("holds no key (%s, answer %d)"):format(api.protocol or api.api, i), function()
        local logs = {}
        local o = { apikey = KEY, transport = transport(a[1], a[2], a[3]), raise = false, retries = 0,
          rate_limit = false, log = function(_, m) logs[#logs + 1] = m end }
        for k, v in pairs(api) do o[k] = v end
        local c = egoi.new(o)
        local r, err = c:call(api.api and "getMyAccount" or "getLists", {})
        -- (v3 has no business errors in a 2xx body: that answer is the caller's data)
        assert.is_true(r == nil or (api.api == "v3" and a[1] == 200))
        local all = strings(err)
        all[#all + 1] = tostring(err)
        all[#all + 1] = tostring(c)
        for _, m in ipairs(logs) do all[#all + 1] = m end
        for _, s in ipairs(all) do assert.is_nil(s:find(KEY, 1, true), s) end
      end)
    end
  end
end)
