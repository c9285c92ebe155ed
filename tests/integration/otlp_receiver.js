// SPDX-License-Identifier: MIT
//
// An OTLP/HTTP trace receiver for the tracing tests: sluice exports to it
// as it would to an OpenTelemetry collector, and the tests read back what
// arrived. The body is decoded with protobufjs code generated from the
// official opentelemetry-proto files (shipped by the npm package
// @opentelemetry/otlp-transformer, installed by tests/otlp-deps.sh), so an
// export that a real collector could not read fails here too.
//
//     NODE_PATH=$(sh tests/otlp-deps.sh) node otlp_receiver.js PORT
//
// Listens on 127.0.0.1:PORT (0: any free port), prints {"port": N} once
// listening. Control paths (JSON):
//     POST   /_mode   {"status": 200, "retry_after": null, "delay_ms": 0,
//                      "hang": false, "partial_rejected": 0}
//                     how the following exports are answered (fields left
//                     out take these defaults)
//     GET    /_spans  the spans stored, flattened, in arrival order
//     DELETE /_spans  forget them
//     GET    /_stats  {"exports", "by_status", "errors", "content_types",
//                      "bodies_bytes", "spans_not_stored"}
// Any other POST is an export, whatever its path.

'use strict';

const http = require('node:http');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const collector = root.opentelemetry.proto.collector.trace.v1;
const Request = collector.ExportTraceServiceRequest;
const Response = collector.ExportTraceServiceResponse;

const DEFAULT_MODE = {
    status: 200, retry_after: null, delay_ms: 0, hang: false,
    partial_rejected: 0,
};

// the paths that are not exports
const CONTROL = new Set(['/_mode', '/_spans', '/_stats']);

let mode = { ...DEFAULT_MODE };
let spans = [];
const stats = {
    exports: 0,
    by_status: {},
    errors: [],
    content_types: [],
    bodies_bytes: 0,
    // spans of exports not answered 200 (or never answered, or whose
    // client went away first): the sender retries them, so storing them
    // would count them twice
    spans_not_stored: 0,
};

function fail(path, msg) {
    stats.errors.push(`${path}: ${msg}`);
    process.stderr.write(`otlp_receiver: ${path}: ${msg}\n`);
}

const hex = (b) => Buffer.from(b || []).toString('hex');

// AnyValue -> plain JS: int64 arrives as a string (longs: String) and
// becomes a Number, as the tests compare with JSON numbers.
function anyValue(v) {
    if (!v) return null;
    if ('stringValue' in v) return v.stringValue;
    if ('boolValue' in v) return v.boolValue;
    if ('intValue' in v) return Number(v.intValue);
    if ('doubleValue' in v) return v.doubleValue;
    if ('bytesValue' in v) return hex(v.bytesValue);
    if ('arrayValue' in v) return (v.arrayValue.values || []).map(anyValue);
    if ('kvlistValue' in v) return attrs(v.kvlistValue.values);
    return null;
}

function attrs(list) {
    const out = {};
    for (const kv of list || []) out[kv.key] = anyValue(kv.value);
    return out;
}

// The checks a collector makes that the proto schema cannot: ids are
// fixed-size (the Go collector's pdata rejects other lengths).
function checkIds(s) {
    if (s.traceId.length !== 16) return `trace_id is ${s.traceId.length} bytes`;
    if (s.spanId.length !== 8) return `span_id is ${s.spanId.length} bytes`;
    if (s.parentSpanId.length !== 0 && s.parentSpanId.length !== 8)
        return `parent_span_id is ${s.parentSpanId.length} bytes`;
    return null;
}

// Decodes one export body into flattened spans; throws on anything a
// collector would refuse.
function decode(body, path) {
    const msg = Request.decode(body);       // throws on bad wire data
    const err = Request.verify(msg);
    if (err) throw new Error(`verify: ${err}`);
    const obj = Request.toObject(msg, { longs: String, enums: Number, defaults: true });
    const out = [];
    for (const rs of obj.resourceSpans) {
        const resource = attrs(rs.resource && rs.resource.attributes);
        for (const ss of rs.scopeSpans) {
            const scope = { name: (ss.scope && ss.scope.name) || '',
                            version: (ss.scope && ss.scope.version) || '' };
            for (const s of ss.spans) {
                const bad = checkIds(s);
                if (bad) throw new Error(`span "${s.name}": ${bad}`);
                const st = s.status || {};
                out.push({
                    trace_id: hex(s.traceId),
                    span_id: hex(s.spanId),
                    parent_span_id: hex(s.parentSpanId),
                    trace_state: s.traceState,
                    name: s.name,
                    kind: s.kind,
                    start: s.startTimeUnixNano,
                    end: s.endTimeUnixNano,
                    attributes: attrs(s.attributes),
                    events: s.events.map((e) => ({
                        name: e.name, time: e.timeUnixNano, attributes: attrs(e.attributes),
                    })),
                    status: { code: st.code || 0, message: st.message || '' },
                    resource,
                    scope,
                    path,
                });
            }
        }
    }
    return out;
}

function sendJson(res, code, value) {
    const body = JSON.stringify(value);
    res.writeHead(code, { 'Content-Type': 'application/json',
                          'Content-Length': Buffer.byteLength(body) });
    res.end(body);
}

function count(status) {
    stats.by_status[status] = (stats.by_status[status] || 0) + 1;
}

function handleExport(req, res, path, body) {
    stats.exports++;
    stats.bodies_bytes += body.length;
    const ctype = req.headers['content-type'] || '';
    if (!stats.content_types.includes(ctype)) stats.content_types.push(ctype);

    // as the collector: the media type decides, parameters aside
    if (ctype.split(';')[0].trim().toLowerCase() !== 'application/x-protobuf') {
        fail(path, `content-type "${ctype}"`);
        count(415);
        return sendJson(res, 415, { error: 'unsupported content-type' });
    }
    const enc = (req.headers['content-encoding'] || 'identity').toLowerCase();
    if (enc !== 'identity') {
        fail(path, `content-encoding "${enc}"`);
        count(400);
        return sendJson(res, 400, { error: 'unsupported content-encoding' });
    }
    let got;
    try {
        got = decode(body, path);
    } catch (e) {
        fail(path, `decode: ${e.message}`);
        count(400);
        return sendJson(res, 400, { error: e.message });
    }

    // the mode as it was when the export came, even if changed meanwhile
    const m = mode;
    if (m.hang) {               // keep the socket, never answer
        count('hang');
        stats.spans_not_stored += got.length;
        return;
    }
    const answer = () => {
        // a client that gave up before the answer will send it again
        if (res.destroyed || req.socket.destroyed) {
            count('gone');
            stats.spans_not_stored += got.length;
            return;
        }
        count(m.status);
        const headers = { 'Content-Type': 'application/x-protobuf' };
        if (m.retry_after != null) headers['Retry-After'] = String(m.retry_after);
        let out = Buffer.alloc(0);
        if (m.status === 200) {
            spans.push(...got);
            const resp = m.partial_rejected
                ? { partialSuccess: { rejectedSpans: m.partial_rejected,
                                      errorMessage: 'rejected by test' } }
                : {};
            out = Buffer.from(Response.encode(Response.fromObject(resp)).finish());
        } else {
            stats.spans_not_stored += got.length;
        }
        headers['Content-Length'] = out.length;
        res.writeHead(m.status, headers);
        res.end(out);
    };
    if (m.delay_ms > 0) setTimeout(answer, m.delay_ms);
    else answer();
}

function handle(req, res, body) {
    const path = req.url.split('?')[0];
    const route = `${req.method} ${path}`;
    if (route === 'POST /_mode') {
        let want;
        try {
            want = JSON.parse(body.toString('utf8') || '{}');
        } catch (e) {
            return sendJson(res, 400, { error: `bad JSON: ${e.message}` });
        }
        // a whole new mode each time, so an earlier test's leftovers
        // (a delay, a Retry-After) never leak into the next
        mode = { ...DEFAULT_MODE, ...want };
        mode.status = Number(mode.status);
        return sendJson(res, 200, mode);
    }
    if (route === 'GET /_mode') return sendJson(res, 200, mode);
    if (route === 'GET /_spans') return sendJson(res, 200, spans);
    if (route === 'DELETE /_spans') {
        spans = [];
        return sendJson(res, 200, {});
    }
    if (route === 'GET /_stats') return sendJson(res, 200, stats);
    if (CONTROL.has(path)) return sendJson(res, 405, { error: `no ${route}` });
    if (req.method === 'POST') return handleExport(req, res, path, body);
    return sendJson(res, 404, { error: `no ${route}` });
}

const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
        try {
            handle(req, res, Buffer.concat(chunks));
        } catch (e) {       // a bug here must not take the receiver down
            fail(req.url, `internal: ${e.stack}`);
            if (!res.headersSent) sendJson(res, 500, { error: 'internal' });
        }
    });
    req.on('error', (e) => process.stderr.write(`otlp_receiver: ${e.message}\n`));
});
server.on('clientError', (e, sock) => {
    process.stderr.write(`otlp_receiver: client error: ${e.message}\n`);
    sock.destroy();
});

server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
    process.stdout.write(`{"port": ${server.address().port}}\n`);
});
