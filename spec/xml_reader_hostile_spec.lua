-- Hostile SOAP documents the shared reader (csrc/xmlread.c) and the SOAP converter must
-- survive with a clear answer: long reference chains, and namespace URIs that every name in
-- their scope would carry.
local core = require "egoi.core"

local HEAD = '<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/">' ..
  '<e:Body><r:xResponse xmlns:r="urn:x">'
local TAIL = "</e:Body></e:Envelope>"

-- <return href="#i1"/> then elements i1 -> i2 -> ... -> i<n>, the last one `last`
local function chain(n, last)
  local p = { HEAD, '<return href="#i1"/></r:xResponse>' }
  for i = 1, n - 1 do
    p[#p + 1] = ('<m id="i%d" href="#i%d"/>'):format(i, i + 1)
  end
  p[#p + 1] = last:format(n)
  p[#p + 1] = TAIL
  return table.concat(p)
end

describe("the SOAP reader under hostile documents", function()
  it("follows a chain of 100,000 references without a C frame per link", function()
    -- each link used to be one recursive call: this document overflowed the C stack
    local ok, v = core.soap_response(chain(100000, '<m id="i%d">end</m>'))
    assert.is_true(ok)
    assert.equal("end", v)
  end)

  it("still finds a cycle at the end of a long chain, and the values behind a chain", function()
    local ok, code, msg = core.soap_response(chain(50000, '<m id="i%d" href="#i1"/>'))
    assert.is_nil(ok)
    assert.equal("MALFORMED_XML", code)
    assert.matches("cyclic reference", msg)
    -- a target reached through a chain twice: both copies, the busy marks cleared between
    local doc = HEAD .. '<return><a href="#i1"/><b href="#i1"/></return></r:xResponse>' ..
      '<m id="i1" href="#i2"/><m id="i2"><x>1</x><y>2</y></m>' .. TAIL
    local v
    ok, v = core.soap_response(doc)
    assert.is_true(ok)
    assert.same({ a = { x = "1", y = "2" }, b = { x = "1", y = "2" } }, v)
  end)

  it("charges Map items that references share, so a scan per reference is not free", function()
    local MAP = ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:m="http://xml.apache.org/xml-soap"'
    -- 5,000 references to one Map of 5,000 items without a value: 25M items read from 0.2 MB
    local doc = HEAD:gsub("<e:Body>", "<e:Body" .. MAP .. ">") .. "<return>" .. ('<x href="#a"/>'):rep(5000) ..
      '</return></r:xResponse><a id="a" xsi:type="m:Map">' .. ("<item><key>k</key></item>"):rep(5000) .. "</a>" .. TAIL
    local ok, code, msg = core.soap_response(doc)
    assert.is_nil(ok)
    assert.equal("TOO_LARGE", code)
    assert.matches("the answer expands to more than", msg, 1, true)
    -- 5,000 Map items that all reference one item whose value follows 5,000 other children
    doc = HEAD:gsub("<e:Body>", "<e:Body" .. MAP .. ">") .. '<return xsi:type="m:Map">' ..
      ('<i href="#a"/>'):rep(5000) .. '</return></r:xResponse><a id="a"><key>k</key>' .. ("<b/>"):rep(5000) ..
      "<value>v</value></a>" .. TAIL
    ok, code = core.soap_response(doc)
    assert.is_nil(ok)
    assert.equal("TOO_LARGE", code)
    -- an item without a value is still "", its key kept
    doc = HEAD:gsub("<e:Body>", "<e:Body" .. MAP .. ">") .. '<return xsi:type="m:Map"><item><key>a</key></item>' ..
      "<item><key>b</key><value>2</value></item></return></r:xResponse>" .. TAIL
    local v
    ok, v = core.soap_response(doc)
    assert.is_true(ok)
    assert.same({ a = "", b = "2" }, v)
  end)

  it("counts the bytes references copy: a shared text cannot expand without bound", function()
    -- 100 references to one 200 kB text: 20 MB of strings from a 0.2 MB document
    local doc = HEAD .. "<return>" .. ('<x href="#a"/>'):rep(100) .. '</return></r:xResponse><a id="a">' ..
      ("v"):rep(200000) .. "</a>" .. TAIL
    local ok, code, msg = core.soap_response(doc)
    assert.is_nil(ok)
    assert.equal("TOO_LARGE", code)
    assert.matches("the answer expands to more than %d+ bytes %(references%?%)", msg)
    -- a few copies of a short shared value are what multiRefs are for
    doc = HEAD .. "<return>" .. ('<x href="#a"/>'):rep(100) .. '</return></r:xResponse><a id="a">v</a>' .. TAIL
    local v
    ok, v = core.soap_response(doc)
    assert.is_true(ok)
    assert.equal(100, #v.x)
    assert.equal("v", v.x[100])
  end)

  it("reads the attributes of a shared element once, not once per reference", function()
    -- 60,000 references to one element with 60,000 attributes (its id the last): every
    -- reference used to walk them all (3.6 billion steps, over a minute); now milliseconds
    local at = {}
    for i = 1, 60000 do
      at[i] = (' a%d=""'):format(i)
    end
    local doc = HEAD .. "<return>" .. ('<x href="#a"/>'):rep(60000) .. "</return></r:xResponse><a" ..
      table.concat(at) .. ' id="a">v</a>' .. TAIL
    local t0 = os.time()
    local ok, v = core.soap_response(doc)
    assert.is_true(ok)
    assert.equal(60000, #v.x)
    assert.is_true(os.time() - t0 < 20) -- a generous bound: ~0.1 s now
  end)

  it("reads an empty attribute as empty even when the document holds no other text", function()
    -- no text and no other attribute value: the reader's text buffer was never allocated,
    -- and href="" read as no href at all (UBSan: NULL + 0); with x="1" beside it, it was refused
    local doc = HEAD .. '<return href=""/></r:xResponse>' .. TAIL
    local ok, code, msg = core.soap_response(doc)
    assert.is_nil(ok)
    assert.equal("MALFORMED_XML", code)
    assert.matches('href "" is not a local reference', msg, 1, true)
    ok, code = core.soap_response(HEAD .. '<return href="" x="1"/></r:xResponse>' .. TAIL)
    assert.is_nil(ok)
    assert.equal("MALFORMED_XML", code)
  end)

  it("refuses a namespace URI longer than 1024 bytes", function()
    local uri = "urn:" .. ("u"):rep(1020)
    local ok = core.soap_response(HEAD .. '<return xmlns:a="' .. uri .. '"><a:x>1</a:x></return>' ..
      "</r:xResponse>" .. TAIL)
    assert.is_true(ok)
    local code, msg
    ok, code, msg = core.soap_response(HEAD .. '<return xmlns:a="' .. uri .. 'u"><a:x>1</a:x></return>' ..
      "</r:xResponse>" .. TAIL)
    assert.is_nil(ok)
    assert.equal("TOO_LARGE", code)
    assert.matches("namespace URI of 1025 bytes (more than 1024)", msg, 1, true)
  end)

  it("bounds the bytes of distinct names a long URI multiplies (64 MiB)", function()
    -- 70,000 distinct names under a 1 KiB URI: 72 MB of interned names from a 0.6 MB document
    local p = { HEAD, '<return xmlns:a="urn:', ("u"):rep(1020), '">' }
    for i = 1, 70000 do
      p[#p + 1] = ("<a:x%d/>"):format(i)
    end
    p[#p + 1] = "</return></r:xResponse>" .. TAIL
    local doc = table.concat(p)
    assert.is_true(#doc < 1024 * 1024)
    local ok, code, msg = core.soap_response(doc)
    assert.is_nil(ok)
    assert.equal("TOO_LARGE", code)
    assert.matches("distinct names longer than 67108864 bytes in all", msg, 1, true)
  end)
end)
