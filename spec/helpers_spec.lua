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

-- Replaces server.free_port: the n-th pick is `taken` when n == at, else a real free port.
-- Returns the list of picks and a function that puts the real one back.
local function pick_taken(at, taken)
  local real, picks = server.free_port, {}
  server.free_port = function()
    picks[#picks + 1] = #picks + 1 == at and taken or real()
    return picks[#picks]
  end
  return picks, function() server.free_port = real end
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
    local picks, restore = pick_taken(1, taken)
    local ok, s = pcall(server.start, { cmd = "python3 spec/servers/counter.py {port}" })
    restore()
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

describe("helpers.nginx", function()
  local nginx = require "helpers.nginx"

  it("runs the workers as the invoking user, in a private prefix", function()
    local n = nginx.start{ workers = 1 }
    local ok, err = pcall(function()
      local p = io.popen("id -u; id -un")
      local uid, name = p:read("*l"), p:read("*l")
      p:close()
      assert.equal(uid == "0", n.conf:find("^user " .. name .. " ") ~= nil, n.conf:sub(1, 80))
      assert.equal("700", mode(n.prefix))
      local workers = n:worker_pids()
      assert.equal(1, #workers)
      p = io.popen("ps -o user= -p " .. workers[1])
      assert.equal(name, (p:read("*l") or ""):match("%S+"))
      p:close()
      assert.equal(404, (nginx.request(n.port, "GET", "/nothing-here")))
    end)
    local prefix = n.prefix
    n:stop()
    assert(ok, err)
    assert.is_nil(mode(prefix))
  end)

  it("moves to other ports when one is taken, and gives every @PORT_<NAME>@ its own", function()
    local foreign = server.start{ cmd = "python3 spec/servers/counter.py {port}" }
    local picks, restore = pick_taken(2, foreign.port) -- the first @PORT_TWO@ is taken
    local ok, n = pcall(nginx.start, { extra = "listen 127.0.0.1:@PORT_TWO@;" })
    restore()
    foreign:stop()
    assert(ok, n)
    assert.equal(4, #picks)
    assert.same({ picks[3], picks[4] }, { n.port, n.ports.TWO })
    assert.equal(404, (nginx.request(n.ports.TWO, "GET", "/x")))
    n:stop()
  end)
end)
