-- egoi.sandbox.m_lists - lists and extra fields.
local shape = require "egoi.sandbox.shape"
local util = require "egoi.sandbox.util"
local access = require "egoi.sandbox.access"
local store = require "egoi.sandbox.store"

local err, str = util.err, util.str
local M = {}

local FIELD_TYPES = { texto = true, numero = true, data = true, email = true, telefone = true,
  telemovel = true, lista = true, opcoes = true, checkbox = true, url = true }
local CONSTRAINT_FIELDS = { email = true, first_name = true, last_name = true, telephone = true,
  fax = true, birth_date = true, cellphone = true }

-- sandbox extension: required_fields / unique_fields as array or comma list
local function field_set(v)
  local set = {}
  local items = type(v) == "table" and util.seq(v) or {}
  if type(v) == "string" then for w in v:gmatch("[^,%s]+") do items[#items + 1] = w end end
  for _, w in ipairs(items) do
    w = tostring(w):lower()
    if not CONSTRAINT_FIELDS[w] then return nil end
    set[#set + 1] = w
  end
  return set
end

local function list_record(l)
  local active, total = 0, 0
  for _, r in pairs(l.subs) do
    total = total + 1
    if r.STATUS == "1" then active = active + 1 end
  end
  local extra = shape.list()
  for _, fid in ipairs(l.field_order) do
    local f = l.fields[fid]
    extra[#extra + 1] = { id = f.id, ref = f.name, listnum = l.listnum, tipo = f.type,
                          opcoes = shape.list(util.copy(f.options or {})) }
  end
  return {
    listnum = l.listnum, title = l.title, title_ref = l.title_ref, grupo = l.grupo, user_id = l.user_id,
    subs_activos = active, subs_total = total, idioma = l.idioma, canal_email = l.canal_email,
    canal_sms = l.canal_sms, canal_fax = l.canal_fax, canal_voz = l.canal_voz, canal_mms = l.canal_mms,
    extra_fields = extra, data_criacao = l.created,
  }
end

M.getLists = { fn = function(ctx)
  local out = shape.list()
  local only = str(ctx.o.listid)
  for _, id in ipairs(ctx.acc.list_order) do
    if not only or only == id then out[#out + 1] = list_record(ctx.acc.lists[id]) end
  end
  return shape.list(util.page(out, ctx.o))
end }

M.createList = { mutating = true, fn = function(ctx)
  local o, acc = ctx.o, ctx.acc
  local name = str(o.nome) or str(o.name)
  if not name then return err("NAME_MISSING") end
  if #acc.list_order >= acc.max_lists then return err("NO_MORE_LISTS_ALLOWED") end
  local req = field_set(o.required_fields or "")
  local uniq = field_set(o.unique_fields or "")
  if not req or not uniq then return err("INVALID_EXTRA_FIELD") end
  local id = ctx.st:next_id("list")
  local chan = function(k, d) local v = str(o[k]); return v and (util.on(v) and "1" or "0") or d end
  local l = {
    listnum = id, title = name, title_ref = str(o.title_ref) or name, grupo = "0", user_id = acc.user.USER_ID,
    idioma = str(o.idioma_lista) or str(o.language) or "pt",
    canal_email = chan("canal_email", "1"), canal_sms = chan("canal_sms", "0"), canal_fax = chan("canal_fax", "0"),
    canal_voz = chan("canal_voz", "0"), canal_mms = chan("canal_mms", "0"),
    created = store.date(ctx.now), fields = {}, field_order = {}, subs = {}, order = {},
    segments = {}, segment_order = {}, forms = {}, form_order = {}, required = req, unique = uniq,
  }
  if not util.on(o.no_forms or "0") then
    local fid = ctx.st:next_id("form")
    l.forms[fid] = { id = fid, name = "Subscription form", title = "Subscribe to " .. name, default = "1",
                     hash = ctx.st:hex(16), url = "http://sandbox.invalid/form/" .. fid }
    l.form_order[1] = fid
  end
  acc.lists[id] = l
  acc.list_order[#acc.list_order + 1] = id
  return { LIST_ID = id }
end }

M.updateList = { mutating = true, fn = function(ctx)
  local l, e = access.list(ctx, "LISTID_MISSING", "LIST_NOT_EXISTS")
  if not l then return e end
  local o = ctx.o
  local name = str(o.name) or str(o.title) or str(o.nome)
  if name then l.title = name end
  local lang = str(o.language) or str(o.idioma_lista)
  if lang then l.idioma = lang end
  if o.required_fields then
    local s = field_set(o.required_fields)
    if not s then return err("INVALID_EXTRA_FIELD") end
    l.required = s
  end
  if o.unique_fields then
    local s = field_set(o.unique_fields)
    if not s then return err("INVALID_EXTRA_FIELD") end
    l.unique = s
  end
  return { LIST_ID = l.listnum, RESULT = "OK" }
end }

M.deleteList = { mutating = true, fn = function(ctx)
  local l, e = access.list(ctx, "LISTID_MISSING", "LIST_NOT_EXISTS")
  if not l then return e end
  for _, c in pairs(ctx.acc.campaigns) do
    if c.LISTNUM == l.listnum and c.STATUS == "sending" then return err("IN_USE") end
  end
  ctx.acc.lists[l.listnum] = nil
  access.invalidate(l)
  for i, id in ipairs(ctx.acc.list_order) do
    if id == l.listnum then table.remove(ctx.acc.list_order, i) break end
  end
  return { RESULT = "OK" }
end }

M.getExtraFields = { fn = function(ctx)
  local l, e = access.list(ctx)
  if not l then return e end
  if #l.field_order == 0 then return { extra_fields = "0" } end
  local m = shape.idmap()
  for _, fid in ipairs(l.field_order) do
    local f = l.fields[fid]
    m[fid] = { ID = f.id, NAME = f.name, TYPE = f.type, OPTIONS = shape.list(util.copy(f.options or {})) }
  end
  return { extra_fields = m }
end }

local function field_arg(o) return util.pick(o, "field", "id", "field_id", "extra_field", "extra_id", "fieldid") end

M.addExtraField = { mutating = true, fn = function(ctx)
  local l, e = access.list(ctx)
  if not l then return e end
  local name = str(ctx.o.name)
  if not name then return err("FIELD_NAME_MISSING") end
  local ftype = (str(ctx.o.type) or "texto"):lower()
  if not FIELD_TYPES[ftype] then return err("INVALID_TYPE") end
  for _, f in pairs(l.fields) do
    if f.name:lower() == name:lower() then return err("EXTRA_FIELD_XX_ALREADY_EXISTS") end
  end
  local id = ctx.st:next_id("field")
  l.fields[id] = { id = id, name = name, type = ftype, options = util.seq(ctx.o.options) }
  l.field_order[#l.field_order + 1] = id
  return { NEW_ID = id }
end }

local function find_field(ctx)
  local l, e = access.list(ctx)
  if not l then return nil, e end
  local id = field_arg(ctx.o)
  local f = id and (l.fields[id:gsub("^extra_", "")])
  if not f then return nil, err("FIELD_NOT_FOUND") end
  return f, l
end

M.editExtraField = { mutating = true, fn = function(ctx)
  local f, l = find_field(ctx)
  if not f then return l end
  local name = str(ctx.o.name)
  if name then
    for _, g in pairs(l.fields) do
      if g ~= f and g.name:lower() == name:lower() then return err("EXTRA_FIELD_XX_ALREADY_EXISTS") end
    end
    f.name = name
  end
  local t = str(ctx.o.type)
  if t then
    if not FIELD_TYPES[t:lower()] then return err("INVALID_TYPE") end
    f.type = t:lower()
  end
  return { ID = f.id, NAME = f.name, TYPE = f.type }
end }

M.deleteExtraField = { mutating = true, fn = function(ctx)
  local f, l = find_field(ctx)
  if not f then return l end
  l.fields[f.id] = nil
  for i, id in ipairs(l.field_order) do if id == f.id then table.remove(l.field_order, i) break end end
  for _, r in pairs(l.subs) do if r.extra then r.extra[f.id] = nil end end
  return { RESULT = "OK" }
end }

return M
