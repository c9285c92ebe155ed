-- A Stripe-style webhook signature (doc/lua.md): the field
-- Stripe-Signature is t=TIMESTAMP,v1=HEX[,v1=HEX...], each v1 the
-- HMAC-SHA-256 of "TIMESTAMP.BODY" under the route's secret, in hex. A
-- request is let through when one v1 matches and TIMESTAMP is within
-- the route's tolerance (seconds) of now; else it is answered 401 and
-- never reaches the upstream. The route's lua.body bounds the body read.
function on_request(r, c)
  local sig = r:get("Stripe-Signature") or ""
  local t = sig:match("t=(%d+)")
  if t and math.abs(sluice.now() - tonumber(t)) <= tonumber(c.tolerance) then
    local want = sluice.hex(sluice.hmac_sha256(c.secret, t .. "." .. r:body()))
    for v1 in sig:gmatch("v1=(%x+)") do
      if sluice.equal(v1, want) then
        return
      end
    end
  end
  return r:answer(401, '{"error":"bad_signature"}\n',
                  {["Content-Type"] = "application/json"})
end
