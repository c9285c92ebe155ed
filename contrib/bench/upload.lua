-- wrk script: POST a 1 MiB body (built once; wrk adds Content-Length).
-- Usage: wrk -s contrib/bench/upload.lua http://127.0.0.1:19200/upload
wrk.method = "POST"
wrk.body = string.rep("0123456789abcdef", 65536)
wrk.headers["Content-Type"] = "application/octet-stream"
