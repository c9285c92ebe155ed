-- wrk script of contrib/bench/waf.sh: POST the file named by $WAF_BODY
-- (waf_payment.json, a legit 2 KiB payment) as application/json; wrk adds
-- Content-Length. Usage: WAF_BODY=contrib/bench/waf_payment.json \
--   wrk -s contrib/bench/waf_post.lua http://127.0.0.1:19900/waf/pay
local f = assert(io.open(assert(os.getenv("WAF_BODY"), "WAF_BODY is not set"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
