-- An API key to a partner (doc/lua.md): the route's constants map each
-- key to its partner. The upstream gets X-Partner, never the key; an
-- unknown key is answered 401 here and never reaches it.
function on_request(r, keys)
  local key = r:get("X-Api-Key")
  local partner = key and keys[key]
  if not partner then
    return r:answer(401, '{"error":"unknown_api_key"}\n',
                    {["Content-Type"] = "application/json",
                     ["WWW-Authenticate"] = "ApiKey"})
  end
  r:del("X-Api-Key")
  r:set("X-Partner", partner)
end

-- What the client sees of the upstream's answer: a field added, the
-- upstream's Server removed.
function on_response(resp)
  resp:set("X-Served-By", "sluice-lua")
  resp:del("Server")
end

-- Once the exchange is over (its answer gone): a failed answer's access
-- line says what failed in its lua field, for a dashboard's query.
function on_log(r)
  local e = r:error()
  if e then r:log("failed:" .. e) end
end
