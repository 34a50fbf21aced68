-- The one document reader (csrc/xmlread.c) behind core.xmlrpc_response, core.xml_flat and
-- core.soap_response: the same guards for all three, namespace handling per protocol, mixed
-- content refused where the grammar has none, and errors that name the element's line.
local core = require "egoi.core"

local function rpc(value)
  return "<?xml version=\"1.0\"?>\n<methodResponse>\n<params>\n<param>\n" .. value ..
    "\n</param>\n</params>\n</methodResponse>"
end

local ENV = '<?xml version="1.0" encoding="UTF-8"?>\n<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"' ..
  ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:m="http://xml.apache.org/xml-soap">' ..
  "<e:Body><r:xResponse xmlns:r=\"urn:x\">\n"
local END = "</r:xResponse></e:Body></e:Envelope>"

local function refused(fn, body, max)
  local a, code, msg = core[fn](body, max)
  assert.is_nil(a, body:sub(1, 120))
  assert.is_string(code)
  assert.is_string(msg)
  return code, msg
end

describe("the shared XML reader", function()
  it("guards the three readers alike: DOCTYPE, size, depth", function()
    local doctype = '<!DOCTYPE x [<!ENTITY e "v">]><x>&e;</x>'
    for _, fn in ipairs { "xmlrpc_response", "xml_flat", "soap_response" } do
      assert.equal("DOCTYPE_FORBIDDEN", (refused(fn, doctype)))
      local code, msg = refused(fn, ("<a>"):rep(10), 5)
      assert.equal("TOO_LARGE", code)
      assert.matches("exceeds the limit of 5 bytes", msg)
      assert.equal("MALFORMED_XML", (refused(fn, "")))
      assert.equal("MALFORMED_XML", (refused(fn, "<a><b></a>")))
    end
    assert.equal("TOO_DEEP", (refused("xmlrpc_response", ("<a>"):rep(300) .. ("</a>"):rep(300))))
    assert.equal("TOO_DEEP", (refused("soap_response", ("<a>"):rep(300) .. ("</a>"):rep(300))))
    -- a callback document has two levels: deeper stops at once, as malformed
    local code, msg = refused("xml_flat", ("<a>"):rep(100000))
    assert.equal("MALFORMED_XML", code)
    assert.matches("unexpected nesting: <a> nested deeper than 2 levels at line 1", msg, 1, true)
  end)

  it("refuses more than 4M elements with TOO_LARGE", function()
    local body = "<s>" .. ("<a/>"):rep(4000000) .. "</s>"
    local code, msg = refused("xml_flat", body)
    assert.equal("TOO_LARGE", code)
    assert.matches("more than 4000000 elements", msg)
    body = nil -- luacheck: ignore 311
    collectgarbage()
  end)

  it("reads XML-RPC without namespaces: ex: names need no declaration", function()
    for _, doc in ipairs {
      rpc("<value><ex:i8>9007199254740993</ex:i8></value>"),
      rpc('<value xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions">' ..
        "<ex:i8>9007199254740993</ex:i8></value>"),
    } do
      local ok, v = core.xmlrpc_response(doc)
      assert.is_true(ok)
      assert.equal("9007199254740993", v)
    end
    local ok, v = core.xmlrpc_response(rpc("<value><ex:nil/></value>"))
    assert.is_true(ok)
    assert.equal("", v)
    -- SOAP reads with namespaces: an undeclared prefix is an error there
    local code, msg = refused("soap_response", ENV .. "<return><p:x>1</p:x></return>" .. END)
    assert.equal("MALFORMED_XML", code)
    assert.matches("unbound prefix", msg)
  end)

  it("refuses text beside elements in XML-RPC and callbacks, wherever it stands", function()
    for _, value in ipairs {
      "<value><string>x</string>junk</value>",
      "<value>junk<string>x</string></value>",
      "<value><struct><member><name>a</name><value>1</value></member>junk</struct></value>",
      "<value><struct><member>junk<name>a</name><value>1</value></member></struct></value>",
      "<value><array><data><value>1</value>junk</data></array></value>",
      "<value><array>junk<data/></array></value>",
    } do
      local code, msg = refused("xmlrpc_response", rpc(value))
      assert.equal("MALFORMED_XML", code, value)
      assert.matches("text", msg, 1, true)
    end
    assert.equal("MALFORMED_XML", (refused("xmlrpc_response",
      "<methodResponse><params>junk<param><value>1</value></param></params></methodResponse>")))
    assert.equal("MALFORMED_XML", (refused("xml_flat", "<s><A>1</A>junk</s>")))
    -- whitespace beside elements is fine
    local ok, v = core.xmlrpc_response(rpc("<value>\n  <struct>\n  <member> <name>a</name>\n" ..
      " <value> <int>1</int> </value> </member>\n</struct>\n</value>"))
    assert.is_true(ok)
    assert.same({ a = "1" }, v)
  end)

  it("ignores text beside elements in SOAP answers, as PHP's SoapServer does", function()
    local ok, v = core.soap_response(ENV .. "<return><a>1</a>junk<b>2</b></return>" .. END)
    assert.is_true(ok)
    assert.same({ a = "1", b = "2" }, v)
  end)

  it("names the line of the element at fault (and expat's column while parsing)", function()
    for _, fn in ipairs { "xmlrpc_response", "xml_flat", "soap_response" } do
      local _, m = refused(fn, "<a>\n<b>\n</c></a>")
      assert.matches("mismatched tag at line 3, column %d+$", m)
    end
    local _, msg = refused("xmlrpc_response", rpc("<value>\n<float>1</float></value>"))
    assert.matches("unknown value type <float> at line 6", msg, 1, true)
    _, msg = refused("xmlrpc_response", rpc("<value><struct>\n\n<member><name>a</name></member></struct></value>"))
    assert.matches("<member> without <value> at line 7", msg, 1, true)
    _, msg = refused("xmlrpc_response", rpc("<value><int>x</int></value>"))
    assert.matches("invalid <int> value at line 5", msg, 1, true)
    _, msg = refused("soap_response", ENV .. '<return xsi:type="m:Map">\n<item><value>x</value></item></return>' .. END)
    assert.matches("a Map item without a key at line 4", msg, 1, true)
    _, msg = refused("soap_response", ENV .. '\n\n<return href="#nowhere"/>' .. END)
    assert.matches('unknown id "nowhere" at line 5', msg, 1, true)
  end)

  it("keeps every reader's values apart when documents interleave", function()
    local a = core.xmlrpc_response(rpc("<value><string>one</string></value>"))
    local ok, v = core.soap_response(ENV .. "<return>two</return>" .. END)
    local root, t = core.xml_flat("<s><A>three</A></s>")
    assert.is_true(a)
    assert.is_true(ok)
    assert.equal("two", v)
    assert.equal("s", root)
    assert.same({ A = "three" }, t)
  end)
end)
