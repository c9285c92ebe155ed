// SPDX-License-Identifier: MIT
// contrib/bench/grpc_upstream.js -- the upstream of contrib/bench/grpc.sh:
// a gRPC unary service over cleartext HTTP/2 (prior knowledge), on Node's
// built-in http2 module. Every POST is a call: the answer is status 200,
// content-type application/grpc, the request's message echoed in one gRPC
// frame, then the trailers grpc-status: 0. GET /stats answers the sessions
// (connections) and calls it has had, as JSON. Any gRPC client can call
// it (python3-grpcio: channel.unary_unary("/bench.Svc/Call")(b"...")).
//
// usage: node grpc_upstream.js PORT
'use strict';
const http2 = require('http2');

const port = +process.argv[2];
const st = {sessions: 0, calls: 0};
const srv = http2.createServer({settings: {maxConcurrentStreams: 1000}});

srv.on('session', (s) => {
  st.sessions++;
  s.on('error', () => {});
});
srv.on('stream', (stream, h) => {
  stream.on('error', () => {});
  if (h[':method'] !== 'POST') {
    stream.respond({':status': 200, 'content-type': 'application/json'});
    stream.end(JSON.stringify(st));
    return;
  }
  const parts = [];
  stream.on('data', (d) => parts.push(d));
  stream.on('end', () => {
    // a call the gateway reset meanwhile (stopped, its client gone): an
    // answer to it would throw, and end this process
    if (stream.destroyed || stream.closed) return;
    st.calls++;
    stream.respond({':status': 200, 'content-type': 'application/grpc'},
                   {waitForTrailers: true});
    stream.on('wantTrailers', () => stream.sendTrailers({'grpc-status': '0'}));
    stream.end(Buffer.concat(parts));
  });
});
srv.listen(port, '127.0.0.1', () => console.log('ready'));
