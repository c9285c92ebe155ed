-- A maintenance page for one merchant's host name (doc/lua.md): the
-- route's constant "host" names it; every other host goes on.
function on_request(r, c)
  local host = r:host()
  if host and host:lower():match("^[^:]+") == c.host then
    return r:answer(503, "<h1>Down for maintenance</h1>\n",
                    {["Content-Type"] = "text/html",
                     ["Retry-After"] = "600"})
  end
end
