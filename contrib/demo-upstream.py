#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A tiny demo upstream for trying sluice (README quick start).

    python3 contrib/demo-upstream.py 127.0.0.1:9001

Answers every request with HTTP/1.1 keep-alive and a JSON body:
    {"service": "demo", "port": 9001, "method": "GET", "path": "/v1/x?y=1",
     "request_id": "...", "forwarded_for": "127.0.0.1", "body_bytes": 0}
Python 3 standard library only.
"""

import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive
    disable_nagle_algorithm = True      # head and body are separate writes
    server_version = "sluice-demo/1"

    def _answer(self, with_body=True):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        elif "chunked" in (self.headers.get("Transfer-Encoding") or ""):
            n = self._drain_chunked()
        body = json.dumps({
            "service": "demo",
            "port": self.server.server_address[1],
            "method": self.command,
            "path": self.path,
            "request_id": self.headers.get("X-Request-Id"),
            "forwarded_for": self.headers.get("X-Forwarded-For"),
            "body_bytes": n,
        }).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _drain_chunked(self):
        total = 0
        while True:
            line = self.rfile.readline(1024)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass
                return total
            self.rfile.read(size)
            self.rfile.readline(16)
            total += size

    def do_HEAD(self):
        self._answer(with_body=False)

    def __getattr__(self, name):
        # every other method (GET, POST, PUT, DELETE, PATCH, OPTIONS, ...)
        if name.startswith("do_"):
            return self._answer
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        sys.stderr.write("demo-upstream %s - %s\n"
                         % (self.address_string(), fmt % args))


def main():
    if len(sys.argv) != 2 or ":" not in sys.argv[1]:
        sys.stderr.write("usage: %s HOST:PORT\n" % sys.argv[0])
        sys.exit(2)
    host, port = sys.argv[1].rsplit(":", 1)
    host = host.strip("[]")

    class Server(ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
    srv = Server((host, int(port)), Handler)
    srv.daemon_threads = True
    sys.stderr.write("demo upstream listening on %s\n" % sys.argv[1])
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
