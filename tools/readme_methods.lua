-- tools/readme_methods.lua [--check] - keep README.md's method table equal
-- to the catalogue (lua/egoi/methods.lua). Without --check it rewrites the
-- part between the METHODS markers; with --check it exits 1 when stale.
package.path = "lua/?.lua;lua/?/init.lua;" .. package.path
local methods = require "egoi.methods"

local BEGIN, END = "<!-- METHODS:BEGIN -->", "<!-- METHODS:END -->"
local f = assert(io.open("README.md", "rb"))
local text = f:read("*a")
f:close()
local a = text:find(BEGIN, 1, true)
local b = text:find(END, 1, true)
if not a or not b then
  io.stderr:write("README.md has no METHODS markers\n")
  os.exit(1)
end
local fresh = text:sub(1, a + #BEGIN - 1) .. "\n" .. methods.markdown_table() .. "\n" .. text:sub(b)
if arg[1] == "--check" then
  if fresh ~= text then
    io.stderr:write("README.md method table is stale: run 'lua5.4 tools/readme_methods.lua'\n")
    os.exit(1)
  end
  return
end
f = assert(io.open("README.md", "wb"))
f:write(fresh)
f:close()
