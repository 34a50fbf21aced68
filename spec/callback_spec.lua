-- egoi.callback.parse in plain Lua (no nginx).
local callback = require "egoi.callback"
local errors = require "egoi.errors"

local FORM = "application/x-www-form-urlencoded"

local function esc(s)
  return (s:gsub("[^%w%-_.~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local function doc(children)
  return '<?xml version="1.0" encoding="UTF-8"?>\n<subscriber>' .. children .. "</subscriber>"
end

local BASIC = doc("<UID>ab12</UID><LIST>3</LIST><EMAIL>a@example.com</EMAIL><FIRST_NAME>Ana</FIRST_NAME>")

local function protocol_error(ev, err, code)
  assert.is_nil(ev)
  assert.is_true(errors.is_error(err))
  assert.equal("protocol", err.kind)
  assert.equal(code, err.code)
  assert.is_string(err.message)
end

describe("egoi.callback.parse", function()
  for action, event in pairs{ addSubscriber = "add", editSubscriber = "edit", removeSubscriber = "remove" } do
    it("parses " .. action, function()
      local ev = assert(callback.parse(action .. "=" .. esc(BASIC), FORM))
      assert.equal(event, ev.event)
      assert.equal(action, ev.action)
      assert.equal("subscriber", ev.root)
      assert.equal("ab12", ev.uid)
      assert.equal("3", ev.list)
      assert.equal("a@example.com", ev.email)
      assert.same({ uid = "ab12", list = "3", email = "a@example.com", first_name = "Ana" }, ev.fields)
      assert.same({}, ev.extra)
    end)
  end

  it("collects EXTRA_FIELD_<id> under extra", function()
    local ev = assert(callback.parse("addSubscriber=" .. esc(doc(
      "<UID>u</UID><EXTRA_FIELD_5>Lisboa</EXTRA_FIELD_5><EXTRA_FIELD_12></EXTRA_FIELD_12>")), FORM))
    assert.same({ ["5"] = "Lisboa", ["12"] = "" }, ev.extra)
    assert.same({ uid = "u" }, ev.fields)
  end)

  it("keeps UTF-8 text and entities", function()
    local ev = assert(callback.parse("editSubscriber=" .. esc(doc(
      "<FIRST_NAME>João</FIRST_NAME><LAST_NAME>Ørsted &amp; Müller</LAST_NAME><CITY>東京</CITY>")), FORM))
    assert.equal("João", ev.fields.first_name)
    assert.equal("Ørsted & Müller", ev.fields.last_name)
    assert.equal("東京", ev.fields.city)
  end)

  it("keeps empty elements as empty strings", function()
    local ev = assert(callback.parse("addSubscriber=" .. esc(doc("<UID>u</UID><CELLPHONE/><FAX></FAX>")), FORM))
    assert.equal("", ev.fields.cellphone)
    assert.equal("", ev.fields.fax)
  end)

  it("decodes + as space and %-escapes (any case), leaving a stray % alone", function()
    local body = "addSubscriber=<subscriber><FIRST_NAME>Ana+Maria</FIRST_NAME><EMAIL>a%2bb%40x.com</EMAIL>"
      .. "<LAST_NAME>100%</LAST_NAME><CITY>S%C3%A3o+Paulo</CITY></subscriber>"
    local ev = assert(callback.parse(body, FORM))
    assert.equal("Ana Maria", ev.fields.first_name)
    assert.equal("a+b@x.com", ev.email)
    assert.equal("100%", ev.fields.last_name)
    assert.equal("São Paulo", ev.fields.city)
  end)

  it("ignores unrelated form fields and accepts a charset parameter or no type (CGI)", function()
    local ev = assert(callback.parse("x=1&removeSubscriber=" .. esc(BASIC) .. "&y", FORM .. "; charset=UTF-8"))
    assert.equal("remove", ev.event)
    ev = assert(callback.parse("removeSubscriber=" .. esc(BASIC), nil))
    assert.equal("remove", ev.event)
    ev = assert(callback.parse("removeSubscriber=" .. esc(BASIC), "Application/X-WWW-Form-Urlencoded"))
    assert.equal("remove", ev.event)
  end)

  local function fails(code, body, ctype, opts)
    local ev, err = callback.parse(body, ctype == nil and FORM or ctype, opts)
    protocol_error(ev, err, code)
    return err
  end

  it("refuses a body without a form field, or without an action field", function()
    fails("CALLBACK_MALFORMED", "")
    fails("CALLBACK_MALFORMED", "&&&")
    fails("CALLBACK_MALFORMED", nil)
    fails("CALLBACK_UNKNOWN_ACTION", "email=a%40b.c&first_name=x")
  end)

  it("refuses two action fields (also the same one twice)", function()
    fails("CALLBACK_MALFORMED", "addSubscriber=" .. esc(BASIC) .. "&removeSubscriber=" .. esc(BASIC))
    fails("CALLBACK_MALFORMED", "addSubscriber=" .. esc(BASIC) .. "&addSubscriber=" .. esc(BASIC))
  end)

  it("refuses an unknown action, naming it safely", function()
    local err = fails("CALLBACK_UNKNOWN_ACTION", "deleteEverything=" .. esc(BASIC))
    assert.matches("deleteEverything", err.message, 1, true)
    err = fails("CALLBACK_UNKNOWN_ACTION", "%3Cscript%3E%0A=1")
    assert.is_nil(err.message:find("[<>\n]"))
  end)

  it("refuses an empty action field and other content types", function()
    fails("CALLBACK_MALFORMED", "addSubscriber=")
    fails("CALLBACK_MALFORMED", "addSubscriber=" .. esc(BASIC), "application/json")
    fails("CALLBACK_MALFORMED", "addSubscriber=" .. esc(BASIC), "multipart/form-data; boundary=x")
  end)

  it("refuses DOCTYPE / entity attacks", function()
    fails("DOCTYPE_FORBIDDEN", "addSubscriber=" .. esc('<?xml version="1.0"?><!DOCTYPE s [<!ENTITY a "aaaa">'
      .. '<!ENTITY b "&a;&a;&a;&a;">]><subscriber><UID>&b;</UID></subscriber>'))
    fails("DOCTYPE_FORBIDDEN", "addSubscriber=" .. esc('<!DOCTYPE s SYSTEM "file:///etc/passwd"><subscriber/>'))
    fails("MALFORMED_XML", "addSubscriber=" .. esc("<subscriber><UID>&undefined;</UID></subscriber>"))
  end)

  it("refuses oversized bodies (default 1 MiB, opts.max_bytes)", function()
    local big = "addSubscriber=" .. esc(doc("<UID>" .. ("x"):rep(1024 * 1024) .. "</UID>"))
    fails("TOO_LARGE", big)
    fails("TOO_LARGE", "addSubscriber=" .. esc(BASIC), nil, { max_bytes = 50 })
    assert(callback.parse("addSubscriber=" .. esc(BASIC), FORM, { max_bytes = 4096 }))
  end)

  it("refuses text that is not XML or not flat", function()
    fails("MALFORMED_XML", "addSubscriber=hello+world")
    fails("MALFORMED_XML", "addSubscriber=" .. esc("<subscriber><UID>1</UID>"))
    fails("MALFORMED_XML", "addSubscriber=" .. esc("<subscriber><A><B>1</B></A></subscriber>"))
  end)

  it("raises for wrong argument types, naming the argument", function()
    assert.has_error(function() callback.parse({}, FORM) end,
      "callback.parse: argument 'body' must be a string or nil")
    assert.has_error(function() callback.parse("", 5) end,
      "callback.parse: argument 'content_type' must be a string or nil")
    assert.has_error(function() callback.parse("", FORM, { max_bytes = -1 }) end,
      "callback.parse: option 'max_bytes' must be a positive number")
  end)
end)
