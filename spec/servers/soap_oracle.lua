-- spec/servers/soap_oracle.lua - run spec/servers/soap_oracle.php (PHP ext/soap as
-- the judge of the sandbox's SOAP codec) with the sandbox's generated WSDL.
--   oracle.run(mode, endpoint, json_input, count) -> decoded answers (a list of `count`)
--   mode: "encode" (values -> answers) or "decode" (envelopes -> PHP values)
local cjson = require("cjson").new()

local M = {}

function M.run(mode, endpoint, json_input, count)
  local wsdl, input = os.tmpname(), os.tmpname()
  assert(os.execute("bin/egoi-sandbox --print-wsdl " .. endpoint .. " > " .. wsdl))
  local f = assert(io.open(input, "wb"))
  f:write(json_input)
  f:close()
  local p = assert(io.popen(("php spec/servers/soap_oracle.php %s %s < %s 2>&1"):format(mode, wsdl, input)))
  local text = p:read("*a")
  p:close()
  os.remove(wsdl)
  os.remove(input)
  local ok, out = pcall(cjson.decode, text)
  assert(ok and type(out) == "table" and #out == count, text)
  return out
end

return M
