// SPDX-License-Identifier: MIT
//
// Proves otlp_receiver.js from outside, before the tracing tests trust
// it: an export made by OpenTelemetry's own serializer (the same package's
// ProtobufTraceSerializer, as the JS SDK sends it) must come back from
// /_spans with the ids, attributes, events and status it was given; the
// modes must answer as set; garbage must be refused and logged. Run by
// hand, not by make check:
//
//     NODE_PATH=$(sh tests/otlp-deps.sh) node tests/integration/otlp_selfcheck.js

'use strict';

const assert = require('node:assert/strict');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { ProtobufTraceSerializer } = require('@opentelemetry/otlp-transformer');

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SERVER = 'b7ad6b7169203331';
const CLIENT = '00f067aa0ba902b7';
const CALLER = 'a3ce929d0e0e4736';
const T0 = [1700000000, 123456789];      // hrtime: 1700000000123456789 ns

// The fields of a ReadableSpan that serializeRequest reads (see
// build/src/trace/internal.js of the package); nothing more.
function readable(o) {
    return {
        spanContext: () => ({ traceId: TRACE, spanId: o.spanId, traceFlags: 1,
                              traceState: { serialize: () => 'vendor=x' } }),
        parentSpanId: o.parent,
        name: o.name,
        kind: o.kind,                    // API SpanKind: SERVER 1, CLIENT 2
        startTime: T0,
        endTime: [T0[0] + 1, 0],
        attributes: o.attributes,
        droppedAttributesCount: 0,
        events: o.events || [],
        droppedEventsCount: 0,
        status: o.status,
        links: [],
        droppedLinksCount: 0,
        resource: RESOURCE,
        instrumentationLibrary: { name: 'sluice', version: '1.2.3' },
    };
}
const RESOURCE = { attributes: { 'service.name': 'sluice', 'host.name': 'h1' } };

const body = ProtobufTraceSerializer.serializeRequest([
    readable({
        spanId: SERVER, parent: CALLER, name: 'GET pay', kind: 1,
        attributes: { 'http.request.method': 'GET', 'http.response.status_code': 502,
                      'sluice.connection.reused': false, 'x.ratio': 0.25 },
        status: { code: 2, message: '' },
    }),
    readable({
        spanId: CLIENT, parent: SERVER, name: 'GET backend', kind: 2,
        attributes: { 'server.port': 8080 },
        events: [{ name: 'connect', time: [T0[0], T0[1] + 1000],
                   attributes: { 'sluice.duration_us': 42 } }],
        status: { code: 0 },
    }),
]);

function request(port, method, p, data, headers = {}, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path: p, headers,
                                   timeout: timeoutMs }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
                                          body: Buffer.concat(chunks) }));
        });
        req.on('timeout', () => { req.destroy(); resolve({ status: 'timeout' }); });
        req.on('error', reject);
        req.end(data);
    });
}

const PB = { 'Content-Type': 'application/x-protobuf' };
const json = (r) => JSON.parse(r.body.toString('utf8'));

async function main() {
    const rx = spawn(process.execPath, [path.join(__dirname, 'otlp_receiver.js'), '0'],
                     { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise((resolve, reject) => {
        rx.stdout.once('data', (d) => resolve(JSON.parse(d.toString()).port));
        rx.once('exit', (c) => reject(new Error(`receiver exited ${c}`)));
    });
    const get = async (p) => json(await request(port, 'GET', p));
    const setMode = (m) => request(port, 'POST', '/_mode', JSON.stringify(m));

    let passed = 0, failed = 0;
    async function check(name, fn) {
        try {
            await fn();
            passed++;
            console.log(`ok - ${name}`);
        } catch (e) {
            failed++;
            console.log(`FAIL - ${name}\n${e.stack}`);
        }
    }

    await check('an SDK-serialized export is stored as sent', async () => {
        const r = await request(port, 'POST', '/v1/traces', body, PB);
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-type'], 'application/x-protobuf');
        const resp = ProtobufTraceSerializer.deserializeResponse(r.body);
        assert.equal(resp.partialSuccess, null);
        const spans = await get('/_spans');
        assert.equal(spans.length, 2);
        const [s, c] = spans;
        assert.deepEqual(s, {
            trace_id: TRACE, span_id: SERVER, parent_span_id: CALLER,
            trace_state: 'vendor=x', name: 'GET pay', kind: 2,
            start: '1700000000123456789', end: '1700000001000000000',
            attributes: { 'http.request.method': 'GET', 'http.response.status_code': 502,
                          'sluice.connection.reused': false, 'x.ratio': 0.25 },
            events: [], status: { code: 2, message: '' },
            resource: { 'service.name': 'sluice', 'host.name': 'h1' },
            scope: { name: 'sluice', version: '1.2.3' }, path: '/v1/traces',
        });
        assert.equal(c.kind, 3);
        assert.equal(c.parent_span_id, SERVER);
        assert.deepEqual(c.attributes, { 'server.port': 8080 });
        assert.deepEqual(c.events, [{ name: 'connect', time: '1700000000123457789',
                                      attributes: { 'sluice.duration_us': 42 } }]);
        assert.deepEqual(c.status, { code: 0, message: '' });
    });

    await check('DELETE /_spans forgets; any POST path is an export', async () => {
        assert.equal((await request(port, 'DELETE', '/_spans')).status, 200);
        assert.deepEqual(await get('/_spans'), []);
        assert.equal((await request(port, 'POST', '/otel/traces', body, PB)).status, 200);
        const spans = await get('/_spans');
        assert.deepEqual(spans.map((s) => s.path), ['/otel/traces', '/otel/traces']);
        await request(port, 'DELETE', '/_spans');
    });

    await check('503 with Retry-After: answered so, spans not stored', async () => {
        assert.equal((await setMode({ status: 503, retry_after: 1 })).status, 200);
        const r = await request(port, 'POST', '/v1/traces', body, PB);
        assert.equal(r.status, 503);
        assert.equal(r.headers['retry-after'], '1');
        assert.deepEqual(await get('/_spans'), []);
        assert.equal((await get('/_stats')).spans_not_stored, 2);
    });

    await check('partial_rejected: 200 with partial_success.rejected_spans', async () => {
        await setMode({ partial_rejected: 1 });
        const r = await request(port, 'POST', '/v1/traces', body, PB);
        assert.equal(r.status, 200);
        assert.equal(r.headers['retry-after'], undefined);   // 503's is gone
        const resp = ProtobufTraceSerializer.deserializeResponse(r.body);
        assert.equal(Number(resp.partialSuccess.rejectedSpans), 1);
        assert.equal((await get('/_spans')).length, 2);
        await request(port, 'DELETE', '/_spans');
    });

    await check('delay_ms delays the answer; hang never answers', async () => {
        await setMode({ delay_ms: 300 });
        const t = Date.now();
        assert.equal((await request(port, 'POST', '/v1/traces', body, PB)).status, 200);
        assert.ok(Date.now() - t >= 290, `answered after ${Date.now() - t} ms`);
        await setMode({ hang: true });
        const r = await request(port, 'POST', '/v1/traces', body, PB, 500);
        assert.equal(r.status, 'timeout');
        await setMode({});
        assert.equal((await get('/_spans')).length, 2);      // the delayed one only
        await request(port, 'DELETE', '/_spans');
    });

    await check('garbage: 400 and an error entry; wrong type: 415', async () => {
        const before = (await get('/_stats')).errors.length;
        // field 1, length-delimited, with a length that runs past the end
        const junk = Buffer.from([0x0a, 0xff, 0xff, 0x03, 0x01]);
        assert.equal((await request(port, 'POST', '/v1/traces', junk, PB)).status, 400);
        const r = await request(port, 'POST', '/v1/traces', body,
                                { 'Content-Type': 'application/json' });
        assert.equal(r.status, 415);
        const st = await get('/_stats');
        assert.equal(st.errors.length, before + 2);
        assert.match(st.errors[before], /decode/);
        assert.deepEqual(st.content_types, ['application/x-protobuf', 'application/json']);
        assert.equal(st.exports, 8);
        assert.deepEqual(st.by_status, { 200: 4, 503: 1, hang: 1, 400: 1, 415: 1 });
        assert.equal(st.bodies_bytes, 7 * body.length + junk.length);
    });

    await check('a span id of the wrong size is refused', async () => {
        const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');
        const Req = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
        const bad = Req.encode(Req.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: [{
            traceId: Buffer.from(TRACE, 'hex'), spanId: Buffer.from('0102', 'hex'), name: 'x',
        }] }] }] })).finish();
        assert.equal((await request(port, 'POST', '/v1/traces', bad, PB)).status, 400);
        assert.match((await get('/_stats')).errors.at(-1), /span_id is 2 bytes/);
        assert.deepEqual(await get('/_spans'), []);
    });

    rx.kill();
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
    console.error(e);
    process.exit(2);
});
