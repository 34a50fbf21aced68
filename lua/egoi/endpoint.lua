-- egoi.endpoint - the API endpoint from what a user types: a bare base URL
-- (http://host:port or https://host/) means that server's /v2/rest.php (or
-- /v2/xmlrpc.php); anything with a path is used as given. Pure; no I/O.
--
--   endpoint.resolve("http://127.0.0.1:8080")          --> "http://127.0.0.1:8080/v2/rest.php"
--   endpoint.resolve("https://h/v2/rest.php")          --> unchanged
--   endpoint.resolve("http://h:1/", "xmlrpc")          --> "http://h:1/v2/xmlrpc.php"
local endpoint = {}

local PATH = { rest = "/v2/rest.php", xmlrpc = "/v2/xmlrpc.php" }

--- url: string; protocol: "rest" (default) or "xmlrpc". Returns the URL to call, or
-- nil and a sentence when url is not an http(s) URL.
function endpoint.resolve(url, protocol)
  if type(url) ~= "string" then return nil, "the URL must be a string" end
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme or (scheme:lower() ~= "http" and scheme:lower() ~= "https") then
    return nil, "the URL must start with http:// or https://: " .. url
  end
  local host = rest:match("^([^/?#]*)")
  if host == "" or host:find("%s") then return nil, "the URL has no host: " .. url end
  local tail = rest:sub(#host + 1)
  if tail == "" or tail == "/" then
    return scheme .. "://" .. host .. (PATH[protocol or "rest"] or PATH.rest)
  end
  return url
end

return endpoint
