-- The cluster from a field of the JSON body (doc/lua.md): a payment's
-- "currency" picks the cluster that settles it (the route's constants
-- map currencies to clusters of its split); a body that is not JSON, or
-- names another currency, goes by the split's weights.
function on_request(r, clusters)
  local doc = sluice.json_decode(r:body())
  local cluster = type(doc) == "table" and clusters[doc.currency or ""]
  if cluster then
    r:cluster(cluster)
  end
end
