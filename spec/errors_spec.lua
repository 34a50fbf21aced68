local errors = require("egoi.errors")

-- The vendor error codes as the reference material lists them (its English error table and
-- §4 of the API notes), kept in the repo: tools/error_codes.lua regenerates the file.
local HERE = (debug.getinfo(1, "S").source:sub(2):match("^(.*)/[^/]*$")) or "."
local VENDOR = dofile(HERE .. "/data/vendor_error_codes.lua")

describe("egoi.errors", function()
  describe("catalogue", function()
    it("holds every code of the vendor's English table", function()
      local codes = VENDOR.english_table
      assert.is_true(#codes >= 60, "only " .. #codes .. " codes")
      for _, code in ipairs(codes) do
        local entry = errors.catalogue[code]
        assert.is_table(entry, "missing code of the English table " .. code)
        assert.equal("api", entry.kind)
        assert.is_true(errors.is_api_code(code))
      end
    end)

    it("holds every code listed in §4 of the API notes", function()
      local codes = VENDOR.api_notes
      assert.is_true(#codes >= 80, "only " .. #codes .. " codes")
      for _, code in ipairs(codes) do
        assert.is_table(errors.catalogue[code], "missing notes code " .. code)
        assert.equal("api", errors.catalogue[code].kind)
      end
    end)

    it("keeps the vendor spellings and fixes the birth-date description", function()
      assert.equal("api", errors.catalogue.FIST_NAME_ALREADY_EXISTS.kind)
      assert.equal(errors.MESSAGE_TOO_LONG.message, errors.MESSAGE_TO_LONG.message)
      assert.equal("Missing birth date", errors.message("BIRTH_DATE_REQUIRED"))
      assert.equal("The mailing list was not found", errors.message("LIST_NOT_FOUND"))
    end)

    it("holds the library's own codes with their kinds", function()
      local expect = {
        transport = { "COULDNT_RESOLVE_HOST", "COULDNT_RESOLVE_PROXY", "COULDNT_CONNECT", "TIMEOUT",
          "SSL_CONNECT_ERROR", "PEER_FAILED_VERIFICATION", "SSL_CACERT_BADFILE", "SEND_ERROR", "RECV_ERROR",
          "GOT_NOTHING", "PARTIAL_FILE", "RESPONSE_TOO_LARGE", "URL_MALFORMAT", "UNSUPPORTED_PROTOCOL",
          "CLOSED" },
        protocol = { "MALFORMED_JSON", "MALFORMED_XML", "UNEXPECTED_RESPONSE", "TOO_LARGE", "TOO_DEEP",
          "DOCTYPE_FORBIDDEN", "XMLRPC_FAULT", "SERVER_FAULT" },
        http = { "HTTP_ERROR" },
        rate_limit = { "RATE_LIMITED", "RATE_LIMIT_WAIT_EXCEEDED" },
        usage = { "INVALID_ARGUMENT", "MISSING_ARGUMENT" },
      }
      for kind, codes in pairs(expect) do
        for _, code in ipairs(codes) do
          assert.is_table(errors.catalogue[code], code)
          assert.equal(kind, errors.catalogue[code].kind, code)
          assert.is_false(errors.is_api_code(code), code)
        end
      end
    end)

    it("has well-formed entries reachable as errors.CODE", function()
      local n = 0
      for code, entry in pairs(errors.catalogue) do
        n = n + 1
        assert.equal(code, entry.code)
        assert.truthy(code:match("^[A-Z][A-Z_]*$"), code)
        assert.is_string(entry.message)
        assert.is_true(#entry.message > 0)
        assert.is_true(errors.KINDS[entry.kind])
        assert.equal(entry, errors[code])
        assert.equal(entry.message, errors.message(code))
      end
      assert.is_true(n > 100)
    end)

    it("answers message() and is_api_code() for unknown input", function()
      assert.is_nil(errors.message("NOPE"))
      assert.is_nil(errors.message(nil))
      assert.is_false(errors.is_api_code("NOPE"))
      assert.is_false(errors.is_api_code(42))
      assert.is_false(errors.is_api_code(nil))
      assert.is_true(errors.is_api_code("INVALID"))
    end)
  end)

  describe("templated codes", function()
    it("maps EXTRA_FIELD_<field>_ALREADY_EXISTS to its documented template", function()
      assert.same({ "EXTRA_FIELD_XX_ALREADY_EXISTS", "CITY" }, { errors.family("EXTRA_FIELD_CITY_ALREADY_EXISTS") })
      assert.same({ "EXTRA_FIELD_XX_ALREADY_EXISTS", "SHOE_SIZE" },
        { errors.family("EXTRA_FIELD_SHOE_SIZE_ALREADY_EXISTS") })
      assert.same({ "EXTRA_FIELD_XX_ALREADY_EXISTS" }, { errors.family("EXTRA_FIELD_XX_ALREADY_EXISTS") })
      assert.is_nil(errors.family("EMAIL_ALREADY_EXISTS"))
      assert.is_nil(errors.family("EXTRA_FIELD__ALREADY_EXISTS"))
      assert.is_nil(errors.family(nil))
      assert.equal("The extra field CITY already exists in the mailing list",
        errors.message("EXTRA_FIELD_CITY_ALREADY_EXISTS"))
      assert.equal("The extra field 100% already exists in the mailing list",
        errors.message("EXTRA_FIELD_100%_ALREADY_EXISTS"))
      assert.equal(errors.EXTRA_FIELD_XX_ALREADY_EXISTS.message, errors.message("EXTRA_FIELD_XX_ALREADY_EXISTS"))
      assert.is_true(errors.is_api_code("EXTRA_FIELD_CITY_ALREADY_EXISTS"))
    end)

    it("new() fills message and detail for them, and keeps the code as sent", function()
      local e = errors.new{ kind = "api", code = "EXTRA_FIELD_CITY_ALREADY_EXISTS" }
      assert.equal("EXTRA_FIELD_CITY_ALREADY_EXISTS", e.code)
      assert.equal("The extra field CITY already exists in the mailing list", e.message)
      assert.same({ family = "EXTRA_FIELD_XX_ALREADY_EXISTS", field = "CITY" }, e.detail)
      assert.is_nil(errors.new{ kind = "api", code = "EXTRA_FIELD_XX_ALREADY_EXISTS" }.detail)
      local own = { faultCode = 1 }
      assert.equal(own, errors.new{ kind = "api", code = "EXTRA_FIELD_A_ALREADY_EXISTS", detail = own }.detail)
    end)
  end)

  describe("new", function()
    it("builds an egoi.Error with catalogue defaults", function()
      local e = errors.new { kind = "api", code = "LIST_NOT_FOUND", method = "getLists" }
      assert.is_true(errors.is_error(e))
      assert.equal(errors.Error, getmetatable(e))
      assert.equal("egoi.Error", errors.Error.__name)
      assert.equal("The mailing list was not found", e.message)
      assert.is_false(e.retryable)
      assert.is_nil(e.http_status)
    end)

    it("formats tostring with and without method", function()
      local e = errors.new { kind = "api", code = "LIST_NOT_FOUND", method = "getLists" }
      assert.equal("egoi: LIST_NOT_FOUND: The mailing list was not found (getLists)", tostring(e))
      e = errors.new { kind = "transport", code = "TIMEOUT", message = "timed out after 30 s" }
      assert.equal("egoi: TIMEOUT: timed out after 30 s", tostring(e))
    end)

    it("uses the code as message for unknown codes", function()
      local e = errors.new { kind = "api", code = "SOMETHING_NEW" }
      assert.equal("SOMETHING_NEW", e.message)
      assert.equal("egoi: SOMETHING_NEW: SOMETHING_NEW", tostring(e))
    end)

    it("keeps every documented field", function()
      local detail = { faultCode = "1", faultString = "x" }
      local e = errors.new { kind = "http", code = "HTTP_ERROR", http_status = 503, retryable = true,
        retry_after = 30, reason = "why", detail = detail, method = "getLists" }
      assert.equal(503, e.http_status)
      assert.is_true(e.retryable)
      assert.equal(30, e.retry_after)
      assert.equal("why", e.reason)
      assert.equal(detail, e.detail)
    end)

    it("validates kind, code and field types", function()
      assert.has_error(function() errors.new { code = "X" } end)
      assert.has_error(function() errors.new { kind = "bogus", code = "X" } end)
      assert.has_error(function() errors.new { kind = "api" } end)
      assert.has_error(function() errors.new { kind = "api", code = "" } end)
      assert.has_error(function() errors.new { kind = "api", code = 5 } end)
      assert.has_error(function() errors.new { kind = "api", code = "X", retryable = "yes" } end)
      assert.has_error(function() errors.new { kind = "api", code = "X", retry_after = -1 } end)
      assert.has_error(function() errors.new { kind = "api", code = "X", apikey = "k" } end)
      assert.has_error(function() errors.new("X") end)
      for kind in pairs(errors.KINDS) do
        assert.equal(kind, errors.new { kind = kind, code = "X" }.kind)
      end
    end)
  end)

  describe("usage", function()
    it("makes a usage error", function()
      local e = errors.usage("createList", "NAME_MISSING", "createList: missing argument 'nome'")
      assert.equal("usage", e.kind)
      assert.equal("NAME_MISSING", e.code)
      assert.equal("createList", e.method)
      assert.equal("egoi: NAME_MISSING: createList: missing argument 'nome' (createList)", tostring(e))
    end)
  end)

  describe("is_error", function()
    it("recognises only error objects", function()
      assert.is_false(errors.is_error(nil))
      assert.is_false(errors.is_error("LIST_NOT_FOUND"))
      assert.is_false(errors.is_error({ kind = "api", code = "X" }))
      assert.is_false(errors.is_error(errors.catalogue.LIST_NOT_FOUND))
      assert.is_true(errors.is_error(errors.new { kind = "usage", code = "INVALID_ARGUMENT" }))
    end)
  end)
end)
