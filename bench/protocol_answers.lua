-- bench/protocol_answers.lua DIR - nginx locations (DIR/protocols.conf) answering
-- getLists over XML-RPC, SOAP and universal SOAP with the same three lists as the
-- canned REST answer of bench/nginx.conf, each document written by the sandbox's
-- own encoders (as the service writes them) into DIR/static/v2/<endpoint>. They
-- are longer than one nginx `return` string may be, so they are static files; a
-- POST to a static file is nginx's 405, turned into the file by error_page.
local xmlrpc = require "egoi.sandbox.xmlrpc"
local soap_write = require "egoi.sandbox.soap_write"

local lists = {}
for i = 1, 3 do
  lists[i] = { listnum = tostring(i), title = "Lista " .. i, title_ref = "lista" .. i, grupo = "0",
    subs_activos = tostring(1000 * i), subs_total = tostring(1100 * i), idioma = "pt", canal_email = "1",
    canal_sms = "0", user_id = "1",
    extra_fields = { { id = "1", ref = "Cidade", listnum = tostring(i), opcoes = "" } } }
end

local dir = assert(arg[1], "usage: protocol_answers.lua DIR")
assert(os.execute("mkdir -p '" .. dir .. "/static/v2'"))
local function location(path, ctype, body)
  local f = assert(io.open(dir .. "/static" .. path, "wb"))
  f:write(body)
  f:close()
  return ("location = %s { root %s/static; default_type %s; error_page 405 =200 $uri; }\n"):format(path, dir, ctype)
end

local out = assert(io.open(dir .. "/protocols.conf", "wb"))
out:write(location("/v2/xmlrpc.php", "text/xml", xmlrpc.response(lists)))
for _, ep in ipairs{ "soap", "soap_any" } do
  local body = assert(soap_write.response("1.1", "http://api.e-goi.com/v2/" .. ep .. ".php", "getLists", lists,
    "xsd:anyType"))
  out:write(location("/v2/" .. ep .. ".php", '"text/xml; charset=utf-8"', body))
end
out:close()
