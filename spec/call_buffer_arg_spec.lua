-- call_buffer takes only a core.form_buffer: any other userdata is a usage error before the
-- limiter is asked (it used to reach the transport, which raised a raw error, raise = false
-- ignored, with a slot spent).
local egoi = require "egoi"

describe("client:call_buffer", function()
  it("refuses a userdata that is not a form_buffer", function()
    local t = { sent = 0 }
    function t.request() t.sent = t.sent + 1 return 200, {}, "{}" end
    function t.close() end
    local c = egoi.new{ apikey = "0123456789abcdef0123", transport = t, raise = false,
      rate_limit = { state_file = false } }
    local ok, r, err = pcall(c.call_buffer, c, "addSubscriberBulk", io.stdout)
    assert.is_true(ok, tostring(r))
    assert.is_nil(r)
    assert.equal("INVALID_ARGUMENT", err.code)
    assert.equal(0, t.sent)
    assert.equal(0, c:rate_limit_status().used)
    local fb = c:body_buffer("addSubscriberBulk", { listID = 3 })
    c:call_buffer("addSubscriberBulk", fb)
    assert.equal(1, t.sent)
  end)
end)
