#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// contrib/bench/ws_load.js -- the WebSocket ends of contrib/bench/ws.sh.
//
// usage: node ws_load.js serve PORT
//        node ws_load.js idle  PORT N [--window W] [--size B] [--no-msg]
//                              [--setup-timeout S] [--hold S]
//        node ws_load.js echo  PORT M [--duration S] [--warmup S] [--size B]
//                              [--pids "PID ..."] [--cpu N] [--hz HZ]
//
// serve  the echo upstream: an HTTP server on 127.0.0.1:PORT (backlog
//        4096) answering plain requests "200 ok" (so that a gateway's
//        start can be checked with curl) with Debian's node-ws
//        (/usr/share/nodejs/ws, ws 8) on it: every WebSocket message is sent
//        back as it came (text stays text), permessage-deflate off, no
//        pings, no idle timeout. Prints "LISTENING" once bound; runs until
//        SIGTERM or SIGINT.
//
// idle   opens N WebSocket tunnels to the gateway on 127.0.0.1:PORT, at most
//        W (default 64) handshakes in flight, each exchanging ONE message
//        of B bytes (default 64, text; none with --no-msg) after its 101,
//        so that the tunnel's data path has been used once; then it stays
//        idle. Prints, one line each, flushed:
//          READY ok=N failed=F secs=S     all set up (or failed, or the
//                                         --setup-timeout, default 120 s, ran out)
//          OPEN open=N closed=C alive=A   after SIGUSR1: how many are still
//                                         open, how many were closed by the
//                                         other side once set up, and how many
//                                         of the open ones still echo one more
//                                         message (probed then, 10 s at most)
//          ERR count=N what               up to 5 kinds of failure, once
//        then waits for SIGTERM (or --hold S, default 600) and closes all
//        with a reset, so that no end keeps them in TIME_WAIT.
//
// echo   opens M tunnels (all at once), then on each one sends a B-byte text
//        message, waits for its echo (checked byte for byte), sends the
//        next, as fast as it can: one message in flight per tunnel. After
//        --warmup S (default 1) it samples utime + stime of the --pids
//        (/proc/PID/stat, in ticks of --hz, default 100) and, with --cpu,
//        that CPU's line of /proc/stat; again after --duration S (default
//        10), with the VmRSS of the pids; then it stops and prints
//          RESULT conns=M ok=K msgs=N secs=S rate=R utime=U stime=S
//                 rss_kib=K cpu_busy=F cpu_softirq=F errors=E bad=B closed=C
//        msgs = echoes fully received in the measured window; bad = echoes
//        that did not match what was sent; closed = tunnels closed by the
//        other side during the run. Taking the samples here, in the process
//        that counts, keeps the window of the CPU times and of the count
//        the same.
//
// The client side speaks RFC 6455 by hand on plain sockets (no library):
// the handshake (its Sec-WebSocket-Accept checked), masked frames of a
// fixed payload, the echo compared with the expected unmasked frame. It
// costs far less CPU than a library client, which matters here: the
// client and the upstream share one CPU (LOAD_CPU), the gateway has the
// other one. Only 127.0.0.1 is used.
"use strict";

const net = require("net");
const crypto = require("crypto");
const fs = require("fs");

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

function die(msg) {
	process.stderr.write("ws_load.js: " + msg + "\n");
	process.exit(2);
}

function say(line) {  // one line to stdout, written at once (a pipe or a file)
	fs.writeSync(1, line + "\n");
}

// ------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
const mode = argv[0];
const pos = [];
const opt = {};
for (let i = 1; i < argv.length; i++) {
	const a = argv[i];
	if (a === "--no-msg") opt["no-msg"] = true;
	else if (a.startsWith("--")) {
		if (i + 1 >= argv.length) die("missing value for " + a);
		opt[a.slice(2)] = argv[++i];
	} else pos.push(a);
}
const num = (k, d) => (opt[k] === undefined ? d : Number(opt[k]));
const PORT = Number(pos[0]);
if (!mode || !(PORT > 0 && PORT < 65536)) die("usage: ws_load.js serve|idle|echo PORT ... (see the header)");

// ------------------------------------------------------------- serve
if (mode === "serve") {
	let WebSocketServer;
	try {
		WebSocketServer = require("ws").WebSocketServer;
	} catch (e) {
		try {
			WebSocketServer = require("/usr/share/nodejs/ws").WebSocketServer;
		} catch (e2) {
			die("no ws module (apt-get install node-ws): " + e2.message);
		}
	}
	const http = require("http");
	const server = http.createServer((req, res) => {
		res.writeHead(200, { "Content-Type": "text/plain", "Content-Length": 3 });
		res.end("ok\n");
	});
	// no request or header timeout: upgraded sockets are not under them
	// anyway, but a gateway's plain check request must not be cut
	server.requestTimeout = 0;
	server.headersTimeout = 0;
	server.keepAliveTimeout = 60000;
	const wss = new WebSocketServer({ server, perMessageDeflate: false, clientTracking: false,
		maxPayload: 16 * 1024 * 1024 });
	wss.on("connection", (ws) => {
		ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
		ws.on("error", () => {});
	});
	wss.on("error", () => {});
	server.on("clientError", (err, sock) => sock.destroy());
	server.listen({ host: "127.0.0.1", port: PORT, backlog: 4096 }, () => say("LISTENING"));
	const bye = () => process.exit(0);
	process.on("SIGTERM", bye);
	process.on("SIGINT", bye);
	return;
}

// ------------------------------------------------------------- frames
const SIZE = num("size", 64);
if (!(SIZE >= 0 && SIZE <= 65535)) die("--size must be 0..65535");
const payload = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) payload[i] = 0x61 + (i % 26);  // "abc...", valid UTF-8 text

function clientFrame() {  // FIN + text, masked (a client must mask)
	const ext = SIZE < 126 ? 0 : 2;
	const f = Buffer.alloc(2 + ext + 4 + SIZE);
	f[0] = 0x81;
	if (ext) { f[1] = 0x80 | 126; f.writeUInt16BE(SIZE, 2); } else f[1] = 0x80 | SIZE;
	const mask = crypto.randomBytes(4);
	mask.copy(f, 2 + ext);
	for (let i = 0; i < SIZE; i++) f[2 + ext + 4 + i] = payload[i] ^ mask[i & 3];
	return f;
}

function serverFrame() {  // what the echo must look like: unmasked
	const ext = SIZE < 126 ? 0 : 2;
	const f = Buffer.alloc(2 + ext + SIZE);
	f[0] = 0x81;
	if (ext) { f[1] = 126; f.writeUInt16BE(SIZE, 2); } else f[1] = SIZE;
	payload.copy(f, 2 + ext);
	return f;
}
const OUT = clientFrame();  // the same masked frame on every tunnel: fine for a benchmark
const ECHO = serverFrame();

// ------------------------------------------------------------- failures
const errs = new Map();
function fail(what) {
	errs.set(what, (errs.get(what) || 0) + 1);
}
function sayErrs() {
	let n = 0;
	for (const [what, count] of errs) {
		if (n++ >= 5) break;
		say("ERR count=" + count + " " + what);
	}
}

// ------------------------------------------------------------- a tunnel
// t.state: "hs" (handshake), "open", "closed". t.onEcho() is called when a
// whole echo has arrived; t.onOpen(ok) once when the handshake ends.
function openTunnel(onOpen) {
	const key = crypto.randomBytes(16).toString("base64");
	const want = crypto.createHash("sha1").update(key + GUID).digest("base64");
	const t = { state: "hs", off: 0, busy: false, onEcho: null, onClose: null, sock: null };
	let head = Buffer.alloc(0);
	const s = net.connect({ host: "127.0.0.1", port: PORT });
	t.sock = s;
	s.setNoDelay(true);
	const end = (why) => {
		if (t.state === "closed") return;
		const was = t.state;
		t.state = "closed";
		if (was === "hs") { fail(why); onOpen(t, false); }
		else if (t.onClose) t.onClose(why);
		s.destroy();
	};
	s.on("connect", () => {
		s.write("GET / HTTP/1.1\r\nHost: 127.0.0.1:" + PORT + "\r\nUpgrade: websocket\r\n" +
			"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n\r\n");
	});
	s.on("data", (chunk) => {
		if (t.state === "hs") {
			head = Buffer.concat([head, chunk]);
			const e = head.indexOf("\r\n\r\n");
			if (e < 0) {
				if (head.length > 16384) end("response head too long");
				return;
			}
			const text = head.slice(0, e).toString("latin1");
			const rest = head.slice(e + 4);
			const status = text.slice(0, text.indexOf("\r\n") < 0 ? text.length : text.indexOf("\r\n"));
			if (!/^HTTP\/1\.1 101\b/.test(status)) return end("status: " + status.slice(0, 60));
			const m = /\r\nsec-websocket-accept:[ \t]*([^\r\n]*?)[ \t]*(\r\n|$)/i.exec(text);
			if (!m || m[1] !== want) return end("bad Sec-WebSocket-Accept");
			t.state = "open";
			onOpen(t, true);
			if (rest.length) feed(t, rest);
			return;
		}
		if (t.state === "open") feed(t, chunk);
	});
	s.on("error", (e) => end("socket error: " + (e.code || e.message)));
	s.on("close", () => end("closed by the other side"));
	return t;
}

function feed(t, chunk) {  // compares what came with the expected echo
	let i = 0;
	while (i < chunk.length) {
		if (!t.busy) { t.bad = true; fail("bytes nobody asked for"); t.sock.destroy(); return; }
		const k = Math.min(ECHO.length - t.off, chunk.length - i);
		if (ECHO.compare(chunk, i, i + k, t.off, t.off + k) !== 0) {
			t.bad = true;
			fail("echo differs from the message");
			t.sock.destroy();
			return;
		}
		i += k;
		t.off += k;
		if (t.off === ECHO.length) {
			t.off = 0;
			t.busy = false;
			if (t.onEcho) t.onEcho();
		}
	}
}

function send(t) {
	t.busy = true;
	t.sock.write(OUT);
}

function resetAll(ts) {
	for (const t of ts) {
		if (t.state === "closed") continue;
		t.state = "closed";
		if (t.sock.resetAndDestroy) t.sock.resetAndDestroy(); else t.sock.destroy();
	}
}

// ------------------------------------------------------------- idle
if (mode === "idle") {
	const N = Number(pos[1]);
	if (!(N >= 1)) die("idle: N must be >= 1");
	const W = num("window", 64);
	const msg = !opt["no-msg"];
	const t0 = process.hrtime.bigint();
	const ts = [];
	let started = 0, done = 0, ok = 0, failed = 0, ready = false, closedAfter = 0;
	const finish = () => {
		if (ready) return;
		ready = true;
		const secs = Number(process.hrtime.bigint() - t0) / 1e9;
		say("READY ok=" + ok + " failed=" + (N - ok) + " secs=" + secs.toFixed(2));
		sayErrs();
	};
	const settled = (good) => {
		done++;
		if (good) ok++; else failed++;
		if (started < N) next();
		if (done === N) finish();
	};
	const next = () => {
		started++;
		const t = openTunnel((t, good) => {
			if (!good) return settled(false);
			// a tunnel counts once: ok when its message came back (or at
			// its 101 with --no-msg), failed if it closed before that
			let counted = false;
			const count = (good) => { if (!counted) { counted = true; settled(good); } };
			t.onClose = (why) => {
				if (ready) closedAfter++;
				else if (!counted) { fail(why); count(false); }
				else closedAfter++;
			};
			if (!msg) return count(true);
			t.onEcho = () => { t.onEcho = null; count(true); };
			send(t);
		});
		ts.push(t);
	};
	for (let i = 0; i < Math.min(W, N); i++) next();
	setTimeout(finish, num("setup-timeout", 120) * 1000).unref();
	process.on("SIGUSR1", () => {
		// how many are open, and do they still carry a message both ways?
		const open = ts.filter((t) => t.state === "open");
		let alive = 0, pending = open.length;
		const report = () => {
			say("OPEN open=" + open.length + " closed=" + closedAfter + " alive=" + alive);
		};
		if (!pending || !msg) return report();
		const timer = setTimeout(() => { pending = -1; report(); }, 10000);
		for (const t of open) {
			t.onEcho = () => {
				t.onEcho = null;
				alive++;
				if (--pending === 0) { clearTimeout(timer); report(); }
			};
			send(t);
		}
	});
	const bye = () => { resetAll(ts); process.exit(0); };
	process.on("SIGTERM", bye);
	process.on("SIGINT", bye);
	setTimeout(bye, num("hold", 600) * 1000);
	return;
}

// ------------------------------------------------------------- echo
function procTimes(pids) {  // utime + stime (ticks) and VmRSS (KiB) of the pids
	let u = 0, s = 0, rss = 0;
	for (const p of pids) {
		const st = fs.readFileSync("/proc/" + p + "/stat", "latin1");
		const f = st.slice(st.lastIndexOf(")") + 2).split(" ");  // f[0] is field 3 (state)
		u += Number(f[11]);
		s += Number(f[12]);
		const m = /\nVmRSS:\s+(\d+)/.exec(fs.readFileSync("/proc/" + p + "/status", "latin1"));
		rss += m ? Number(m[1]) : 0;
	}
	return { u, s, rss };
}

function cpuLine(cpu) {  // user nice system idle iowait irq softirq steal of one CPU
	if (cpu === undefined) return null;
	for (const l of fs.readFileSync("/proc/stat", "latin1").split("\n")) {
		const f = l.split(/\s+/);
		if (f[0] === "cpu" + cpu) return f.slice(1, 9).map(Number);
	}
	return null;
}

if (mode === "echo") {
	const M = Number(pos[1]);
	if (!(M >= 1)) die("echo: M must be >= 1");
	const D = num("duration", 10), WARM = num("warmup", 1);
	const pids = (opt.pids || "").split(/[ ,]+/).filter(Boolean);
	const cpu = opt.cpu;
	const ts = [];
	let count = 0, opened = 0, settled = 0, running = false, closed = 0;
	const start = () => {
		if (!opened) { say("RESULT conns=" + M + " ok=0 msgs=0 secs=0 rate=0 errors=" + (M - opened)); sayErrs(); process.exit(1); }
		running = true;
		for (const t of ts) if (t.state === "open") send(t);
		setTimeout(() => {
			const c0 = count, p0 = procTimes(pids), k0 = cpuLine(cpu), h0 = process.hrtime.bigint();
			setTimeout(() => {
				const c1 = count, p1 = procTimes(pids), k1 = cpuLine(cpu), h1 = process.hrtime.bigint();
				running = false;
				const secs = Number(h1 - h0) / 1e9;
				let busy = "", soft = "";
				if (k0 && k1) {
					const d = k1.map((v, i) => v - k0[i]);
					const tot = d.reduce((a, b) => a + b, 0) || 1;
					busy = ((tot - d[3] - d[4]) / tot).toFixed(3);
					soft = (d[6] / tot).toFixed(3);
				}
				const bad = ts.filter((t) => t.bad).length;
				say("RESULT conns=" + M + " ok=" + opened + " msgs=" + (c1 - c0) + " secs=" + secs.toFixed(3) +
					" rate=" + ((c1 - c0) / secs).toFixed(0) + " utime=" + (p1.u - p0.u) + " stime=" + (p1.s - p0.s) +
					" rss_kib=" + p1.rss + " cpu_busy=" + busy + " cpu_softirq=" + soft +
					" errors=" + (M - opened) + " bad=" + bad + " closed=" + closed);
				sayErrs();
				resetAll(ts);
				process.exit(0);
			}, D * 1000);
		}, WARM * 1000);
	};
	for (let i = 0; i < M; i++) {
		const t = openTunnel((t, good) => {
			if (good) {
				opened++;
				t.onEcho = () => { count++; if (running) send(t); };
				t.onClose = (why) => { closed++; fail(why); };
			}
			if (++settled === M) start();
		});
		ts.push(t);
	}
	setTimeout(() => { if (settled < M) { fail("handshake timeout"); settled = M; start(); } }, 30000).unref();
	process.on("SIGTERM", () => { resetAll(ts); process.exit(1); });
	return;
}

die("unknown mode " + mode);
