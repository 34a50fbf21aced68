-- egoi.resources: resource tables (client.lists, client.subscribers, ...) built from the
-- method catalogue. Each catalogue method is reachable under its resource by every one of its
-- Lua names, e.g. client.lists:create_list{...} == client.lists:create{...}; every such call
-- is client:invoke(<wire name>, args), which prepares the arguments and performs the call,
-- and then gives the result the one shape the catalogue entry names (egoi.resources.shapes;
-- an API error listed in the entry's `empty_on`, e.g. getTags' NO_TAGS_FOUND, becomes the
-- empty result). client:call keeps the wire shape.
-- Resource-specific extras (client.subscribers:each, ...) come from egoi.resources.<name>.

local methods = require("egoi.methods")
local errors = require("egoi.errors")
local check = require("egoi.check")
local shapes = require("egoi.resources.shapes")

local resources = {}

-- Extra methods per resource: modules returning { method_name = function(self, args) ... }.
local EXTRAS = {
  subscribers = require("egoi.resources.subscribers"),
}

local Resource = {} -- metatable of every resource table

local function means_empty(entry, err)
  return errors.is_error(err) and err.kind == "api" and entry.empty_on[err.code] == true
end

local function method_of(resource, lua_name, entry)
  local wire_name = entry.name
  local shape = entry.shape and assert(shapes.SHAPES[entry.shape], "unknown shape " .. tostring(entry.shape))
  return function(self, args)
    if getmetatable(self) ~= Resource then
      error(errors.usage(wire_name, "INVALID_ARGUMENT",
        "call client." .. resource .. ":" .. lua_name .. "(...) with a colon"), 2)
    end
    local client = self._client
    if not shape then return client:invoke(wire_name, args) end
    local ok, res, err
    if client.raise == false then
      ok, res, err = true, client:invoke(wire_name, args)
    else
      ok, res = pcall(client.invoke, client, wire_name, args)
      if not ok then err = res end
    end
    if res == nil or not ok then
      if means_empty(entry, err) then return shape(nil, args) end
      if not ok then error(err, 0) end -- raise mode: the error as invoke raised it
      return nil, err
    end
    return shape(res, args)
  end
end

-- resource name -> { lua name -> function }, and the resource names in catalogue order
local tables, order, names_of = {}, {}, {}
for _, entry in ipairs(methods.list) do
  local r = entry.resource
  if not tables[r] then
    tables[r] = {}
    order[#order + 1] = r
  end
  for _, n in ipairs(entry.names) do
    assert(tables[r][n] == nil, "duplicate method name " .. r .. "." .. n)
    tables[r][n] = method_of(r, n, entry)
  end
end
for r, extras in pairs(EXTRAS) do
  assert(tables[r], "extras for unknown resource " .. r)
  for n, f in pairs(extras) do
    assert(tables[r][n] == nil, "extra method clashes with catalogue: " .. r .. "." .. n)
    tables[r][n] = f
  end
end

for r, fns in pairs(tables) do
  local names = {}
  for n in pairs(fns) do names[#names + 1] = n end
  table.sort(names)
  names_of[r] = names
end

--- The resource names, in catalogue order.
resources.names = order

function Resource.__index(self, key)
  local fns = tables[rawget(self, "_name")]
  local f = fns[key]
  if f == nil then
    -- a typo in a method name is a programming error: it raises whatever the error mode
    -- (an index cannot return nil, err)
    local r = rawget(self, "_name")
    error(errors.usage(nil, "INVALID_ARGUMENT", "client." .. r .. " has no method "
      .. check.unknown_message("method", key, names_of[r]):gsub("^unknown method ", "")), 2)
  end
  return f
end

function Resource.__tostring(self)
  return "egoi resource " .. rawget(self, "_name")
end

--- Create client.<resource> for every resource of the catalogue. Returns the client.
function resources.attach(client)
  if type(client) ~= "table" then
    error("resources.attach: argument 'client' must be a table, got " .. type(client), 2)
  end
  for _, r in ipairs(order) do
    client[r] = setmetatable({ _client = client, _name = r }, Resource)
  end
  return client
end

--- True when `v` is a resource table.
function resources.is_resource(v)
  return type(v) == "table" and getmetatable(v) == Resource
end

return resources
