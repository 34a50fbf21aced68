-- egoi.endpoint - the API endpoint from what a user types: a bare base URL
-- (http://host:port or https://host/) means that server's endpoint of the
-- protocol in use (the path of the protocol's default URL: /v2/rest.php for
-- REST, /v2/xmlrpc.php for XML-RPC, the root for v3); anything with a path is
-- used as given. Pure; no I/O.
--
--   endpoint.resolve("http://127.0.0.1:8080")          --> "http://127.0.0.1:8080/v2/rest.php"
--   endpoint.resolve("https://h/v2/rest.php")          --> unchanged
--   endpoint.resolve("http://h:1/", "https://api.e-goi.com/v2/xmlrpc.php") --> "http://h:1/v2/xmlrpc.php"
local endpoint = {}

local REST = "https://api.e-goi.com/v2/rest.php"

--- url: string; default_url: the protocol's default URL (default REST's). Returns the URL
-- to call, or nil and a sentence when url is not an http(s) URL.
function endpoint.resolve(url, default_url)
  if type(url) ~= "string" then return nil, "the URL must be a string" end
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme or (scheme:lower() ~= "http" and scheme:lower() ~= "https") then
    return nil, "the URL must start with http:// or https://: " .. url
  end
  local host = rest:match("^([^/?#]*)")
  if host == "" or host:find("%s") then return nil, "the URL has no host: " .. url end
  local tail = rest:sub(#host + 1)
  if tail == "" or tail == "/" then
    local path = (default_url or REST):match("^%a[%w+.-]*://[^/?#]*(/[^?#]*)") or ""
    return scheme .. "://" .. host .. path
  end
  return url
end

return endpoint
