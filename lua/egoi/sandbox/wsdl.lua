-- egoi.sandbox.wsdl - the WSDL of a SOAP endpoint, generated from the
-- sandbox's method catalogue (egoi.sandbox.soap_ops) in the layout of Zend
-- Framework 1 Zend_Soap_AutoDiscover (egoi-v2-soap.md §2.2): SOAP 1.1,
-- rpc/encoded, namespace = the vendor's endpoint URL, soap:address = `address`.
--
-- wsdl.generate(endpoint, names, address) -> XML text
local ops_mod = require "egoi.sandbox.soap_ops"

local M = {}

local function attr(s)
  return (tostring(s):gsub('[&<>"]', { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

function M.generate(endpoint, names, address)
  local ep = ops_mod.ENDPOINTS[endpoint]
  local ops = ops_mod.operations(endpoint, names)
  local uri = ep.uri
  local body = ('    <soap:body use="encoded" encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" '
    .. 'namespace="%s"/>\n'):format(attr(uri))
  local out = {
    '<?xml version="1.0" encoding="UTF-8"?>\n',
    ('<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" xmlns:tns="%s" '
      .. 'xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
      .. 'xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" '
      .. 'name="%s" targetNamespace="%s">\n'):format(attr(uri), ep.class, attr(uri)),
    ('<types>\n  <xsd:schema targetNamespace="%s"/>\n</types>\n'):format(attr(uri)),
    ('<portType name="%sPort">\n'):format(ep.class),
  }
  for _, op in ipairs(ops) do
    out[#out + 1] = ('  <operation name="%s">\n    <input message="tns:%sIn"/>\n    <output message="tns:%sOut"/>\n'
      .. '  </operation>\n'):format(op.name, op.name, op.name)
  end
  out[#out + 1] = ('</portType>\n<binding name="%sBinding" type="tns:%sPort">\n'
    .. '  <soap:binding style="rpc" transport="http://schemas.xmlsoap.org/soap/http"/>\n'):format(ep.class, ep.class)
  for _, op in ipairs(ops) do
    out[#out + 1] = ('  <operation name="%s">\n    <soap:operation soapAction="%s#%s"/>\n'
      .. '    <input>\n    %s    </input>\n    <output>\n    %s    </output>\n  </operation>\n'):format(
      op.name, attr(uri), op.name, body, body)
  end
  out[#out + 1] = ('</binding>\n<service name="%sService">\n  <port name="%sPort" binding="tns:%sBinding">\n'
    .. '    <soap:address location="%s"/>\n  </port>\n</service>\n'):format(ep.class, ep.class, ep.class,
    attr(address or uri))
  for _, op in ipairs(ops) do
    if #op.inputs == 0 then
      out[#out + 1] = ('<message name="%sIn"/>\n'):format(op.name)
    else
      out[#out + 1] = ('<message name="%sIn">\n'):format(op.name)
      for _, p in ipairs(op.inputs) do
        out[#out + 1] = ('  <part name="%s" type="%s"/>\n'):format(p.name, p.type)
      end
      out[#out + 1] = "</message>\n"
    end
    out[#out + 1] = ('<message name="%sOut">\n  <part name="return" type="%s"/>\n</message>\n'):format(
      op.name, op.output)
  end
  out[#out + 1] = "</definitions>\n"
  return table.concat(out)
end

return M
