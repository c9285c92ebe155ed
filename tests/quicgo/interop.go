// SPDX-License-Identifier: MIT

// The quic-interop-runner's client test cases that apply to a server
// without 0-RTT, over HTTP/3 (the runner speaks hq-interop for most; sluice
// speaks h3 only). Each prints, per request,
//
//	case=NAME ok status=200 bytes=N conn=K url=URL [body="..."] [sha256=...]
//
// then, per connection,
//
//	case=NAME conn=K version=0x00000001 suite=TLS_... alpn=h3 resumed=0|1
//	    retry=0|1 vn=0|1 keyupdates=N peer_keyupdates=N
//
// and a last line "ok"; or exits 1 with the reason when the case's point
// was not shown (no Retry seen in "retry", no resumption in "resumption").

package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/http3"
	"github.com/lucas-clemente/quic-go/sluicehook"
)

// a reserved version (RFC 9000 15, "0x?a?a?a?a"), as the
// quic-interop-runner's version negotiation test offers
const greasedVersion = 0x1a2a3a4a

type interop struct {
	common
	name       string
	n          int
	status     int
	offer      string
	kuInterval uint64
	urls       []string

	ctx context.Context
	tls *tls.Config
	d   *dialer
	mu  sync.Mutex // one request's lines at a time
}

func interopMain(args []string) {
	var t interop
	fs := flag.NewFlagSet("interop", flag.ContinueOnError)
	t.register(fs)
	fs.StringVar(&t.name, "case", "", "the test case")
	fs.IntVar(&t.n, "n", 0, "requests (multiconnect: connections); 0: one per URL")
	fs.IntVar(&t.status, "status", 200, "the status each response must have")
	fs.StringVar(&t.offer, "offer", fmt.Sprintf("%#x", greasedVersion),
		"versionnegotiation: the version offered first")
	fs.Uint64Var(&t.kuInterval, "ku-interval", 10,
		"keyupdate: packets sent or received with a key before the client updates it")
	t.urls = parse(fs, args)
	if t.name == "" || len(t.urls) == 0 {
		usage()
	}
	sub = "interop " + t.name
	if t.n <= 0 {
		t.n = len(t.urls)
	}
	t.ctx = t.start()
	t.tls = t.tlsConfig()
	t.d = &dialer{addr: t.addr, trace: true}

	switch t.name {
	case "handshake":
		t.sequential()
		t.oneConnection()
	case "transfer", "http3":
		t.parallel()
		t.oneConnection()
	case "retry":
		t.sequential()
		t.oneConnection()
		if t.d.conns[0].tr.retry.Load() == 0 {
			t.report()
			fail("no Retry was received")
		}
	case "keyupdate":
		t.keyupdate()
	case "chacha20":
		t.tls.CipherSuites = []uint16{tls.TLS_CHACHA20_POLY1305_SHA256}
		t.sequential()
		t.oneConnection()
		if s := t.d.conns[0].conn.ConnectionState().TLS.CipherSuite; s != tls.TLS_CHACHA20_POLY1305_SHA256 {
			t.report()
			fail("negotiated %s", tls.CipherSuiteName(s))
		}
	case "multiconnect":
		t.multiconnect()
	case "versionnegotiation":
		t.versionNegotiation()
	case "resumption":
		t.resumption()
	default:
		fail("unknown case (handshake transfer retry keyupdate chacha20 " +
			"multiconnect versionnegotiation resumption http3)")
	}
	t.report()
	fmt.Println("ok")
}

// url is the i-th request's URL: the URLs in turn.
func (t *interop) url(i int) string { return t.urls[i%len(t.urls)] }

// get makes one GET on rt, reads the body whole and prints its line (conn=
// the connections dialled so far: rt's is the last); any failure ends the
// run.
func (t *interop) get(rt *http3.RoundTripper, url string, hash bool) {
	rsp, err := rt.RoundTrip(newRequest(t.ctx, http.MethodGet, url))
	if err != nil {
		fail("GET %s: %s", url, errString(t.ctx, err))
	}
	defer rsp.Body.Close()
	h := sha256.New()
	var head strings.Builder
	n, err := io.Copy(io.MultiWriter(h, &limitWriter{&head, 256}), rsp.Body)
	if err != nil {
		fail("GET %s: body after %d bytes: %s", url, n, errString(t.ctx, err))
	}
	if rsp.StatusCode != t.status {
		fail("GET %s: status %d, not %d", url, rsp.StatusCode, t.status)
	}
	line := fmt.Sprintf("case=%s ok status=%d bytes=%d conn=%d url=%s",
		t.name, rsp.StatusCode, n, len(t.d.connections()), url)
	if n <= 256 {
		line += " body=" + strconv.Quote(head.String())
	}
	if hash {
		line += " sha256=" + hex.EncodeToString(h.Sum(nil))
	}
	t.mu.Lock()
	fmt.Println(line)
	t.mu.Unlock()
}

// sequential: the requests one after the other on one connection.
func (t *interop) sequential() {
	rt := roundTripper(&t.common, t.d, t.tls)
	for i := 0; i < t.n; i++ {
		t.get(rt, t.url(i), false)
	}
	rt.Close()
}

// parallel: the requests at once on one connection, each body whole.
func (t *interop) parallel() {
	rt := roundTripper(&t.common, t.d, t.tls)
	// the first request dials; the others wait for its connection rather
	// than racing it (http3's client dials once whoever asks first)
	var wg sync.WaitGroup
	for i := 0; i < t.n; i++ {
		wg.Add(1)
		go func(u string) {
			defer wg.Done()
			t.get(rt, u, true)
		}(t.url(i))
	}
	wg.Wait()
	rt.Close()
}

func (t *interop) oneConnection() {
	if n := len(t.d.connections()); n != 1 {
		fail("%d connections, not 1", n)
	}
}

// keyupdate: requests one after the other until the client has started a
// key update and a request sent after it has been answered (the server
// read it with the new keys and answered with its own new ones), at least
// -n of them, at most 50.
func (t *interop) keyupdate() {
	sluicehook.SetKeyUpdateInterval(t.kuInterval)
	rt := roundTripper(&t.common, t.d, t.tls)
	done := false
	for i := 0; i < 50 && (!done || i < t.n); i++ {
		t0 := time.Now().UnixNano()
		t.get(rt, t.url(i), false)
		if ku := t.d.conns[0].tr.firstKU.Load(); ku != 0 && ku < t0 {
			done = true
		}
	}
	rt.Close()
	t.oneConnection()
	if !done {
		t.report()
		fail("no request was answered after a key update of the client's")
	}
}

// multiconnect: -n connections one after the other, each a handshake, a
// GET and a close.
func (t *interop) multiconnect() {
	for i := 0; i < t.n; i++ {
		rt := roundTripper(&t.common, t.d, t.tls)
		t.get(rt, t.url(i), false)
		rt.Close()
	}
	if n := len(t.d.connections()); n != t.n {
		fail("%d connections, not %d", n, t.n)
	}
}

// versionNegotiation: the first Initial offers -offer, which the server
// must refuse with Version Negotiation listing version 1; quic-go then
// dials again with version 1 on the same connection (and tracer).
func (t *interop) versionNegotiation() {
	v, err := strconv.ParseUint(t.offer, 0, 32)
	if err != nil || v == uint64(quic.Version1) || v == 0 {
		fail("-offer %q: a version other than 1 and 0", t.offer)
	}
	sluicehook.AllowVersion(uint32(v))
	t.d.offer = quic.VersionNumber(v)
	t.sequential()
	t.oneConnection()
	c := t.d.conns[0]
	if c.tr.vn.Load() == 0 {
		t.report()
		fail("no Version Negotiation was received for version %#x", v)
	}
	if got := c.tr.version.Load(); got != uint32(quic.Version1) {
		t.report()
		fail("version %#x after Version Negotiation, not 1", got)
	}
}

// resumption: a GET on a first connection, which is closed once its
// session ticket has arrived; then one on a second connection, which must
// resume that session (1-RTT: sluice has no 0-RTT, and slquic never sends
// early data).
func (t *interop) resumption() {
	put := make(chan struct{}, 16)
	t.tls.ClientSessionCache = &sessionCache{tls.NewLRUClientSessionCache(4), put}
	rt := roundTripper(&t.common, t.d, t.tls)
	t.get(rt, t.url(0), false)
	select {
	case <-put:
	case <-t.ctx.Done():
		fail("no session ticket arrived on the first connection")
	}
	rt.Close()
	rt = roundTripper(&t.common, t.d, t.tls)
	t.get(rt, t.url(1), false)
	rt.Close()
	conns := t.d.connections()
	if len(conns) != 2 {
		fail("%d connections, not 2", len(conns))
	}
	if !conns[1].conn.ConnectionState().TLS.DidResume {
		t.report()
		fail("the second connection did not resume the first's session")
	}
}

// sessionCache signals each ticket stored. quic-go keeps its own data
// (the transport parameters) in the state it stores here.
type sessionCache struct {
	tls.ClientSessionCache
	put chan<- struct{}
}

func (c *sessionCache) Put(key string, cs *tls.ClientSessionState) {
	c.ClientSessionCache.Put(key, cs)
	if cs != nil {
		select {
		case c.put <- struct{}{}:
		default:
		}
	}
}

// report prints a line for each connection.
func (t *interop) report() {
	for _, c := range t.d.connections() {
		st := c.conn.ConnectionState().TLS
		b := func(x bool) int {
			if x {
				return 1
			}
			return 0
		}
		fmt.Printf("case=%s conn=%d version=0x%08x suite=%s alpn=%s resumed=%d "+
			"retry=%d vn=%d keyupdates=%d peer_keyupdates=%d\n",
			t.name, c.n, c.tr.version.Load(), tls.CipherSuiteName(st.CipherSuite),
			st.NegotiatedProtocol, b(st.DidResume), c.tr.retry.Load(),
			c.tr.vn.Load(), c.tr.localKU.Load(), c.tr.remoteKU.Load())
	}
}

// limitWriter keeps the first max bytes written to it.
type limitWriter struct {
	w   io.Writer
	max int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	n := len(p)
	if l.max > 0 {
		q := p
		if len(q) > l.max {
			q = q[:l.max]
		}
		l.w.Write(q)
		l.max -= len(q)
	}
	return n, nil
}
