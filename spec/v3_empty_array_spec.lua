-- An empty JSON array of a v3 answer stays an array: both decoders (core.json_decode and
-- json_decoder = "cjson") give an empty Lua table for `[]` and for `{}` alike, so the v3
-- protocol marks the arrays (egoi.v3.json.is_array) and `egoi --json` writes them `[]` again
-- while empty objects stay `{}`. Real servers on loopback: the sandbox, and a small Python one
-- answering one fixed body (spec/servers/v3_answer.py).
local server = require "helpers.server"
local helper = require "helpers.egoi_cli"
local egoi = require "egoi"
local core = require "egoi.core"
local json = require "egoi.v3.json"

local KEY = helper.KEY

-- every shape an empty container can take in an answer, and strings that only look like one
local BODY = '{"a":[],"b":{},"c":[[],{},[ \n ]],"d":{"e":[],"f":{"g":[]}},"s":"x[]y","t":"q\\"[]\\\\",'
  .. '"u":"[ ]","n":[1,[],"[]"],"k":{"[]":[]}}'

local function answering(body)
  local dir = server.tmpdir("egoi-v3-empty")
  local path = dir .. "/body.json"
  local f = assert(io.open(path, "wb"))
  f:write(body)
  f:close()
  return server.start{ cmd = "python3 spec/servers/v3_answer.py {port} " .. server.shell_quote(path) }, dir
end

local function client(url, decoder, raise)
  return egoi.new{ api = "v3", apikey = KEY, url = url, retries = 0, rate_limit = false, json_decoder = decoder,
    raise = raise }
end

describe("v3 answers: empty arrays", function()
  local s, dir
  setup(function() s, dir = answering(BODY) end)
  teardown(function()
    if s then s:stop() end
    server.rmdir(dir)
  end)

  for _, decoder in ipairs{ "egoi", "cjson" } do
    it("are marked arrays, empty objects plain tables, strings untouched (json_decoder = " .. decoder .. ")",
      function()
        local c = client(s:url(""), decoder)
        local doc = assert(c:request("GET", "/anything"))
        for _, t in ipairs{ doc.a, doc.c[1], doc.c[3], doc.d.e, doc.d.f.g, doc.n[2], doc.k["[]"] } do
          assert.is_true(json.is_array(t))
          assert.is_nil(next(t))
        end
        for _, t in ipairs{ doc.b, doc.c[2], doc.d, doc.d.f } do
          assert.is_false(json.is_array(t))
        end
        assert.is_nil(next(doc.b))
        assert.same({ "x[]y", 'q"[]\\', "[ ]", 1, "[]", 3 }, { doc.s, doc.t, doc.u, doc.n[1], doc.n[3], #doc.c })
        -- written out again: [] where the answer had [], {} where it had {}
        local back = assert(json.encode(doc))
        assert.same(core.json_decode(BODY), core.json_decode(back))
        for _, want in ipairs{ '"a":[]', '"b":{}', '"e":[]', '"g":[]', '"[]":[]', '"s":"x[]y"' } do
          assert.truthy(back:find(want, 1, true), want .. " in " .. back)
        end
        c:close()
      end)
  end

  it("a whole answer that is an empty array is one", function()
    local started = {}
    finally(function() -- (one finally per test: busted keeps the last)
      for _, x in ipairs(started) do x[1]:stop() server.rmdir(x[2]) end
    end)
    for _, body in ipairs{ "[]", " [ ] " } do
      local srv, d = answering(body)
      started[#started + 1] = { srv, d }
      for _, decoder in ipairs{ "egoi", "cjson" } do
        local c = client(srv:url(""), decoder)
        local doc = assert(c:request("GET", "/x"))
        assert.is_true(json.is_array(doc), decoder)
        assert.is_nil(next(doc))
        c:close()
      end
    end
  end)

  it("a malformed answer is refused as sent: the decoder's message names the original position", function()
    local body = '{"a":[],"b":[],}'
    local _, _, want = core.json_decode(body)
    local srv, d = answering(body)
    finally(function() srv:stop() server.rmdir(d) end)
    local c = client(srv:url(""), "egoi", false)
    local doc, err = c:request("GET", "/x")
    c:close()
    assert.is_nil(doc)
    assert.equal("MALFORMED_JSON", err.code)
    assert.truthy(err.message:find(want, 1, true), err.message .. " / " .. want)
  end)
end)

describe("egoi --api v3 --json", function()
  local sb, s, dir, cli
  setup(function()
    cli = helper.new()
    sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --rate-limit 0 --v3-rate-limit 0"
      .. " --v3-account-limit 0" }
    s, dir = answering(BODY)
  end)
  teardown(function()
    if sb then sb:stop() end
    if s then s:stop() end
    server.rmdir(dir)
    cli:cleanup()
  end)

  local function ok(url, args)
    local code, out, err = cli:run("--api v3 --json " .. args, { EGOI_APIKEY = KEY, EGOI_URL = url })
    assert.equal(0, code, err)
    return out
  end

  it("prints an empty v3 list as [] (the sandbox's /tags and /lists on a new account)", function()
    for _, path in ipairs{ "/tags", "/lists?limit=5&offset=0" } do
      local out = ok(sb:url("/"), "call GET " .. helper.q(path))
      assert.truthy(out:find('"items":[]', 1, true), out)
      assert.is_nil(out:find("{}", 1, true), out)
    end
    assert.equal("[]\n", ok(sb:url("/"), "tags"))
  end)

  it("keeps [] and {} apart inside an answer", function()
    local out = ok(s:url("/"), "call GET /anything")
    for _, want in ipairs{ '"a":[]', '"b":{}', '"e":[]', '"g":[]', '"[]":[]', '"s":"x[]y"', '"u":"[ ]"' } do
      assert.truthy(out:find(want, 1, true), want .. " in " .. out)
    end
    assert.same(core.json_decode(BODY), core.json_decode(out))
  end)
end)
