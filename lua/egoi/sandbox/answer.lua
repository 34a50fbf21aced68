-- egoi.sandbox.answer - build an HTTP answer table for egoi.sandbox.http.
return function(status, ctype, body, headers)
  local h = { { "Content-Type", ctype } }
  for _, x in ipairs(headers or {}) do h[#h + 1] = x end
  return { status = status, headers = h, body = body }
end
