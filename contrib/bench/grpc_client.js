// contrib/bench/grpc_client.js -- unary gRPC calls with no content-length,
// as gRPC's own clients send them (grpc.sh --count --no-length).
//
// usage: node grpc_client.js PORT CALLS CONNS STREAMS BODY_FILE
//
// h2load, grpc.sh's client, sends a content-length with every request
// body; grpc-go, grpc-java and gRPC's C core do not, so a gateway meets
// a body of unknown length that ends with the stream. This client makes
// CALLS calls of POST /bench.Svc/Call (content-type application/grpc,
// te: trailers, the file's bytes as the body, no content-length) over
// CONNS HTTP/2 connections (prior knowledge) with STREAMS calls in flight
// on each, and prints "N succeeded, M failed" as h2load does: a call
// succeeds when its answer is a 200 whose trailers say grpc-status 0.
'use strict';
const http2 = require('http2');
const fs = require('fs');

const [port, calls, conns, streams] = process.argv.slice(2, 6).map(Number);
const body = fs.readFileSync(process.argv[6]);
let started = 0, ok = 0, failed = 0, open = conns;

function done() {
	if (--open > 0)
		return;
	console.log(`${ok} succeeded, ${failed} failed`);
}

function connection() {
	const c = http2.connect(`http://127.0.0.1:${port}`);
	let inflight = 0;
	c.on('error', () => {});
	function next() {
		while (inflight < streams && started < calls) {
			started++;
			inflight++;
			const r = c.request({
				':method': 'POST',
				':path': '/bench.Svc/Call',
				'content-type': 'application/grpc',
				'te': 'trailers',
			});
			let status = 0, grpc = null;
			r.on('response', (h) => { status = h[':status']; });
			r.on('trailers', (t) => { grpc = t['grpc-status']; });
			r.on('data', () => {});
			r.on('error', () => {});
			r.on('close', () => {
				if (status === 200 && grpc === '0')
					ok++;
				else
					failed++;
				inflight--;
				if (started < calls)
					next();
				else if (inflight === 0) {
					c.close();
					done();
				}
			});
			r.end(body);
		}
	}
	next();
}

for (let i = 0; i < conns; i++)
	connection();
