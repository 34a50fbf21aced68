-- egoi.paging - the one check every paging loop makes (v3 `each`, export, sync, on v2 and v3):
-- a page that repeats the one before it (same count, same first and last item) means the
-- server ignored the offset/start it was sent. Without a stop such a loop would ask again and
-- again, each call spending one of the account's 150 an hour, until the limiter ended it.
local errors = require "egoi.errors"

local type, pairs = type, pairs

local M = {}

local function same_value(a, b, depth)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  if depth > 16 then return false end
  for k, v in pairs(a) do
    if not same_value(v, b[k], depth + 1) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

--- repeats(page, prev) -> true when page (a non-empty sequence) has prev's count and the same
-- first and last item
function M.repeats(page, prev)
  local n = #page
  return prev ~= nil and n > 0 and n == #prev and same_value(page[1], prev[1], 0)
    and same_value(page[n], prev[n], 0)
end

--- stalled(method, page, offset, items) -> the PAGING_STALLED error for page number `page`
-- (1-based), asked at `offset`, that repeated the `items` items of the page before
function M.stalled(method, page, offset, items)
  return errors.new{ kind = "protocol", code = "PAGING_STALLED", method = method,
    message = ("page %d (offset %d) returned the same %d items as page %d: the server ignores"
      .. " offset; stopped paging"):format(page, offset, items, page - 1),
    reason = "asking again would return the same page until the hourly call limit is spent",
    detail = { page = page, offset = offset, items = items } }
end

--- guard(method) -> check(page, offset): raises PAGING_STALLED when page repeats the page the
-- previous check saw (for loops that page by hand)
function M.guard(method)
  local prev, pages = nil, 0
  return function(page, offset)
    pages = pages + 1
    if M.repeats(page, prev) then error(M.stalled(method, pages, offset, #page), 0) end
    prev = page
  end
end

return M
