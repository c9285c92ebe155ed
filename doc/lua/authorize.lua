-- A call to an authorization cluster (doc/lua.md): the "authz" cluster
-- checks the caller's key; its answer's X-Partner goes upstream, never
-- the key. No answer within 200 ms is a 503, a refusal a 403.
function on_request(r)
  local res = r:http{cluster = "authz", method = "GET", path = "/check",
                     headers = {["X-Api-Key"] = r:get("X-Api-Key") or ""},
                     timeout = 0.2}
  if not res then
    return r:answer(503, '{"error":"authz_unavailable"}\n',
                    {["Content-Type"] = "application/json",
                     ["Retry-After"] = "1"})
  end
  if res.status ~= 200 then
    return r:answer(403, '{"error":"forbidden"}\n',
                    {["Content-Type"] = "application/json"})
  end
  r:del("X-Api-Key")
  r:set("X-Partner", res.headers["x-partner"] or "unknown")
end
