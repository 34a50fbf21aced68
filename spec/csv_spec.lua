-- spec/csv_spec.lua - the streaming CSV reader and writer (egoi.csv).
local csv = require "egoi.csv"

local tmpfiles = {}

local function tmpfile(content)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  tmpfiles[#tmpfiles + 1] = path
  return path
end

-- every record of `content` as { fields = , line = , offset = } (or { bad = reason, ... })
local function read_all(content, opts)
  local r = assert(csv.open(tmpfile(content), opts))
  local out = {}
  while true do
    local fields, line, offset = r:next()
    if fields == nil then break end
    if fields == false then
      out[#out + 1] = { bad = line, line = offset }
    else
      out[#out + 1] = { fields = fields, line = line, offset = offset }
    end
  end
  r:close()
  return out
end

local function fields_of(content)
  local out = {}
  for i, rec in ipairs(read_all(content)) do out[i] = rec.fields or rec.bad end
  return out
end

describe("egoi.csv reader", function()
  teardown(function()
    for _, p in ipairs(tmpfiles) do os.remove(p) end
  end)

  it("splits plain records on LF and CRLF", function()
    assert.same({ { "a", "b", "c" }, { "1", "2", "3" } }, fields_of("a,b,c\n1,2,3\n"))
    assert.same({ { "a", "b", "c" }, { "1", "2", "3" } }, fields_of("a,b,c\r\n1,2,3\r\n"))
    assert.same({ { "a", "b" }, { "1", "2" } }, fields_of("a,b\r\n1,2"))  -- no final newline
  end)

  it("keeps empty fields, including leading and trailing ones", function()
    assert.same({ { "", "x", "" }, { "", "" } }, fields_of(",x,\n,\n"))
  end)

  it("reads quoted fields with commas, doubled quotes and line breaks", function()
    local got = fields_of('name,note\n"Silva, Ana","she said ""hi"""\n"multi\nline",x\n')
    assert.same({ "name", "note" }, got[1])
    assert.same({ "Silva, Ana", 'she said "hi"' }, got[2])
    assert.same({ "multi\nline", "x" }, got[3])
  end)

  it("keeps a CRLF inside quotes as it is in the file", function()
    assert.same({ { "a\r\nb", "c" } }, fields_of('"a\r\nb",c\r\n'))
  end)

  it("reads an empty quoted field and a quoted field that is only quotes", function()
    assert.same({ { "", '"', "z" } }, fields_of('"","""",z\n'))
  end)

  it("strips a UTF-8 byte-order mark and keeps UTF-8 text intact", function()
    local got = read_all("\239\187\191email,nome\nzé@example.pt,João Ção\n")
    assert.same({ "email", "nome" }, got[1].fields)
    assert.same({ "zé@example.pt", "João Ção" }, got[2].fields)
  end)

  it("skips blank lines but counts them for line numbers", function()
    local got = read_all("a\n\n\r\nb\n")
    assert.equal(2, #got)
    assert.equal(1, got[1].line)
    assert.equal(4, got[2].line)
  end)

  it("reports the first line of multi-line records and the byte offset after each", function()
    local content = 'h1,h2\n"x\ny\nz",1\nlast,2\n'
    local got = read_all(content)
    assert.equal(1, got[1].line)
    assert.equal(2, got[2].line)
    assert.equal(5, got[3].line)
    assert.equal(6, got[1].offset)
    assert.equal(#'h1,h2\n"x\ny\nz",1\n', got[2].offset)
    assert.equal(#content, got[3].offset)
  end)

  it("counts the BOM in byte offsets so that seek() lands on the next record", function()
    local content = "\239\187\191a,b\n1,2\n3,4\n"
    local path = tmpfile(content)
    local r = assert(csv.open(path))
    r:next()
    local _, line, offset = r:next()
    assert.equal(2, line)
    r:close()
    local r2 = assert(csv.open(path))
    assert.is_true(r2:seek(offset, line + 1))
    local f3, l3 = r2:next()
    assert.same({ "3", "4" }, f3)
    assert.equal(3, l3)
    assert.is_nil(r2:next())
    r2:close()
  end)

  it("returns malformed records as false, reason, line and goes on", function()
    local got = read_all('a,b\n"x"y,1\nc,d\n')
    assert.same({ "a", "b" }, got[1].fields)
    assert.truthy(got[2].bad:find("after a closing quote", 1, true))
    assert.equal(2, got[2].line)
    assert.same({ "c", "d" }, got[3].fields)
  end)

  it("reports an unterminated quote at end of file with its opening line", function()
    local got = read_all('a\n"never closed\nmore\n')
    assert.same({ "a" }, got[1].fields)
    assert.truthy(got[2].bad:find("unterminated quoted field (opened at line 2)", 1, true))
  end)

  it("raises when one record exceeds max_record (bounded memory)", function()
    local big = '"' .. string.rep("x\n", 200)
    local r = assert(csv.open(tmpfile(big), { max_record = 100 }))
    local ok, err = pcall(r.next, r)
    r:close()
    assert.is_false(ok)
    assert.truthy(tostring(err):find("longer than 100 bytes", 1, true))
  end)

  it("keeps quotes inside unquoted fields as data", function()
    assert.same({ { 'ab"c', "d" } }, fields_of('ab"c,d\n'))
  end)

  it("iterates with records() and raises on malformed ones", function()
    local r = assert(csv.open(tmpfile("a\nb\n")))
    local seen = {}
    for fields, line in r:records() do seen[#seen + 1] = fields[1] .. line end
    r:close()
    assert.same({ "a1", "b2" }, seen)
    local r2 = assert(csv.open(tmpfile('"a"b\n')))
    assert.has_error(function() for _ in r2:records() do end end)
    r2:close()
  end)

  it("checks its arguments", function()
    assert.has_error(function() csv.open(42) end, "csv.open: argument 'path' must be a string, got number")
    assert.has_error(function() csv.reader("x") end)
    local r, err = csv.open("/nonexistent/dir/file.csv")
    assert.is_nil(r)
    assert.truthy(err)
  end)
end)

describe("egoi.csv writer", function()
  it("quotes only when needed", function()
    assert.equal("plain", csv.quote("plain"))
    assert.equal('"a,b"', csv.quote("a,b"))
    assert.equal('"say ""x"""', csv.quote('say "x"'))
    assert.equal('"two\nlines"', csv.quote("two\nlines"))
    assert.equal('" padded"', csv.quote(" padded"))
    assert.equal("12", csv.quote(12))
    assert.equal("", csv.quote(nil))
    assert.equal('a,,"c,d"', csv.format({ "a", nil, "c,d" }, 3))
  end)

  it("writes to a function and round-trips through the reader", function()
    local rows = {
      { "email", "first_name", "note" },
      { "ana@example.pt", "Ana Conceição", 'quote " and, comma' },
      { "b@example.com", "", "multi\nline" },
    }
    local out = {}
    local w = csv.writer(function(text) out[#out + 1] = text end)
    for _, row in ipairs(rows) do w:write(row) end
    assert.is_true(w:close())
    assert.equal(3, w.records)
    local back = fields_of(table.concat(out))
    assert.same(rows, back)
  end)

  it("writes CRLF when asked, and to a path", function()
    local path = os.tmpname()
    local w = assert(csv.writer(path, { eol = "\r\n" }))
    w:write({ "a", "b" })
    w:close()
    local f = assert(io.open(path, "rb"))
    assert.equal("a,b\r\n", f:read("*a"))
    f:close()
    os.remove(path)
    assert.has_error(function() csv.writer(function() end, { eol = "\r" }) end)
    assert.has_error(function() csv.writer(42) end)
  end)
end)
