#!/usr/bin/env lua5.4
-- tools/gen_contacts.lua - deterministic contact CSVs for examples, specs and benches.
--   lua5.4 tools/gen_contacts.lua N [FILE] [--bad]
-- Columns: email,first_name,last_name,cellphone,city. With --bad, examples/contacts.csv's
-- three deliberately bad rows are added (see doc/CLI.md). Output to FILE or stdout.
local n = tonumber(arg[1])
if not n then
  io.stderr:write("usage: gen_contacts.lua N [FILE] [--bad]\n")
  os.exit(2)
end
local file, bad = nil, false
for i = 2, #arg do
  if arg[i] == "--bad" then bad = true else file = arg[i] end
end
local out = file and assert(io.open(file, "wb")) or io.stdout

local FIRST = { "Ana", "João", "Maria", "Pedro", "Inês", "Tiago", "Sofia", "Rui", "Beatriz", "Miguel",
  "Conceição", "Zoë", "Łukasz", "François", "Marta", "Diogo" }
local LAST = { "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins",
  "Gonçalves", "Müller", "Sousa, Jr", "Lopes" }
local CITY = { "Lisboa", "Porto", "Braga", "Coimbra", "Faro", "Évora", "Aveiro", "Funchal" }

local function field(s)
  if s:find('[",\r\n]') then return '"' .. s:gsub('"', '""') .. '"' end
  return s
end

-- a Park-Miller generator so the file is the same on every run and interpreter
local seed = 12345
local function rnd(m)
  seed = (seed * 16807) % 2147483647
  return seed % m + 1
end

local buf = { "email,first_name,last_name,cellphone,city\n" }
for i = 1, n do
  local first, last = FIRST[rnd(#FIRST)], LAST[rnd(#LAST)]
  local phone = (i % 3 == 0) and "" or ("351-9%d%07d"):format(rnd(3) - 1 + 1, i)
  buf[#buf + 1] = ("contact%07d@example.com,%s,%s,%s,%s\n"):format(i, field(first), field(last), phone,
    field(CITY[rnd(#CITY)]))
  if #buf >= 4096 then
    out:write(table.concat(buf))
    buf = {}
  end
end
if bad then
  buf[#buf + 1] = "not-an-email,Bad,Email,,Lisboa\n"
  buf[#buf + 1] = "bad.phone@example.com,Bad,Phone,912345678,Porto\n"
  buf[#buf + 1] = "CONTACT0000001@example.com,Dup,Licate,,Faro\n"
end
out:write(table.concat(buf))
if file then out:close() end
