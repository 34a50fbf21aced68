-- xmlrpc_request and soap_request share one writer helper set (csrc/xmlwrite.c, issue 12 C):
-- one key-path format and the same words in their errors, each with its own prefix.
local core = require "egoi.core"

local writers = {
  { name = "xmlrpc_request", root = "params", key = "struct member name", text_key = "member name",
    fn = core.xmlrpc_request, args = { "m" } },
  { name = "soap_request", root = "functionOptions", key = "Map key", text_key = "key",
    fn = core.soap_request, args = { "urn:x", "op" } },
}

-- called straight from pcall, so no "file:line:" of a Lua caller precedes the message
local function try(w, v)
  local a = w.args
  if #a == 1 then return pcall(w.fn, a[1], v) end
  return pcall(w.fn, a[1], a[2], v)
end

local function fails(w, v)
  local ok, err = try(w, v)
  assert.is_false(ok, "expected an error")
  assert.are.equal("string", type(err))
  return err
end

describe("the shared XML writer helpers", function()
  for _, w in ipairs(writers) do
    describe(w.name, function()
      it("names the key path: keys joined by '.', list positions as [i]", function()
        assert.are.equal(w.name .. ": cannot encode a function value at a.b[2].c",
          fails(w, { a = { b = { "x", { c = print } } } }))
        assert.are.equal(w.name .. ": NaN or infinity cannot be encoded at n", fails(w, { n = 1 / 0 }))
      end)

      it("shows bytes outside printable ASCII as \\xNN and cuts a key at 64 bytes", function()
        local err = fails(w, { ["caf\195\169"] = { v = "\0" } })
        assert.are.equal(w.name .. ": control character 0x00 in string (byte 1) cannot be carried"
          .. " by XML at caf\\xC3\\xA9.v", err)
        err = fails(w, { ["k\1"] = 1 })
        assert.are.equal(w.name .. ": control character 0x01 in " .. w.text_key .. " (byte 2) cannot be"
          .. " carried by XML at k\\x01", err)
        local long = string.rep("a", 64)
        err = fails(w, { [long .. "TAIL"] = 0 / 0 })
        assert.are.equal(w.name .. ": NaN or infinity cannot be encoded at " .. long, err)
      end)

      it("names the root for an error on the params table itself", function()
        assert.are.equal(w.name .. ": a boolean key cannot be a " .. w.key .. " at " .. w.root,
          fails(w, { [true] = 1 }))
        assert.are.equal(w.name .. ": a non-integer number key cannot be a " .. w.key .. " at " .. w.root,
          fails(w, { [1.5] = 1 }))
      end)

      it("names the duplicate key and the kind of name it is", function()
        assert.are.equal(w.name .. ": duplicate " .. w.key .. " (a number key and the same string key) at x.7",
          fails(w, { x = { [7] = 1, ["7"] = 2 } }))
      end)

      it("checks key text like values", function()
        assert.are.equal(w.name .. ": invalid UTF-8 in " .. w.text_key .. " (byte 4) at caf\\xE9",
          fails(w, { ["caf\233"] = 1 }))
      end)

      it("caps nesting at 32 levels whichever the container", function()
        local ok = try(w, (function()
          local t = {}
          local c = t
          for _ = 1, 30 do c.x = {}; c = c.x end
          return t
        end)())
        assert.is_true(ok)
        local deep = {}
        local c = deep
        for _ = 1, 40 do c[1] = {}; c = c[1] end
        local err = fails(w, { l = deep })
        assert.matches("^" .. w.name .. ": tables nested deeper than 32 levels %(cycle%?%) at l%[1%]", err)
      end)
    end)
  end
end)
