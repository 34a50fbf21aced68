-- egoi.resources.subscribers: extra methods of client.subscribers.
--
--   client.subscribers:page{ list = 3, start = 0, page_size = 1000 } -> array of records
--   for sub in client.subscribers:each{ list = 3 } do ... end
--
-- Both read every subscriber of a list through subscriberData with
-- subscriber = "all_subscribers", start and limit. Arguments: `listID` (or its aliases `list`,
-- `list_id`), `start` (first offset, default 0), `page_size` (records per call, default 1000;
-- `limit` is accepted as a synonym) and any other subscriberData argument (e.g. `segment`).

local errors = require("egoi.errors")
local check = require("egoi.check")
local methods = require("egoi.methods")
local shapes = require("egoi.resources.shapes")

local subscribers = {}

local DEFAULT_PAGE_SIZE = 1000

-- the names page/each take: subscriberData's (and aliases) plus page_size
local NAMES = { "page_size" }
for _, n in ipairs(methods.lookup("subscriberData").known) do NAMES[#NAMES + 1] = n end

local function usage(message)
  return errors.usage("subscriberData", "INVALID_ARGUMENT", message)
end

-- Split the caller's arguments into the subscriberData arguments (without start/limit),
-- the first offset and the page size; nil, usage error on bad input.
local function split(fname, args)
  if args == nil then
    args = {}
  elseif type(args) ~= "table" then
    return nil, usage("subscribers:" .. fname .. ": argument 'args' must be a table, got " .. type(args))
  end
  local why = check.names(args, NAMES, "argument")
  if why then return nil, usage("subscribers:" .. fname .. ": " .. why) end
  if args.subscriber ~= nil then
    return nil, usage("subscribers:" .. fname .. ": argument 'subscriber' is not allowed (it is always "
      .. "\"all_subscribers\")")
  end
  if args.page_size ~= nil and args.limit ~= nil then
    return nil, usage("subscribers:" .. fname .. ": both 'page_size' and 'limit' given")
  end
  local size = args.page_size
  if size == nil then size = args.limit end
  if size == nil then size = DEFAULT_PAGE_SIZE end
  if type(size) ~= "number" or size < 1 or size == math.huge or size ~= math.floor(size) then
    return nil, usage("subscribers:" .. fname .. ": argument 'page_size' must be a positive integer")
  end
  local start = args.start
  if start == nil then start = 0 end
  if type(start) ~= "number" or start < 0 or start ~= math.floor(start) then
    return nil, usage("subscribers:" .. fname .. ": argument 'start' must be a non-negative integer")
  end
  local base = {}
  for k, v in pairs(args) do
    if k ~= "page_size" and k ~= "limit" and k ~= "start" then
      base[k] = v
    end
  end
  base.subscriber = "all_subscribers"
  return base, start, size
end

-- The records of one subscriberData result, as an array (empty when there are none), each in
-- the subscriber shape of client.subscribers:get.
local function records_of(result)
  return shapes.SHAPES.subscriber_data(result, { subscriber = "all_subscribers" }).subscriber
end

local function fetch(self, base, start, size)
  local call = {}
  for k, v in pairs(base) do
    call[k] = v
  end
  call.start = start
  call.limit = size
  local result, err = self._client:invoke("subscriberData", call)
  if result == nil and err ~= nil then
    return nil, err
  end
  return records_of(result)
end

--- One page of subscribers as an array. In the client's non-raising mode any failure (a bad
-- argument included) returns nil, err.
-- client.subscribers.page(...) instead of client.subscribers:page(...)
local function check_self(self, fname)
  if type(self) ~= "table" or type(rawget(self, "_client")) ~= "table" then
    error(usage("call client.subscribers:" .. fname .. "(...) with a colon"), 3)
  end
end

function subscribers.page(self, args)
  check_self(self, "page")
  local base, start, size = split("page", args)
  if not base then
    if self._client.raise == false then return nil, start end
    error(start, 2)
  end
  return fetch(self, base, start, size)
end

--- Iterator over every subscriber of a list, fetching pages lazily. Each page starts exactly
-- where the previous one ended (offset advances by the number of records received, so no
-- record is skipped or repeated); iteration stops after a short or empty page. A page larger
-- than page_size means the server ignored `limit` and sent everything: iteration stops too.
--
-- Errors: a generic `for` loop cannot carry a `nil, err` pair, so any failure (a bad argument
-- when the iterator is made, or a failed page while it runs) raises the error object (an
-- egoi.Error) even when the client was created with raise = false; wrap the loop in pcall.
function subscribers.each(self, args)
  check_self(self, "each")
  local base, start, size = split("each", args)
  if not base then error(start, 2) end
  local page, pos, done = {}, 1, false
  return function()
    while pos > #page do
      if done then
        return nil
      end
      local records, err = fetch(self, base, start, size)
      if records == nil then
        done = true
        error(err, 0)
      end
      local n = #records
      start = start + n
      if n ~= size then
        done = true
      end
      page, pos = records, 1
    end
    local record = page[pos]
    pos = pos + 1
    return record
  end
end

-- client.subscribers:import(source, opts): streaming bulk import through
-- addSubscriberBulk (CSV path, row iterator or array); see egoi.bulk.
function subscribers.import(self, source, opts)
  check_self(self, "import")
  return require("egoi.bulk").import(self._client, source, opts)
end

-- client.subscribers:export(listID, path_or_fn, opts): every subscriber of a
-- list to CSV; see egoi.bulk.
function subscribers.export(self, listID, dest, opts)
  check_self(self, "export")
  return require("egoi.bulk").export(self._client, listID, dest, opts)
end

return subscribers
