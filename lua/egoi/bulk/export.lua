-- egoi.bulk.export - every subscriber of a list as CSV: subscriberData paged to the end (a
-- service that caps pages is paged on; the count is checked against the list's), spooled to a
-- temporary file past one page, written once every page has arrived. On API v3 the pages are
-- GET /lists/{id}/contacts at 1000 (egoi.bulk.reader folds contacts into v2's record names),
-- so both APIs give the same columns.
local csv = require "egoi.csv"
local charset = require "egoi.charset"
local errors = require "egoi.errors"
local check = require "egoi.check"
local option_names = require "egoi.options"
local source = require "egoi.bulk.source"
local reader = require "egoi.bulk.reader"
local paging = require "egoi.paging"

local type, pairs, ipairs, tostring, tonumber, error, pcall =
  type, pairs, ipairs, tostring, tonumber, error, pcall
local concat, sort = table.concat, table.sort
local floor = math.floor
local find, match, lower, format = string.find, string.match, string.lower, string.format
local check_path = source.check_path

local raise_usage = source.raise_usage

---------------------------------------------------------------------------
-- export

-- export column names: the API's option names where there is one
local EXPORT_NAME = { LANGUAGE = "lang" }
local KNOWN_ORDER = { "uid", "email", "cellphone", "telephone", "fax", "first_name", "last_name",
  "birth_date", "lang", "status" }
local KNOWN_RANK = {}
for i, k in ipairs(KNOWN_ORDER) do KNOWN_RANK[k] = i end

local function column_of(key, raw_names)
  if raw_names then return key end
  local id = match(key, "^EXTRA_FIELD_(.+)$") or match(key, "^extra_(.+)$")
  if id then return "extra_" .. id end
  return EXPORT_NAME[key] or lower(key)
end

local function value_text(v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if v == floor(v) then return format("%d", v) end
    return tostring(v)
  end
  if t == "boolean" then return v and "1" or "0" end
  if t == "table" then
    local parts = {}
    for i = 1, #v do parts[i] = value_text(v[i]) end
    return concat(parts, ";")
  end
  return ""
end

--- Export every subscriber of a list as CSV. dest: path, or function(text) called with each
-- line (terminator included). opts: page_size (1000), segment, raw_names (keep the API's
-- upper-case keys as column names), eol, on_page(info).
-- Returns { rows =, calls =, columns = {…} }; raises (or nil, err with raise = false). A path
-- that cannot be written is refused before the first call; the file is written once every page
-- has arrived (a failed export leaves an existing file as it was).
-- Fail now, before any call, when `path` cannot be written; never truncate or leave behind
-- a file (the real write happens after the last page arrived).
local function check_writable(path)
  local existed = io.open(path, "rb")
  if existed then existed:close() end
  local f, err = io.open(path, "ab")
  if not f then
    raise_usage("export: cannot write " .. path .. ": " .. tostring(err), "FILE_ERROR")
  end
  f:close()
  if not existed then os.remove(path) end
end

local function export(client, list_id, dest, opts)
  if type(client) ~= "table" or type(client.call) ~= "function" then
    raise_usage("export: argument 'client' must be an egoi client")
  end
  if list_id == nil or check.value("id", list_id) then
    raise_usage("export: argument 'listID' must be a positive integer list id, got " .. check.show(list_id))
  end
  if type(dest) ~= "string" and type(dest) ~= "function" then
    raise_usage("export: argument 'dest' must be a path or a function, got " .. type(dest))
  end
  if opts ~= nil and type(opts) ~= "table" then raise_usage("export: argument 'opts' must be a table") end
  opts = opts or {}
  local why = check.names(opts, option_names.export, "option")
  if why then raise_usage("export: " .. why) end
  local size = opts.page_size or 1000
  if type(size) ~= "number" or size < 1 or size ~= floor(size) then
    raise_usage("export: option 'page_size' must be a positive integer")
  end
  if opts.eol ~= nil and opts.eol ~= "\n" and opts.eol ~= "\r\n" then
    raise_usage("export: option 'eol' must be \"\\n\" or \"\\r\\n\"")
  end
  if opts.on_page ~= nil and type(opts.on_page) ~= "function" then
    raise_usage("export: option 'on_page' must be a function")
  end
  if opts.segment ~= nil and check.value("segment", opts.segment) then
    raise_usage("export: option 'segment' " .. check.value("segment", opts.segment))
  end
  if type(dest) == "string" then
    check_path("the output file", dest, false, "export")
    check_writable(dest)
  end
  local raw_names = opts.raw_names == true

  local calls, start = 0, 0
  local columns, colset = {}, {}
  local spool, spool_path, first
  local rows = 0
  local invalid = 0
  local total, total_known
  local cjson = require("cjson").new()
  local v3 = client.protocol == "v3"
  if v3 and opts.segment ~= nil then
    raise_usage("export: option 'segment' is not supported on API v3 yet (v3 exports whole lists)")
  end
  if v3 and size > reader.PAGE_V3 then size = reader.PAGE_V3 end
  local v3_page = v3 and reader.new(client, list_id)
  local action = opts.callback_url ~= nil
  if action then
    if not v3 then raise_usage("export: option 'callback_url' needs API v3 (its export action)") end
    if type(opts.callback_url) ~= "string" or not match(opts.callback_url, "^https?://") then
      raise_usage("export: option 'callback_url' must be an http(s) URL")
    end
    if type(opts.receive) ~= "function" then
      raise_usage("export: option 'receive' must be a function returning the callback's file URL (or nil: not yet)")
    end
    if opts.wait_timeout ~= nil and (type(opts.wait_timeout) ~= "number" or opts.wait_timeout <= 0) then
      raise_usage("export: option 'wait_timeout' must be a positive number of seconds")
    end
  elseif opts.receive ~= nil then
    raise_usage("export: option 'receive' goes with 'callback_url'")
  end
  local fetched = false

  -- the list's subscriber count (one getLists call; its failure fails the export), or nil
  -- when it cannot be known (a segment): then paging goes on to an empty page
  local function list_total()
    if v3 then return total end -- every v3 page says it (total_items)
    if opts.segment ~= nil and tostring(opts.segment):upper() ~= "ALL" then return nil end
    local res, err = client:call("getLists", {})
    calls = calls + 1
    if res == nil then error(err, 0) end
    if type(res) ~= "table" then return nil end
    for _, l in pairs(res) do
      if type(l) == "table" and tostring(l.listnum) == tostring(list_id) then return tonumber(l.subs_total) end
    end
    return nil
  end

  local function page()
    if action then
      if fetched then return {} end
      fetched = true
      local recs, n = reader.from_action(client, list_id, opts)
      calls = calls + n
      return recs
    end
    if v3 then
      calls = calls + 1
      local recs, t = v3_page(start, size)
      total = t or total
      return recs
    end
    -- one page as an array (subscribers:page copes with every answer shape)
    local recs, err = client.subscribers:page{ listID = list_id, start = start, page_size = size,
      segment = opts.segment }
    calls = calls + 1
    if recs == nil then return nil, err end
    return recs
  end

  local function flat(rec)
    local out = {}
    for k, v in pairs(rec) do
      local c = column_of(tostring(k), raw_names)
      if out[c] == nil or out[c] == "" then
        local t = value_text(v)
        if find(t, "[\128-\255]") and charset.utf8_problem(t) then
          invalid = invalid + 1
          t = charset.sanitize(t)
        end
        out[c] = t
      end
      if not colset[c] then
        colset[c] = true
        columns[#columns + 1] = c
      end
    end
    return out
  end

  local function fail(err)
    if spool then spool:close(); os.remove(spool_path) end
    if client.raise ~= false then error(err, 0) end
    return nil, err
  end

  local stall = paging.guard(v3 and "getAllContacts" or "subscriberData")
  local ok_call, err_call = pcall(function()
    while true do
      local recs, err = page()
      if recs == nil then return err end
      stall(recs, start) -- a server that ignores start/offset: PAGING_STALLED, not an endless export
      local n = #recs
      for i = 1, n do
        local r = flat(recs[i])
        rows = rows + 1
        if not first then
          first = {}
        end
        if spool then
          spool:write(cjson.encode(r), "\n")
        else
          first[#first + 1] = r
        end
      end
      start = start + n
      if opts.on_page then opts.on_page({ rows = rows, calls = calls }) end
      if n == 0 or n > size then break end
      if v3 and total and rows >= total then break end -- no empty page to ask for
      if n < size then
        -- the end, or a service that caps pages below page_size: the list's count decides
        if not total_known then
          total, total_known = list_total(), true
        end
        if total and rows >= total then break end
      end
      if not spool then
        -- more than one page: keep memory flat by spooling records to a temporary file
        spool_path = os.tmpname()
        local serr
        spool, serr = io.open(spool_path, "w+b")
        if not spool then
          os.remove(spool_path)
          raise_usage("export: cannot create a temporary file: " .. tostring(serr), "FILE_ERROR")
        end
        for _, r in ipairs(first) do spool:write(cjson.encode(r), "\n") end
        first = {}
      end
    end
  end)
  if not ok_call then return fail(err_call) end
  if err_call then return fail(err_call) end

  sort(columns, function(a, b)
    local ra, rb = KNOWN_RANK[a], KNOWN_RANK[b]
    if ra and rb then return ra < rb end
    if ra or rb then return ra ~= nil end
    return a < b
  end)
  local w, werr = csv.writer(dest, { eol = opts.eol })
  if not w then
    if spool then spool:close(); os.remove(spool_path) end
    raise_usage("export: cannot write " .. tostring(dest) .. ": " .. tostring(werr), "FILE_ERROR")
  end
  local ncol = #columns
  local function put(fields)
    local ok, err = w:write(fields, ncol)
    if not ok then
      w:close()
      if spool then spool:close(); os.remove(spool_path) end
      raise_usage("export: cannot write " .. tostring(dest) .. ": " .. tostring(err), "FILE_ERROR")
    end
  end
  put(columns)
  local function emit(r)
    local vals = {}
    for i = 1, ncol do vals[i] = r[columns[i]] or "" end
    put(vals)
  end
  if spool then
    spool:seek("set", 0)
    for line in spool:lines() do emit(cjson.decode(line)) end
    spool:close()
    os.remove(spool_path)
    spool = nil
  else
    for _, r in ipairs(first or {}) do emit(r) end
  end
  local ok, err = w:close()
  if not ok then raise_usage("export: cannot write " .. tostring(dest) .. ": " .. tostring(err), "FILE_ERROR") end
  local summary = { rows = rows, calls = calls, columns = columns, total = total, invalid_utf8 = invalid }
  if total and rows < total then
    local e = errors.new{ kind = "api", code = "EXPORT_INCOMPLETE", method = "subscriberData",
      message = ("export: received %d subscribers but list %s counts %d; the file holds what arrived,"
        .. " it is not the whole list"):format(rows, tostring(list_id), total) }
    e.export = summary
    return fail(e)
  end
  return summary
end

return export
