-- conformance_scenario - the scenario spec/conformance_spec.lua runs over every
-- protocol (create list, fields, subscribers, bulk, campaign, send, report,
-- errors), on libcurl and inside nginx on cosockets. Returns plain values only
-- (JSON-encodable): each step's result, or { error = kind, code = code }.
local M = {}

function M.run(c)
  local out = {}
  local function try(name, f, ...)
    local ok, res = pcall(f, ...)
    if ok then out[name] = res else out[name] = { error = res.kind, code = res.code } end
    return ok and res or nil
  end
  local list = try("list", function()
    return c.lists:create{ name = "Conformance", language = "en", email_channel = 1 }
  end).LIST_ID
  local field = try("field", function() return c.fields:add{ listID = list, name = "city", type = "texto" } end)
  field = field.NEW_ID
  try("sub", function()
    return c.subscribers:add{ listID = list, email = "ana+1@example.org", first_name = "Ána & <Co>",
      ["extra_" .. field] = "Porto", status = 1, tags = { "1" } }
  end)
  try("bulk", function()
    return c.subscribers:add_bulk{ listID = list, compareField = "email", operation = 2, subscribers = {
      { email = "a@example.org", first_name = "A", status = 1 },
      { email = "b@example.org", first_name = "B", status = 1 },
    } }
  end)
  try("data", function() return c.subscribers:get{ listID = list, subscriber = "a@example.org" } end)
  try("fields", function() return c.fields:all{ listID = list } end)
  try("lists", function() return c.lists:all() end)
  try("tag", function() return c.tags:add{ name = "vip" } end)
  local senders = try("senders", function() return c.senders:all() end)
  local from
  for _, s in ipairs(senders) do if s.CHANNEL == "email" then from = s.FROMID end end
  local camp = try("campaign", function()
    return c.campaigns:create_email{ listID = list, subject = "Hello", from_id = from,
      url = "http://example.org/newsletter.html" }
  end)
  try("send", function() return c.send:email{ listID = list, campaign = camp.ID, segment = "ALL" } end)
  try("report", function() return c.reports:get{ campaign = camp.ID } end)
  try("campaigns", function() return c.campaigns:all{ listID = list } end)
  try("removed", function() return c.subscribers:remove{ listID = list, subscriber = "b@example.org" } end)
  -- business errors
  try("removed_again", function() return c.subscribers:remove{ listID = list, subscriber = "b@example.org" } end)
  try("duplicate", function() return c.subscribers:add{ listID = list, email = "a@example.org" } end)
  try("no_list", function() return c.fields:all{ listID = 987654 } end)
  try("no_campaign", function() return c.reports:get{ campaign = "nope" } end)
  try("bad_email", function() return c.subscribers:add{ listID = list, email = "not-an-address" } end)
  return out
end

-- fields that carry the wall clock are not deterministic under --seed
function M.strip_dates(v)
  if type(v) ~= "table" then return v end
  local o = {}
  for k, x in pairs(v) do
    local clock = type(k) == "string" and (k:upper():match("DATE") or k:match("^data_") or k == "START" or k == "END")
    if not clock then o[k] = M.strip_dates(x) end
  end
  return o
end

return M
