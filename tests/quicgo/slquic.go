// SPDX-License-Identifier: MIT

// slquic is an HTTP/3 client on quic-go 0.29 (Debian 12's
// golang-github-lucas-clemente-quic-go-dev) for sluice's interoperability
// tests and benchmarks: a QUIC and TLS stack that shares no code with
// sluice (Go's own TLS 1.3 in quic-go's qtls fork, quic-go's transport and
// HTTP/3). See README beside this file; build.sh builds it offline.
//
//	slquic interop -case NAME [-addr HOST:PORT] [flags] URL...
//	slquic get -n N [-c CONNS] [-m STREAMS] [-method POST -body-size B] URL
//	slquic upload -size BYTES URL
//	slquic download URL
//	slquic fetch [-sni NAME | -no-sni] [-authority A] [-H 'N: v']... URL...
//
// Every subcommand takes -insecure (no certificate verification), -cacert
// FILE, -addr HOST:PORT (dial there, the URL's host still naming the
// server) and -timeout (the whole run's bound). It prints key=value
// summaries on stdout; on any failure it exits 1 with one line
// "slquic: SUBCOMMAND: REASON" on stderr (2 for a usage error).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lucas-clemente/quic-go"
	"github.com/lucas-clemente/quic-go/http3"
	"github.com/lucas-clemente/quic-go/logging"
)

var sub = "slquic"

// fail prints the one-line reason and exits 1.
func fail(format string, a ...interface{}) {
	msg := fmt.Sprintf(format, a...)
	// one line, whatever an error from below holds
	msg = strings.Join(strings.Fields(msg), " ")
	fmt.Fprintf(os.Stderr, "slquic: %s: %s\n", sub, msg)
	os.Exit(1)
}

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  slquic interop -case NAME [-addr HOST:PORT] [-n N] URL...
         NAME: handshake transfer retry keyupdate chacha20 multiconnect
               versionnegotiation resumption http3
  slquic get -n N [-c CONNS] [-m STREAMS] [-method POST -body-size B] URL
  slquic upload -size BYTES URL
  slquic download URL
  slquic fetch [-sni NAME | -no-sni] [-authority HOST[:PORT]]
         [-H 'Name: value']... [-method M] [-data BODY | -data-file F]
         [-n N] URL...
common flags: -insecure -cacert FILE -addr HOST:PORT -timeout DURATION
`)
	os.Exit(2)
}

// common holds the flags every subcommand takes.
type common struct {
	insecure bool
	cacert   string
	addr     string
	timeout  time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.insecure, "insecure", false, "do not verify the server's certificate")
	fs.StringVar(&c.cacert, "cacert", "", "PEM file of the CA certificates to trust")
	fs.StringVar(&c.addr, "addr", "", "HOST:PORT to dial instead of the URL's authority")
	fs.DurationVar(&c.timeout, "timeout", 60*time.Second, "bound of the whole run")
}

// parse parses args allowing flags after the positional arguments too
// (flag.Parse stops at the first one): "interop -case x URL -insecure".
func parse(fs *flag.FlagSet, args []string) []string {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			os.Exit(2)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// start arms the whole run's bound: a context for the requests and, should
// something not heed it (a read blocked in quic-go), an exit.
func (c *common) start() context.Context {
	if c.timeout <= 0 {
		fail("-timeout must be positive")
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	_ = cancel // the run ends with the process
	time.AfterFunc(c.timeout+time.Second, func() {
		fail("timed out after %s", c.timeout)
	})
	return ctx
}

func (c *common) tlsConfig() *tls.Config {
	t := &tls.Config{InsecureSkipVerify: c.insecure}
	if c.cacert != "" {
		pem, err := os.ReadFile(c.cacert)
		if err != nil {
			fail("%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail("%s: no PEM certificate", c.cacert)
		}
		t.RootCAs = pool
	}
	return t
}

// quicConfig is the transport's configuration: its timeouts from the
// run's, so that a server that is slow to answer (sluice under callgrind
// or valgrind runs tens of times slower) fails on -timeout, not on quic-go's
// 5 s handshake default.
func (c *common) quicConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout: c.timeout,
		MaxIdleTimeout:       c.timeout,
		// http3.RoundTripper insists on exactly one version
		Versions: []quic.VersionNumber{quic.Version1},
	}
}

// ---- connections ---------------------------------------------------------

// connInfo is what slquic learned of one QUIC connection.
type connInfo struct {
	n    int // 1, 2, ... in the order they were dialled
	conn quic.EarlyConnection
	tr   *connTracer
}

// dialer is an http3.RoundTripper's Dial: it records each connection,
// dials -addr when given, offers a first version that the server must
// refuse when asked to, and returns only once the handshake is complete,
// so that no request is ever sent as 0-RTT data (sluice has none).
type dialer struct {
	addr  string
	offer quic.VersionNumber // 0: offer version 1 only
	trace bool
	noSNI bool // no SNI: ServerName is the dialled address (fetch)

	mu    sync.Mutex
	conns []*connInfo
}

func (d *dialer) dial(ctx context.Context, hostport string, tlsCfg *tls.Config, cfg *quic.Config) (quic.EarlyConnection, error) {
	cfg = cfg.Clone()
	var tr *connTracer
	if d.trace {
		tr = &connTracer{}
		cfg.Tracer = tracer{tr}
	}
	if d.offer != 0 {
		cfg.Versions = []quic.VersionNumber{d.offer, quic.Version1}
	}
	target := hostport
	if d.addr != "" {
		target = d.addr
	}
	if d.noSNI {
		name, err := sniNone(target)
		if err != nil {
			return nil, err
		}
		tlsCfg = tlsCfg.Clone()
		tlsCfg.ServerName = name
	} else if d.addr != "" {
		if tlsCfg.ServerName == "" {
			host, _, err := net.SplitHostPort(hostport)
			if err != nil {
				return nil, err
			}
			tlsCfg = tlsCfg.Clone()
			tlsCfg.ServerName = host
		}
	}
	conn, err := quic.DialAddrEarlyContext(ctx, target, tlsCfg, cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-conn.HandshakeComplete().Done():
	case <-conn.Context().Done():
		return nil, errors.New("the connection closed during its handshake")
	case <-ctx.Done():
		conn.CloseWithError(0, "")
		return nil, ctx.Err()
	}
	d.mu.Lock()
	d.conns = append(d.conns, &connInfo{n: len(d.conns) + 1, conn: conn, tr: tr})
	d.mu.Unlock()
	return conn, nil
}

func (d *dialer) connections() []*connInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*connInfo(nil), d.conns...)
}

// roundTripper is one http3.RoundTripper: one QUIC connection for all
// requests to one authority, dialled by d.
func roundTripper(c *common, d *dialer, t *tls.Config) *http3.RoundTripper {
	return &http3.RoundTripper{
		TLSClientConfig: t,
		QuicConfig:      c.quicConfig(),
		Dial:            d.dial,
	}
}

// ---- tracing -------------------------------------------------------------

// tracer hands quic-go one connTracer for the connection it is given to;
// quic-go keeps it across a Version Negotiation and a Retry, which is what
// lets it report both.
type tracer struct {
	c *connTracer
}

func (t tracer) TracerForConnection(context.Context, logging.Perspective, logging.ConnectionID) logging.ConnectionTracer {
	return t.c
}
func (tracer) SentPacket(net.Addr, *logging.Header, logging.ByteCount, []logging.Frame) {}
func (tracer) DroppedPacket(net.Addr, logging.PacketType, logging.ByteCount, logging.PacketDropReason) {
}

// connTracer counts what the interop cases report. quic-go calls it from
// the connection's goroutine; the counters are read from others.
type connTracer struct {
	logging.NullConnectionTracer
	vn         atomic.Int32 // Version Negotiation packets acted upon
	vnVersions atomic.Value // []logging.VersionNumber the server listed
	retry      atomic.Int32
	localKU    atomic.Int32 // key updates this client started
	remoteKU   atomic.Int32 // key updates the server started
	version    atomic.Uint32
	firstKU    atomic.Int64 // time of the first local key update, UnixNano
}

func (t *connTracer) ReceivedVersionNegotiationPacket(_ *logging.Header, v []logging.VersionNumber) {
	t.vnVersions.Store(append([]logging.VersionNumber(nil), v...))
	t.vn.Add(1)
}

func (t *connTracer) ReceivedRetry(*logging.Header) { t.retry.Add(1) }

func (t *connTracer) UpdatedKey(_ logging.KeyPhase, remote bool) {
	if remote {
		t.remoteKU.Add(1)
	} else {
		t.localKU.Add(1)
		t.firstKU.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// ReceivedPacket notes the version of the server's long-header packets:
// the version the connection runs (ConnectionState does not say).
func (t *connTracer) ReceivedPacket(hdr *logging.ExtendedHeader, _ logging.ByteCount, _ []logging.Frame) {
	if hdr.IsLongHeader && hdr.Version != 0 {
		t.version.Store(uint32(hdr.Version))
	}
}

// ---- main ----------------------------------------------------------------

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	sub = os.Args[1]
	args := os.Args[2:]
	switch sub {
	case "interop":
		interopMain(args)
	case "get":
		getMain(args)
	case "upload":
		uploadMain(args)
	case "download":
		downloadMain(args)
	case "fetch":
		fetchMain(args)
	case "-h", "-help", "--help", "help":
		usage()
	default:
		sub = "slquic"
		fmt.Fprintf(os.Stderr, "slquic: unknown subcommand %q\n", os.Args[1])
		usage()
	}
}

// newRequest makes a request of rawurl with the run's context.
func newRequest(ctx context.Context, method, rawurl string) *http.Request {
	req, err := http.NewRequestWithContext(ctx, method, rawurl, nil)
	if err != nil {
		fail("%v", err)
	}
	return req
}

// errString is err's text, or the context's when the run's bound cut it.
func errString(ctx context.Context, err error) string {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return "timed out"
	}
	return err.Error()
}
