-- egoi.bulk.validate - what a row of an import may hold: the subscriber field names (and
-- their accepted spellings), and the local checks a row passes before it is sent (e-mail
-- syntax, phones with a country code, status, dates). See doc/CLI.md ("import").
local validate = {}

local pairs, ipairs, tonumber = pairs, ipairs, tonumber
local find, match, lower, sub, gsub = string.find, string.match, string.lower, string.sub, string.gsub

---------------------------------------------------------------------------
-- field names

-- canonical subscriber fields (addSubscriber option names) and accepted spellings
local FIELDS = {}
for _, f in ipairs{ "email", "cellphone", "telephone", "fax", "first_name", "last_name",
  "birth_date", "lang", "status", "tax_id", "address", "zip_code", "city", "district", "state",
  "country", "age", "gender", "id_card", "company", "tags" } do
  FIELDS[f] = f
end
local ALIASES = {
  language = "lang", e_mail = "email", mobile = "cellphone", phone = "telephone",
  firstname = "first_name", lastname = "last_name", birthdate = "birth_date",
  zip = "zip_code", zipcode = "zip_code",
}
for k, v in pairs(ALIASES) do FIELDS[k] = v end
validate.FIELDS = FIELDS

-- columns of an export that a subscriber cannot be imported with: skipped without a fuss
local READ_ONLY = {}
for _, f in ipairs{ "uid", "list", "add_date", "subscription_method", "bounces", "email_sent",
  "email_views", "referrals", "referrals_converted", "clicks", "sms_sent", "sms_delivered",
  "remove_method", "remove_date", "remove_reason", "remove_obs", "modification_date",
  "update_date", "activity", "form_id" } do
  READ_ONLY[f] = true
end
validate.READ_ONLY = READ_ONLY

local function trim(s)
  return (gsub(s, "^%s+", ""):gsub("%s+$", ""))
end

local function norm_name(name)
  return (gsub(lower(trim(name)), "[%s%-]+", "_"))
end

-- field for a name without consulting the list: field | false (skip) | nil (unknown)
local function static_target(name)
  local key = norm_name(name)
  local f = FIELDS[key]
  if f then return f end
  local id = match(key, "^extra_(%d+)$") or match(key, "^extra_field_(%d+)$")
  if id then return "extra_" .. id end
  if READ_ONLY[key] then return false end
  return nil
end

---------------------------------------------------------------------------
-- validation

local function email_problem(e)
  if #e > 254 then return "e-mail address longer than 254 characters" end
  local lp, dom = match(e, "^(.+)@([^@]+)$")
  if not lp then return "not an e-mail address" end
  if #lp > 64 then return "e-mail local part longer than 64 characters" end
  if find(lp, '[%s@"(),:;<>%[%]\\]') or find(lp, "^%.") or find(lp, "%.$") or find(lp, "%.%.") then
    return "invalid e-mail local part"
  end
  if find(dom, "[^%w%.%-\128-\255]") or not find(dom, "%.") or find(dom, "%.%.")
    or find(dom, "^[%.%-]") or find(dom, "[%.%-]$") or find(dom, "%-%.") or find(dom, "%.%-") then
    return "invalid e-mail domain"
  end
  local tld = match(dom, "%.([^%.]+)$")
  if #tld < 2 or find(tld, "^%d+$") then return "invalid e-mail domain" end
  return nil
end
validate.email_problem = email_problem

-- E.164 country calling codes are prefix-free. Codes of one and two digits are listed; the
-- listed two-digit prefixes start three-digit codes; any other prefix (28x, 83x, 89x, 0…)
-- is spare, so a +number starting with it is refused as ambiguous.
local CC1 = { ["1"] = true, ["7"] = true }
local CC2 = {}
for c in ("20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
  .. "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98"):gmatch("%d+") do
  CC2[c] = true
end
local CC3 = {}
for c in ("21 22 23 24 25 26 29 35 37 38 42 50 59 67 68 69 80 85 87 88 96 97 99"):gmatch("%d+") do
  CC3[c] = true
end

--- "<cc>-<number>" for a phone given as "351-912345678", "+351 912 345 678" or
-- "00351912345678"; nil, reason otherwise. A number without a country code is refused
-- (which country would it be?).
local function normalize_phone(p)
  local s = gsub(p, "[%s%.%(%)]", "")
  local cc, num = match(s, "^%+?(%d%d?%d?)%-(%d+)$")
  if cc then
    if #num < 4 or #num > 14 then return nil, "phone number has a wrong length" end
    return cc .. "-" .. num
  end
  local digits = match(s, "^%+([%d%-]+)$") or match(s, "^00([%d%-]+)$")
  if not digits then
    return nil, "phone must be <country code>-<number> (e.g. 351-912345678) or +<country code><number>"
  end
  digits = gsub(digits, "%-", "")
  local n
  if CC1[sub(digits, 1, 1)] then n = 1
  elseif CC2[sub(digits, 1, 2)] then n = 2
  elseif CC3[sub(digits, 1, 2)] then n = 3
  else return nil, "unknown country calling code in " .. p end
  num = sub(digits, n + 1)
  if #num < 4 or #digits > 15 then return nil, "phone number has a wrong length" end
  return sub(digits, 1, n) .. "-" .. num
end
validate.normalize_phone = normalize_phone

local DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
local function date_ok(s)
  local y, m, d = match(s, "^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
  if not y then return false end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m < 1 or m > 12 or d < 1 then return false end
  local max = DAYS[m]
  if m == 2 and (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then max = 29 end
  return d <= max
end

local PHONES = { cellphone = true, telephone = true, fax = true }

-- Validate (and normalise in place) one mapped row. Returns nil | reason.
local function check_row(row)
  for field, v in pairs(row) do
    if field == "email" then
      local p = email_problem(v)
      if p then return p .. ": " .. v end
    elseif PHONES[field] then
      local n, why = normalize_phone(v)
      if not n then return field .. ": " .. why end
      row[field] = n
    elseif field == "status" then
      if not match(v, "^[0-4]$") then return "status must be 0, 1, 2, 3 or 4: " .. v end
    elseif field == "birth_date" then
      if not date_ok(v) then return "birth_date must be a date YYYY-MM-DD: " .. v end
    elseif field == "lang" then
      row[field] = lower(v)
    end
  end
  return nil
end

validate.trim = trim
validate.static_target = static_target
validate.check_row = check_row

return validate
