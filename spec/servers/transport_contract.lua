-- transport_contract - one scenario of the transport contract, run by
-- spec/transport_contract_spec.lua on the libcurl transport and inside nginx
-- on the cosocket transport (same steps, same expectations), against
-- spec/servers/faults.py. Returns plain values only (JSON-encodable).
local core = require "egoi.core"

local M = {}

local function summary(st, headers, body, info)
  if st == nil then return { code = headers, message = body, sent = info } end
  local upper = false
  for k in pairs(headers) do
    if type(k) ~= "string" or k:find("%u") then upper = true end
  end
  return { status = st, verb = headers["x-verb"], connection = tonumber(headers["x-connection"]),
    body_length = tonumber(headers["x-body-length"]), cookies = headers["set-cookie"],
    folded = headers["x-folded"], seen_test = headers["x-seen-test"],
    content_type = headers["content-type"], upper_names = upper, body = body,
    num_connects = info.num_connects }
end

-- base: the server's URL root; refused: a URL nobody listens on
function M.run(t, base, refused)
  local out = {}
  local function req(name, r)
    r.url = r.url or base .. "/v2/rest.php"
    out[name] = summary(t:request(r))
  end
  req("get", { verb = "GET", idempotent = true, headers = { ["X-Test"] = "v" } })
  req("get_again", { idempotent = true })
  req("post_once", { verb = "POST", body = "method=sendEmail&a=1" })
  req("get_after", { idempotent = true })
  for _, verb in ipairs{ "PUT", "PATCH", "DELETE" } do
    req(verb:lower(), { verb = verb, body = "a=1", idempotent = true })
    req(verb:lower() .. "_empty", { verb = verb, idempotent = true })
  end
  req("post_empty", { verb = "POST", idempotent = true })
  local fb = core.form_buffer()
  fb:add_raw("method=getLists&type=json")
  req("buffer", { body = fb, headers = { ["Content-Type"] = "application/x-www-form-urlencoded" } })
  req("typed", { body = "<x/>", headers = { ["Content-Type"] = "text/xml" }, idempotent = true })
  req("refused", { url = refused, body = "a=1" })
  return out
end

return M
