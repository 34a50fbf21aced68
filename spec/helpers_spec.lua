-- spec/helpers_spec.lua - the test helpers themselves: ports that cannot collide with
-- another copy of the suite, servers that are really ours, private temp directories.
local server = require "helpers.server"
local socket = require "socket"

local function mode(path)
  local p = io.popen("stat -c %a " .. server.shell_quote(path) .. " 2>/dev/null")
  local m = p:read("*l")
  p:close()
  return m
end

describe("helpers.server", function()
  it("free_port: a bindable port below the ephemeral range", function()
    local low = tonumber((server.read_file("/proc/sys/net/ipv4/ip_local_port_range") or "32768"):match("%d+"))
    local seen = {}
    for _ = 1, 20 do
      local port = server.free_port()
      assert.is_true(port >= 1024 and port < low, tostring(port))
      local s = socket.tcp()
      assert.truthy(s:bind("127.0.0.1", port))
      s:close()
      seen[port] = true
    end
    local n = 0
    for _ in pairs(seen) do n = n + 1 end
    assert.is_true(n > 10, "free_port repeats itself: " .. n .. " distinct ports in 20")
  end)

  it("refused_port: nothing can listen there while the suite runs", function()
    local port = server.refused_port()
    local c = socket.tcp()
    c:settimeout(2)
    local ok, err = c:connect("127.0.0.1", port)
    c:close()
    assert.is_nil(ok)
    assert.equal("connection refused", err)
    assert.is_nil(socket.bind("127.0.0.1", port)) -- even with SO_REUSEADDR
  end)

  it("start: a port someone else took is not mistaken for ours, the server moves on", function()
    -- another copy of the suite listens on the port our free_port() returns first
    local foreign = server.start{ cmd = "python3 spec/servers/counter.py {port}" }
    local taken = foreign.port
    local real, picks = server.free_port, {}
    server.free_port = function()
      picks[#picks + 1] = #picks == 0 and taken or real()
      return picks[#picks]
    end
    local ok, s = pcall(server.start, { cmd = "python3 spec/servers/counter.py {port}" })
    server.free_port = real
    foreign:stop()
    assert(ok, s)
    assert.equal(2, #picks)
    assert.equal(picks[2], s.port)
    assert.is_true(server.listens(s.pid, s.port))
    assert.is_false(server.listens(s.pid, taken))
    s:stop()
  end)

  it("start: a fixed port that is taken is an error with the server's log", function()
    local foreign = server.start{ cmd = "python3 spec/servers/counter.py {port}" }
    local ok, err = pcall(server.start, { cmd = "python3 spec/servers/counter.py {port}", port = foreign.port,
      timeout = 5 })
    foreign:stop()
    assert.is_false(ok)
    assert.matches("server did not start", err)
    assert.matches("in use", err)
  end)

  it("keeps the server's log and pid in a private directory, removed by stop", function()
    local s = server.start{ cmd = "python3 spec/servers/counter.py {port}" }
    assert.equal("700", mode(s.dir))
    assert.truthy(s.logfile:find(s.dir, 1, true) == 1)
    local dir = s.dir
    s:stop()
    assert.is_nil(server.read_file(dir .. "/pid"))
    assert.is_false(server.alive(s.pid))
  end)

  it("tmpdir: unique directories only their owner can enter", function()
    local a, b = server.tmpdir(), server.tmpdir("egoi-x")
    assert.are_not.equal(a, b)
    assert.equal("700", mode(a))
    assert.equal("700", mode(b))
    server.rmdir(a)
    server.rmdir(b)
    assert.is_nil(mode(a))
    server.rmdir("/") -- only what tmpdir made
  end)
end)
