-- egoi.sandbox.soap_ops - the SOAP face of the sandbox's method catalogue:
-- per endpoint, the WSDL names, the operation order and the part types
-- (egoi-v2-soap.md §2.1). Operations are the sandbox's own methods
-- (egoi.sandbox.api); the order lists only place them as the vendor's
-- ZF1-generated WSDLs do, names the sandbox lacks are skipped, methods the
-- lists do not name are appended in alphabetical order.
local M = {}

M.XSD, M.ENC = "xsd", "soap-enc"

-- 2012 order (WSDL-witnessed), then the later operations (same on both)
local ORDER_STD = {
  "check_status", "checklogin", "testEmailAddress", "afiliado", "getCampaigns", "updateList", "getSenders",
  "getUserData", "getReport", "checkUser", "createAccount", "getClientData", "addSubscriberBulk", "getCredits",
  "sendSMS", "sendEmail", "sendFAX", "sendCall", "getLists", "addExtraField", "deleteExtraField",
  "editExtraField", "createList", "createCampaignVoice", "editCampaignSMS", "createCampaignSMS",
  "createCampaignFAX", "createCampaignEmail", "deleteCampaign", "editCampaignEmail", "addSubscriber",
  "removeSubscriber", "editSubscriber", "subscriberData", "createSegment", "deleteSegment", "getSegments",
  "getHeaderFooterTemplates", "getAllErrors", "getError",
}
local ORDER_ANY = {
  "checklogin", "getCampaigns", "getUserData", "updateList", "getSenders", "getReport", "getClientData",
  "getCredits", "sendSMS", "sendEmail", "sendFAX", "sendCall", "editCampaignSMS", "createCampaignSMS",
  "createCampaignVoice", "createCampaignFAX", "createCampaignEmail", "deleteCampaign", "editCampaignEmail",
  "addSubscriberBulk", "addSubscriber", "removeSubscriber", "editSubscriber", "subscriberData", "createSegment",
  "deleteSegment", "getSegments", "getHeaderFooterTemplates", "createList", "getLists", "addExtraField",
  "deleteExtraField", "editExtraField", "createAccount", "afiliado", "getAllErrors", "getError", "check_status",
  "testEmailAddress", "checkUser",
}
local LATER = {
  "deleteList", "getAutobots", "startAutobot", "createCampaignGroup", "editCampaignGroup", "getTemplates",
  "editApiCallback", "getOperationsQueue", "getForms", "getFormsSubmissions", "getExtraFields",
  "generateAdvancedReport", "getAdvancedReport", "createSegmentAdvanced", "addCname", "addSender",
  "deleteSender", "editSender", "getSubscriberActivity", "addTag", "attachTag", "deleteTag", "detachTag",
  "getTags",
}

-- input parts other than the endpoint's functionOptions; return types other than anyType
local NO_INPUT = { check_status = {}, getAllErrors = {}, getError = {} }
local EMAIL_INPUT = { { name = "email", type = "xsd:string" } }

M.ENDPOINTS = {
  soap = {
    path = "/v2/soap.php", uri = "http://api.e-goi.com/v2/soap.php", class = "Egoi_Api",
    arg = "soap-enc:Array", order = ORDER_STD,
    returns = { check_status = "xsd:boolean", testEmailAddress = "xsd:boolean", getReport = "soap-enc:Array",
                deleteCampaign = "xsd:boolean", getAllErrors = "soap-enc:Array", getError = "soap-enc:Array" },
  },
  soap_any = {
    path = "/v2/soap_any.php", uri = "http://api.e-goi.com/v2/soap_any.php", class = "Egoi_Api_Soap",
    arg = "xsd:anyType", order = ORDER_ANY,
    returns = { check_status = "xsd:boolean", testEmailAddress = "xsd:boolean" },
  },
}

-- operations(endpoint, names) -> list of { name, inputs = { {name, type} }, output = type }
-- and an index by lower-case name. `names`: the sandbox's method names.
function M.operations(endpoint, names)
  local ep = assert(M.ENDPOINTS[endpoint], "unknown SOAP endpoint")
  local have, placed, ops, index = {}, {}, {}, {}
  for _, n in ipairs(names) do have[n] = true end
  local function add(n)
    if not have[n] or placed[n] then return end
    placed[n] = true
    local inputs = NO_INPUT[n] or (n == "testEmailAddress" and EMAIL_INPUT)
      or { { name = "functionOptions", type = ep.arg } }
    local op = { name = n, inputs = inputs, output = ep.returns[n] or "xsd:anyType" }
    ops[#ops + 1] = op
    index[n:lower()] = op
  end
  for _, n in ipairs(ep.order) do add(n) end
  for _, n in ipairs(LATER) do add(n) end
  local rest = {}
  for _, n in ipairs(names) do if not placed[n] then rest[#rest + 1] = n end end
  table.sort(rest)
  for _, n in ipairs(rest) do add(n) end
  return ops, index
end

return M
