-- The sandbox's SOAP answer writer (egoi.sandbox.soap_write) judged byte for byte
-- by PHP ext/soap's own SoapServer (spec/servers/soap_oracle.php) on the same values.
local oracle = require "servers.soap_oracle"
local shape = require "egoi.sandbox.shape"
local soap_read = require "egoi.sandbox.soap_read"
local soap_write = require "egoi.sandbox.soap_write"

local ANY = "http://api.e-goi.com/v2/soap_any.php"

-- the oracle's tagged PHP value -> what the sandbox's handlers return
local function lua_value(t)
  if t.t == "null" then return soap_read.NULL end
  if t.t == "int" then return math.tointeger and math.tointeger(tonumber(t.v)) or tonumber(t.v) end
  if t.t == "float" then return tonumber(t.v) + 0.0 end
  if t.t == "list" then
    local out = shape.list()
    for i, x in ipairs(t.v) do out[i] = lua_value(x) end
    return out
  end
  if t.t == "map" then
    local out = {}
    for _, kv in ipairs(t.v) do out[kv[1]] = lua_value(kv[2]) end
    return out
  end
  return t.v
end

local VALUES = {
  '"INVALID"', '""', '"a&b <c> \\"d\\" \' \\r\\n x"', '"Clientes ção"', "true", "false", "5000000000", "-3", "0.1",
  "1.5", "1e20", "null", "[]", "[1,2]", '["a","b"]', '[1,"a",null]', "[null]", "[[1,2],[3]]", "[[]]",
  '{"ERROR":"NO_ACCESS"}', '{"a":null,"b":true,"c":0.5,"d":7,"e":"x"}', '{"7":{"NAME":"x"},"12":{"NAME":"y"}}',
  '{"sparse":{"0":"a","2":"c"},"list":{"0":"a","1":"b"}}', '{"a<b":"&"}',
  '[{"listnum":"1","title":"N","extra_fields":[{"id":"1","ref":"cidade"}]},{"listnum":"2","extra_fields":[]}]',
  '{"subscriber":[{"UID":"x","TAGS":["1","2"]},{"UID":"y","TAGS":[]}]}', '{"TOTAL":2,"ERRORS":[],"M":{"k":[1]}}',
}

describe("egoi.sandbox.soap_write against PHP SoapServer", function()
  local answers
  setup(function()
    answers = oracle.run("encode", "soap_any", "[" .. table.concat(VALUES, ",") .. "]", #VALUES)
  end)

  for _, ver in ipairs{ "1.1", "1.2" } do
    for i, json in ipairs(VALUES) do
      it("writes " .. json .. " as PHP does (SOAP " .. ver .. ")", function()
        local v = lua_value(answers[i].value)
        assert.equal(answers[i][ver], soap_write.response(ver, ANY, "getLists", v, "xsd:anyType"))
      end)
    end
  end
end)
