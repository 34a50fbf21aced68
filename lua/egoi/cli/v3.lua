-- egoi.cli.v3 - the commands under `--api v3` (EGOI_API=v3): the same command names as v2,
-- run through the v3 client's resource tables (client.lists, client.campaigns, ...), with v3's
-- own names where they differ (fields, ids, options). Each entry is a command module like
-- egoi.cli.cmd.<name> ({ summary, help, values, flags, run }); `refuse` runs before any client
-- is built. `limits` is v2's own module (it spends no call). doc/CLI.md "API v3".
local output = require "egoi.cli.output"
local args = require "egoi.cli.args"
local usage = args.usage

local type, tostring, tonumber, ipairs, pairs = type, tostring, tonumber, ipairs, pairs

local M = {}

-- an id from the command line: a whole number goes to v3 as a JSON number (its schemas say
-- integer), anything else as the string given
local function id(s)
  if type(s) == "string" and s:match("^[1-9]%d*$") and #s < 16 then return tonumber(s) end
  return s
end

local function each(ctx, resource, ...)
  local out = {}
  for item in ctx.v3(resource, "each", ...) do out[#out + 1] = item end
  return out
end

local function rows_or_json(ctx, rows, columns)
  if ctx.json then return output.json(output.array(rows)) end
  output.table(columns, rows)
end

local function col(key, title) return { key = key, title = title } end

local function no_v3_option(opt, names, why)
  for _, n in ipairs(names) do
    if opt[n] ~= nil then usage("--" .. n .. " has no API v3 counterpart (" .. why .. "); use --api v2 for it") end
  end
end

-- lists ----------------------------------------------------------------------------------------

M.lists = {
  summary = {
    { "lists", "the account's lists" },
    { "lists create NAME [--public-name P]", "create a list" },
  },
  help = [[
usage: egoi --api v3 lists
       egoi --api v3 lists create NAME [--public-name PUBLIC_NAME]
List the account's lists (every page: list_id, internal_name, public_name, status), or create
one (internal_name NAME; public_name PUBLIC_NAME, default NAME). v3 lists have no language or
channel on create (v2's --language and --sms).
]],
  values = { language = "single", ["public-name"] = "single" }, flags = { sms = true },
  run = function(ctx, pos, opt)
    local sub = pos[1]
    no_v3_option(opt, { "language", "sms" }, "a v3 list has no language or channel on create")
    if sub == nil then
      if opt["public-name"] then usage("--public-name goes with 'egoi lists create'") end
      return rows_or_json(ctx, each(ctx, "lists", {}), { col("list_id", "ID"), col("internal_name", "NAME"),
        col("public_name", "PUBLIC_NAME"), col("status", "STATUS") })
    elseif sub == "create" then
      local name = pos[2]
      if not name or name == "" or pos[3] then usage("usage: egoi lists create NAME [--public-name P]") end
      local res = ctx.v3("lists", "create", { internal_name = name, public_name = opt["public-name"] or name })
      if ctx.json then return output.json(res) end
      io.stdout:write("created list ", tostring(type(res) == "table" and res.list_id), "\n")
    else
      usage("unknown subcommand 'lists " .. tostring(sub) .. "' (lists, lists create NAME)")
    end
  end,
}

-- fields ---------------------------------------------------------------------------------------

local FORMATS = { "text", "number", "date", "email", "phone", "cellphone", "options" }
local IS_FORMAT = {}
for _, f in ipairs(FORMATS) do IS_FORMAT[f] = true end

M.fields = {
  summary = {
    { "fields LIST", "the fields of a list (base and extra)" },
    { "fields add LIST NAME [--format F]", "add an extra field (default format text)" },
  },
  help = [[
usage: egoi --api v3 fields LIST
       egoi --api v3 fields add LIST NAME [--format text|number|date|email|phone|cellphone|options] [--unique]
The fields of a list (field_id, name, format, type base|extra), or add an extra field (prints
its field_id). v3 calls v2's field types formats: --format, not --type.
]],
  values = { type = "single", format = "single" }, flags = { unique = true },
  run = function(ctx, pos, opt)
    if opt.type then usage("--type is v2's; over API v3 an extra field has a --format ("
      .. table.concat(FORMATS, " ") .. ")") end
    if pos[1] == "add" then
      if #pos ~= 3 or pos[3] == "" then usage("usage: egoi fields add LIST NAME [--format F]") end
      local format = opt.format or "text"
      if not IS_FORMAT[format] then
        usage("--format must be one of " .. table.concat(FORMATS, " ") .. ": " .. format)
      end
      local res = ctx.v3("fields", "create", id(pos[2]), { name = pos[3], format = format,
        unique = opt.unique or nil })
      if ctx.json then return output.json(res) end
      io.stdout:write("added field ", tostring(type(res) == "table" and res.field_id), "\n")
      return
    end
    if #pos ~= 1 then usage("usage: egoi fields LIST (or egoi fields add LIST NAME)") end
    if opt.format or opt.unique then usage("--format and --unique go with 'egoi fields add'") end
    local res = ctx.v3("fields", "all", id(pos[1]))
    local rows = {}
    for _, f in ipairs(type(res) == "table" and res or {}) do
      if type(f) == "table" then rows[#rows + 1] = f end
    end
    rows_or_json(ctx, rows, { col("field_id", "ID"), col("name", "NAME"), col("format", "FORMAT"),
      col("type", "TYPE") })
  end,
}

-- segments, tags, senders, campaigns -----------------------------------------------------------

M.segments = {
  summary = { { "segments LIST", "the segments of a list" } },
  help = [[
usage: egoi --api v3 segments LIST
The segments of a list: segment_id, name, type (auto, saved, tag). A segment id goes to
`egoi --api v3 send HASH --list LIST --segment ID`.
]],
  run = function(ctx, pos)
    if #pos ~= 1 then usage("usage: egoi segments LIST") end
    rows_or_json(ctx, each(ctx, "segments", id(pos[1]), {}), { col("segment_id", "ID"), col("name", "NAME"),
      col("type", "TYPE") })
  end,
}

local tags_v2 = require "egoi.cli.cmd.tags"

M.tags = {
  summary = {
    { "tags", "the account's tags" },
    { "tags add NAME [--color #RRGGBB]", "create a tag (prints its tag_id)" },
  },
  help = [[
usage: egoi --api v3 tags
       egoi --api v3 tags add NAME [--color #RRGGBB]
The account's tags (tag_id, name, color), or create one.
]],
  values = { color = "single" },
  run = function(ctx, pos, opt)
    if pos[1] == "add" then
      local res = ctx.v3("tags", "create", tags_v2.add_args(pos, opt))
      if ctx.json then return output.json(res) end
      io.stdout:write("created tag ", tostring(type(res) == "table" and res.tag_id), "\n")
      return
    end
    if #pos ~= 0 then usage("usage: egoi tags (or egoi tags add NAME)") end
    if opt.color then usage("--color goes with 'egoi tags add'") end
    rows_or_json(ctx, each(ctx, "tags", {}), { col("tag_id", "ID"), col("name", "NAME"), col("color", "COLOR") })
  end,
}

local SENDER_CHANNELS = { email = "email", cellphone = "cellphone", sms = "cellphone", phone = "phone" }
local SENDER_PAGE = 100

-- every sender of a channel: v3 pages senders without a total, so until an empty page
local function senders_of(ctx, channel)
  local out = {}
  for s in ctx.v3("senders", "each", channel, { limit = SENDER_PAGE }) do
    if type(s) == "table" then
      out[#out + 1] = { sender_id = s.sender_id, channel = channel, sender = s.email or s.cellphone or s.phone,
        name = s.name, status = s.status }
    end
  end
  return out
end

M.senders = {
  summary = { { "senders [--channel email|cellphone|phone]", "the account's senders (ids for --from)" } },
  help = [[
usage: egoi --api v3 senders [--channel email|cellphone|phone]
The account's senders: sender_id (what `egoi campaign create-email --from` takes), address or
number, channel, status. v3 calls the SMS channel cellphone (sms is taken too) and has no fax;
without --channel: e-mail and cellphone senders (one call each, and one per further page).
]],
  values = { channel = "single" },
  run = function(ctx, pos, opt)
    if #pos ~= 0 then usage("usage: egoi senders [--channel email|cellphone|phone]") end
    local channels = { "email", "cellphone" }
    if opt.channel then
      local c = SENDER_CHANNELS[opt.channel]
      if not c then
        usage("--channel must be email, cellphone (or sms) or phone: " .. opt.channel
          .. (opt.channel == "fax" and " (API v3 has no fax channel)" or ""))
      end
      channels = { c }
    end
    local rows = {}
    for _, c in ipairs(channels) do
      for _, s in ipairs(senders_of(ctx, c)) do rows[#rows + 1] = s end
    end
    rows_or_json(ctx, rows, { col("sender_id", "ID"), col("sender", "SENDER"), col("channel", "CHANNEL"),
      col("status", "STATUS") })
  end,
}

M.campaigns = {
  summary = { { "campaigns", "the account's campaigns" } },
  help = "usage: egoi --api v3 campaigns\nThe account's campaigns, every page (campaign_hash, list_id, "
    .. "channel, status, internal_name).\n",
  run = function(ctx, pos)
    if #pos ~= 0 then usage("usage: egoi campaigns") end
    rows_or_json(ctx, each(ctx, "campaigns", {}), { col("campaign_hash", "HASH"), col("list_id", "LIST"),
      col("channel", "CHANNEL"), col("status", "STATUS"), col("internal_name", "NAME") })
  end,
}

-- campaign create-email ------------------------------------------------------------------------

local campaign_v2 = require "egoi.cli.cmd.campaign"
local create_email_args = campaign_v2.create_email_args

M.campaign = {
  summary = { { "campaign create-email --list L --subject S --from ID (--url U | --html FILE)",
    "create an e-mail campaign" } },
  help = [[
usage: egoi --api v3 campaign create-email --list L --subject S --from SENDER_ID (--url U | --html FILE)
                                           [--name INTERNAL_NAME]
Create an e-mail campaign (content html from FILE, or web_page from U); prints its
campaign_hash. --from is an e-mail sender_id (egoi --api v3 senders); --name defaults to
the subject.
]],
  values = campaign_v2.values,
  run = function(ctx, pos, opt)
    local kind, text = create_email_args(pos, opt)
    local content
    if kind == "url" then
      content = { type = "web_page", url = text }
    else
      content = { type = "html", body = text }
    end
    local res = ctx.v3("campaigns", "create_email", { list_id = id(opt.list), internal_name = opt.name or opt.subject,
      subject = opt.subject, sender_id = id(opt.from), content = content })
    if ctx.json then return output.json(res) end
    io.stdout:write("created campaign ", tostring(type(res) == "table" and res.campaign_hash), "\n")
  end,
}

-- send -----------------------------------------------------------------------------------------

local send_v2 = require "egoi.cli.cmd.send"

M.send = {
  summary = send_v2.summary,
  help = [[
usage: egoi --api v3 send HASH --list LIST [--segment SEGMENT_ID] [--again] [--ledger PATH]
Send an e-mail campaign (POST /campaigns/email/HASH/actions/send) to a list: every contact
(segments type none), or one segment (type segment). The send ledger guards it as over v2:
a send recorded "sent" or "unknown" is refused (exit 6) until --again; exit 5 means the
outcome is unknown: check `egoi --api v3 report HASH` before sending again.
]],
  values = send_v2.values, flags = send_v2.flags,
  run = function(ctx, pos, opt)
    if #pos ~= 1 or not opt.list then usage("usage: egoi send HASH --list LIST [--segment S]") end
    local hash = pos[1]
    local body = { list_id = id(opt.list) }
    if opt.segment then body.segments = { type = "segment", data = { id(opt.segment) } } end
    local ok, res = pcall(ctx.v3, "campaigns", "send", hash, body)
    if not ok then
      error(send_v2.hinted(res, hash, opt, "egoi --api v3"), 0)
    end
    if ctx.json then return output.json(res) end
    io.stdout:write("sending campaign ", hash, " (", tostring(type(res) == "table" and res.result or "ok"), ")\n")
    if ctx.ledger_path and not ctx.quiet then
      io.stderr:write("egoi: send recorded in ", ctx.ledger_path, "\n")
    end
  end,
}

-- report ---------------------------------------------------------------------------------------

M.report = {
  summary = { { "report HASH [--channel email|sms]", "a campaign's report" } },
  help = [[
usage: egoi --api v3 report HASH [--channel email|sms]
A campaign's report (GET /reports/email/HASH, or /reports/sms/HASH): overall sends, opens,
clicks, bounces, ... and the breakdowns the service returns.
]],
  values = { channel = "single" },
  run = function(ctx, pos, opt)
    if #pos ~= 1 then usage("usage: egoi report HASH [--channel email|sms]") end
    local channel = opt.channel or "email"
    if channel ~= "email" and channel ~= "sms" then usage("--channel must be email or sms: " .. channel) end
    local res = ctx.v3("reports", channel, pos[1])
    if ctx.json then return output.json(res) end
    output.tree(res)
  end,
}

-- call -----------------------------------------------------------------------------------------

local cjson = require("cjson").new()
local VERBS = { GET = true, POST = true, PUT = true, PATCH = true, DELETE = true }

M.call = {
  summary = { { "call VERB /PATH [JSON-BODY]", "any v3 path (query in the path: /lists?limit=5)" } },
  help = [[
usage: egoi --api v3 call VERB /PATH [JSON-BODY]
Call any API v3 path: VERB is GET, POST, PUT, PATCH or DELETE; a query goes in the path
(/lists?limit=5&offset=10); JSON-BODY is one JSON object or array (POST, PUT, PATCH).
Prints the decoded answer (nothing for 204). A send (POST /campaigns/<channel>/<hash>/actions/send)
goes through the send ledger like `egoi send` (--again repeats).
]],
  flags = { again = true },
  run = function(ctx, pos)
    if #pos < 2 or #pos > 3 then usage("usage: egoi --api v3 call VERB /PATH [JSON-BODY]") end
    local verb = pos[1]:upper()
    if not VERBS[verb] then usage("egoi call: VERB must be GET, POST, PUT, PATCH or DELETE: " .. pos[1]) end
    local path = pos[2]
    if path:sub(1, 1) ~= "/" or path:find("[%s%c]") then
      usage("egoi call: the path must start with '/' (no spaces): " .. path)
    end
    if path:lower():find("apikey=", 1, true) then
      usage("egoi call: the API key comes from EGOI_APIKEY, never from the command line")
    end
    local opts
    if pos[3] then
      if verb == "GET" or verb == "DELETE" then usage("egoi call: a " .. verb .. " request takes no body") end
      local ok, body = pcall(cjson.decode, pos[3])
      if not ok or type(body) ~= "table" then usage("egoi call: the body must be one JSON object or array") end
      opts = { body = body }
    end
    local res, err = ctx.client:request(verb, path, opts)
    if res == nil and err ~= nil then error(err, 0) end
    if res == nil then
      if ctx.json then return output.json({}) end
      return
    end
    if ctx.json then return output.json(res) end
    output.tree(res)
  end,
}

-- import and export: the same commands, through the one importer's v3 backend -----------------

-- v2's import options that v3's import-bulk has no counterpart for: refused, never ignored
local V2_ONLY = { operation = "--operation (v3 imports add or update by --compare-field)",
  status = "--status (v3 sets a new contact's status itself)", tags = "--tags (v3: egoi call, attach-tag)",
  ["max-fields"] = "--max-fields (a v2 form-field cap)" }

local function over_v3(name)
  local v2 = require("egoi.cli.cmd." .. name)
  local c = {}
  for k, v in pairs(v2) do c[k] = v end
  c.refuse = function(_, _, opt)
    for o, why in pairs(V2_ONLY) do
      if opt[o] ~= nil then usage(("egoi --api v3 %s: %s is API v2's only"):format(name, why)) end
    end
  end
  return c
end
M.import = over_v3("import")
M.export = over_v3("export")

for _, c in pairs(M) do c.api = "v3" end

return M
