-- spec/cli_recipes_spec.lua - the recipes in README.md and doc/CLI.md work when pasted: each
-- block is taken from the document and run by sh (only the sandbox's port 8080 is swapped for
-- a free one, and the state places are private), in a clean environment.
local server = require "helpers.server"
local helper = require "helpers.egoi_cli"

local REPO = (io.popen("pwd"):read("*l"))

local function doc(path)
  return assert(server.read_file(path), path)
end

-- the sh block that follows `marker` in text
local function block_after(text, marker)
  local at = assert(text:find(marker, 1, true), "no '" .. marker .. "'")
  return assert(text:match("```sh\n(.-)```", at), "no sh block after '" .. marker .. "'")
end

describe("documented recipes", function()
  local cli

  setup(function() cli = helper.new() end)
  teardown(function() cli:cleanup() end)

  -- run script with sh in dir (a fresh HOME, state and runtime directory each time); returns
  -- exit status and output (stdout+stderr)
  local function sh(script, dir, extra_env)
    local run_dir = cli:path("run" .. tostring(math.random(1, 1e9)))
    os.execute("mkdir -p " .. helper.q(run_dir))
    local file = run_dir .. "/recipe.sh"
    local f = assert(io.open(file, "w"))
    f:write(script)
    f:close()
    local env = ("env -i PATH=%s HOME=%s XDG_STATE_HOME=%s XDG_RUNTIME_DIR=%s LANG=C.UTF-8 %s"):format(
      helper.q(os.getenv("PATH")), helper.q(run_dir), helper.q(run_dir .. "/state"), helper.q(run_dir),
      extra_env or "")
    local p = io.popen(("cd %s && %s sh %s 2>&1; echo \"rc=$?\""):format(helper.q(dir), env, helper.q(file)))
    local out = p:read("*a")
    p:close()
    local rc = tonumber(out:match("rc=(%d+)\n$"))
    return rc, out
  end

  it("README: the module paths, then the example against a bare EGOI_URL", function()
    local readme = doc("README.md")
    local paths = block_after(readme, "A script outside LuaRocks")
    local rc, out = sh(paths, REPO)
    assert.equal(0, rc, out)
    assert.matches("^%d+%.%d+", out)
    local example = assert(readme:match("## Example.-```lua\n(.-)```"))
    local f = assert(io.open(cli:path("example.lua"), "w"))
    f:write(example)
    f:close()
    local run = assert(readme:match("`(EGOI_APIKEY=%S+ EGOI_URL=http://127%.0%.0%.1:8080 lua5%.4 example%.lua)`"))
    local sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --rate-limit 0" }
    local script = paths:gsub("lua5%.4 %-e[^\n]*\n", "") .. "cd " .. helper.q(cli.dir) .. "\n"
      .. run:gsub("8080", tostring(sb.port)) .. "\n"
    rc, out = sh(script, REPO)
    sb:stop()
    assert.equal(0, rc, out)
    assert.matches("subscriber%s+%w+", out)
    assert.matches("EMAIL_ALREADY_EXISTS", out)
    assert.matches("calls left this hour", out)
  end)

  it("README: make demo against a sandbox started as documented", function()
    local script = block_after(doc("README.md"), "and the table of how to trigger each business error")
    local port = tostring(server.free_port())
    local rc, out = sh(script:gsub("8080", port), REPO)
    assert.equal(0, rc, out)
    assert.truthy(out:find("7. sent campaign", 1, true), out)
    assert.truthy(out:find("8. report of", 1, true), out)
    assert.is_true(helper.no_internals(out), out)
  end)

  it("doc/CLI.md: the tour, pasted into a shell in the source tree", function()
    local script = block_after(doc("doc/CLI.md"), "A tour you can paste")
    local dir = cli:path("tour")
    os.execute("mkdir -p " .. helper.q(dir .. "/examples") .. " && cp examples/contacts.csv "
      .. helper.q(dir .. "/examples/"))
    -- the tour runs in a copy's directory: the source tree's commands by absolute path
    script = script:gsub("8080", tostring(server.free_port())):gsub("%$PWD/bin", REPO .. "/bin")
      :gsub("\nbin/", "\n" .. REPO .. "/bin/"):gsub("^bin/", REPO .. "/bin/")
    local rc, out = sh(script, dir)
    assert.equal(0, rc, out)
    for _, want in ipairs{ "created list 1", "added field extra_1", "created tag 1", "sandbox1@example.com",
        "300 sent in 1 calls", "exported 300 subscribers", "sending campaign", "egoi: ALREADY_SENT:", "exit 6",
        "SENT: 300", "calls used in the current", "FIRST_NAME: Ana" } do
      assert.truthy(out:find(want, 1, true), want .. " in:\n" .. out)
    end
    assert.is_true(helper.no_internals(out), out)
    assert.falsy(out:find("COULDNT_CONNECT", 1, true), out)
  end)

  it("README: the command-line session prints what it shows", function()
    local readme = doc("README.md")
    local session = assert(readme:match("A session against\na sandbox:\n\n```text\n(.-)```"))
    local sb = server.start{ cmd = "lua5.4 bin/egoi-sandbox --port {port} --quiet --rate-limit 0" }
    local dir = cli:path("session")
    os.execute("mkdir -p " .. helper.q(dir .. "/examples") .. " && cp examples/contacts.csv "
      .. helper.q(dir .. "/examples/"))
    local cmds, expected = {}, {}
    for line in session:gmatch("([^\n]*)\n") do
      local c = line:match("^%$ (.*)$")
      if c then
        cmds[#cmds + 1] = c
      elseif not line:find("^egoi: import:") then -- progress lines carry sizes and timings
        expected[#expected + 1] = line
      end
    end
    local script = ("export PATH=%s:$PATH EGOI_APIKEY=%s EGOI_URL=%s\n"):format(helper.q(REPO .. "/bin"),
      helper.KEY, sb:url("/")) .. table.concat(cmds, "\n") .. "\n"
    local rc, out = sh(script, dir)
    sb:stop()
    assert.equal(0, rc, out)
    for _, want in ipairs(expected) do
      assert.truthy(out:find(want, 1, true), "'" .. want .. "' in:\n" .. out)
    end
  end)
end)
