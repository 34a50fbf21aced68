-- egoi.sandbox.v3.r_lists - /ping, /my-account, /lists, /lists/{id}/fields.
local json = require "egoi.sandbox.v3.json"
local errors = require "egoi.sandbox.v3.errors"
local u = require "egoi.sandbox.v3.util"

local problem, invalid = errors.problem, errors.invalid

local function account(x)
  local acc, c = x.acc, x.acc.client
  return 200, {
    general_info = { name = c.COMPANY_NAME, website = c.WEBSITE, cellphone = "351-910000000",
                     client_id = c.CLIENTE_ID },
    billing_info = { type = c.COMPANY_TYPE == "company" and "company" or "single_person",
                     company_legal_name = c.COMPANY_LEGAL_NAME, vat_number = "999999990",
                     country = { country_code = c.COUNTRY }, city = c.CITY, state = c.STATE, address1 = c.ADDRESS,
                     address2 = "", zip_code = "4000-000", invoice_comments = "" },
    plan_info = { type = "pro" },
    balance_info = { balance = ("%.2f"):format(acc.credits), currency = "EUR" },
    module_info = { te = { enabled = false } },
  }
end

local function list_view(l)
  return { list_id = tonumber(l.listnum), internal_name = l.title,
    public_name = l.public_name or l.title_ref or l.title,
           status = "active", group_id = tonumber(l.grupo) or 0, created = l.created, updated = l.updated or l.created,
           language = u.LANGUAGES[l.idioma] and l.idioma or "en" }
end

local function complex_list(l)
  local v = list_view(l)
  local s = { total_contacts = 0, total_active = 0, total_inactive = 0, total_removed = 0, total_unconfirmed = 0,
              total_waiting_new_confirmation = 0 }
  for _, r in pairs(l.subs) do
    s.total_contacts = s.total_contacts + 1
    local k = "total_" .. u.STATUS_V3[r.STATUS or "1"]
    s[k] = s[k] + 1
  end
  v.default_language, v.available_languages, v.stats = v.language, json.array({ v.language }), s
  return v
end

local function all_lists(x)
  local q = x.query
  local out = {}
  for _, id in ipairs(u.ordered(x.acc.list_order, q)) do
    local l = x.acc.lists[id]
    if (not q.internal_name or l.title:find(q.internal_name, 1, true))
       and (not q.public_name or (l.public_name or l.title):find(q.public_name, 1, true)) then
      out[#out + 1] = l
    end
  end
  local page, s, b = u.page(x, out, 10, list_view)
  if not page then return s, b end
  return 200, page
end

local function name_check(b, member, required)
  local v = b[member]
  if v == nil then
    if required then return invalid(member, "isEmpty", "Value is required and can't be empty") end
    return
  end
  if type(v) ~= "string" or v:match("^%s*$") then return invalid(member, "isEmpty", "must be a non-empty string") end
end

local function create_list(x)
  local b = x.body
  if not u.object(b) then return problem(400, "The body must be a JSON object") end
  local s, e = name_check(b, "internal_name", true)
  if not s then s, e = name_check(b, "public_name") end
  if s then return s, e end
  local v, code = u.v2(x, "m_lists", "createList", { nome = b.internal_name })
  if code == "NO_MORE_LISTS_ALLOWED" then
    return problem(409, "List limit reached",
      { list_limit_reached = "The maximum number of allowed lists was reached" })
  elseif code then return problem(400, code) end
  local l = x.acc.lists[v.LIST_ID]
  l.public_name = b.public_name or b.internal_name
  return 201, list_view(l)
end

local function get_list(x, id)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  return 200, complex_list(l)
end

local function patch_list(x, id)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  local body = x.body
  if not u.object(body) then return problem(400, "The body must be a JSON object") end
  local st, e = name_check(body, "internal_name")
  if not st then st, e = name_check(body, "public_name") end
  if st then return st, e end
  if body.group_id ~= nil and not u.int(body.group_id) then return invalid("group_id", "notInt",
    "must be an integer") end
  if body.internal_name then l.title = body.internal_name end
  if body.public_name then l.public_name = body.public_name end
  if body.group_id then l.grupo = tostring(body.group_id) end
  l.updated = require("egoi.sandbox.store").date(x.now)
  return 200, list_view(l)
end

local function delete_list(x, id)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  local _, code = u.v2(x, "m_lists", "deleteList", { listid = l.listnum })
  if code == "IN_USE" then
    return problem(409, "The list cannot be deleted",
      { has_campaigns_last_thirty_days = "The list has sent campaigns in the last thirty days" })
  elseif code then return problem(400, code) end
  return 204
end

-- fields --------------------------------------------------------------------

-- base fields of every list (egoi-v3-api.md §8 #10); v2 record key and format
local BASE = {
  { id = "first_name", key = "FIRST_NAME", format = "text", name = "First name" },
  { id = "last_name", key = "LAST_NAME", format = "text", name = "Last name" },
  { id = "birth_date", key = "BIRTH_DATE", format = "date", name = "Birth date" },
  { id = "language", key = "LANGUAGE", format = "text", name = "Language" },
  { id = "email", key = "EMAIL", format = "email", name = "Email" },
  { id = "cellphone", key = "CELLPHONE", format = "cellphone", name = "Mobile" },
  { id = "phone", key = "TELEPHONE", format = "phone", name = "Telephone", v2 = "telephone" },
}
local BASE_BY_ID = {}
for _, f in ipairs(BASE) do BASE_BY_ID[f.id] = f end

local function is_unique(l, f)
  if f.id == "email" then return true end
  for _, n in ipairs(l.unique or {}) do if n == (f.v2 or f.id) then return true end end
  return false
end

local function extra_view(f, complex)
  local v = { field_id = f.id, name = f.name, format = u.FORMAT_V3[f.type] or "text", unique = f.unique == true }
  if complex then
    v.type = "extra"
    if v.format == "options" then
      local opts = json.array()
      for i, o in ipairs(f.options or {}) do opts[i] = { option_id = i, en = tostring(o), pt = tostring(o) } end
      v.options = opts
    end
  end
  return v
end

local function all_fields(x, id)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  local out = json.array()
  for _, f in ipairs(BASE) do
    out[#out + 1] = { field_id = f.id, name = f.name, format = f.format, unique = is_unique(l, f), type = "base" }
  end
  for _, fid in ipairs(l.field_order) do out[#out + 1] = extra_view(l.fields[fid], true) end
  local page, ps, pb = u.page(x, out, 1000)
  if not page then return ps, pb end
  return 200, page.items -- a bare array (spec since 2023-04)
end

local function create_field(x, id)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  local body = x.body
  if not u.object(body) then return problem(400, "The body must be a JSON object") end
  local st, e = name_check(body, "name", true)
  if st then return st, e end
  if body.format == nil then return invalid("format", "isEmpty", "Value is required and can't be empty") end
  local v2type = u.FORMAT_V2[body.format]
  if not v2type then return invalid("format", "notInArray", "unknown format") end
  if body.unique ~= nil and type(body.unique) ~= "boolean" then return invalid("unique", "notBool",
    "must be a boolean") end
  local v, code = u.v2(x, "m_lists", "addExtraField", { listid = l.listnum, name = body.name, type = v2type })
  if code == "EXTRA_FIELD_XX_ALREADY_EXISTS" then return invalid("name", "exists", "a field with this name exists")
  elseif code then return problem(400, code) end
  local f = l.fields[v.NEW_ID]
  f.unique = body.unique == true
  return 201, extra_view(f)
end

local function patch_field(x, id, fid)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  local f = l.fields[fid]
  if not f then return errors.not_found("Field") end
  local body = x.body
  if not u.object(body) then return problem(400, "The body must be a JSON object") end
  local st, e = name_check(body, "name")
  if st then return st, e end
  if body.unique ~= nil and type(body.unique) ~= "boolean" then return invalid("unique", "notBool",
    "must be a boolean") end
  if body.name then
    local _, code = u.v2(x, "m_lists", "editExtraField", { listid = l.listnum, field = fid, name = body.name })
    if code then return invalid("name", "exists", "a field with this name exists") end
  end
  if body.unique ~= nil then f.unique = body.unique end
  return 200, extra_view(f)
end

local function delete_field(x, id, fid)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  if not l.fields[fid] then return errors.not_found("Field") end
  for _, seg in pairs(l.segments) do
    if (seg.fields or {})["extra_" .. fid] then
      return problem(409, "Field in use",
        { field_in_use = "The provided extra field is being used in segments or forms" })
    end
  end
  u.v2(x, "m_lists", "deleteExtraField", { listid = l.listnum, field = fid })
  return 204
end

local function patch_base(x, id, fid)
  local l, s, b = u.list(x, id)
  if not l then return s, b end
  local f = BASE_BY_ID[fid]
  if not f then return errors.not_found("Field") end
  local body = x.body
  if not u.object(body) then return problem(400, "The body must be a JSON object") end
  if type(body.unique) ~= "boolean" then return invalid("unique", "notBool", "must be a boolean") end
  if f.id ~= "email" and f.id ~= "language" then
    local name, set = f.v2 or f.id, {}
    for _, n in ipairs(l.unique or {}) do if n ~= name then set[#set + 1] = n end end
    if body.unique then set[#set + 1] = name end
    l.unique = set
  end
  return 200, { field_id = f.id, name = f.name, format = f.format, unique = is_unique(l, f) }
end

return {
  { "POST", "^/ping$", function() return 200, { result = "pong" } end, noauth = true },
  { "GET", "^/my%-account$", account },
  { "GET", "^/lists$", all_lists },
  { "POST", "^/lists$", create_list },
  { "GET", "^/lists/(%d+)$", get_list },
  { "PATCH", "^/lists/(%d+)$", patch_list },
  { "DELETE", "^/lists/(%d+)$", delete_list },
  { "GET", "^/lists/(%d+)/fields$", all_fields },
  { "POST", "^/lists/(%d+)/fields/extra$", create_field },
  { "PATCH", "^/lists/(%d+)/fields/extra/(%d+)$", patch_field },
  { "DELETE", "^/lists/(%d+)/fields/extra/(%d+)$", delete_field },
  { "PATCH", "^/lists/(%d+)/fields/base/([%w_]+)$", patch_base },
  list_view = list_view,
}
