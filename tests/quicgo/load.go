// SPDX-License-Identifier: MIT

// get (a small load driver), upload and download (large bodies).

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"hash"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lucas-clemente/quic-go/http3"
)

// get: -n requests over -c connections, at most -m at once on each:
//
//	requests=N ok=N failed=N elapsed_ms=... rps=... p50_us=... p99_us=...
//
// With -c 1 -m 1 the requests go one after the other on one connection,
// the same bytes each time (a fixed body, no date, no random padding of
// slquic's own), so that a server's cost per request can be counted as
// the difference between a run of N and one of 2N.
func getMain(args []string) {
	var c common
	var n, conns, streams, bodySize, status int
	var method string
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	c.register(fs)
	fs.IntVar(&n, "n", 1, "requests in all")
	fs.IntVar(&conns, "c", 1, "connections")
	fs.IntVar(&streams, "m", 1, "requests at once on each connection")
	fs.StringVar(&method, "method", http.MethodGet, "the requests' method")
	fs.IntVar(&bodySize, "body-size", 0, "bytes of each request's body")
	fs.IntVar(&status, "status", 200, "the status a response must have to count as ok")
	urls := parse(fs, args)
	if len(urls) != 1 || n < 1 || conns < 1 || streams < 1 || bodySize < 0 {
		usage()
	}
	url := urls[0]
	ctx := c.start()
	t := c.tlsConfig()
	d := &dialer{addr: c.addr}
	body := bytes.Repeat([]byte("x"), bodySize)
	qc := c.quicConfig()
	// no path MTU probes: quic-go sends them on timers, packets a count
	// of the server's instructions per request would include by chance
	qc.DisablePathMTUDiscovery = true

	var next atomic.Int64
	lat := make([]time.Duration, n) // by request, 0 for a failed one
	var failed atomic.Int64
	var errMu sync.Mutex
	firstErr := ""
	var wg sync.WaitGroup
	rts := make([]*http3.RoundTripper, conns)
	t0 := time.Now()
	for ci := range rts {
		rts[ci] = roundTripper(&c, d, t)
		rts[ci].QuicConfig = qc
		for s := 0; s < streams; s++ {
			wg.Add(1)
			go func(rt *http3.RoundTripper) {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(n) {
						return
					}
					start := time.Now()
					err := request(ctx, rt, method, url, body, status)
					if err != nil {
						failed.Add(1)
						errMu.Lock()
						if firstErr == "" {
							firstErr = err.Error()
						}
						errMu.Unlock()
						continue
					}
					lat[i] = time.Since(start)
				}
			}(rts[ci])
		}
	}
	wg.Wait()
	elapsed := time.Since(t0)
	for _, rt := range rts {
		rt.Close()
	}

	ok := make([]time.Duration, 0, n)
	for _, l := range lat {
		if l > 0 {
			ok = append(ok, l)
		}
	}
	sort.Slice(ok, func(i, j int) bool { return ok[i] < ok[j] })
	fmt.Printf("requests=%d ok=%d failed=%d elapsed_ms=%d rps=%.1f p50_us=%d p99_us=%d\n",
		n, len(ok), failed.Load(), elapsed.Milliseconds(),
		float64(len(ok))/elapsed.Seconds(),
		percentile(ok, 50).Microseconds(), percentile(ok, 99).Microseconds())
	if f := failed.Load(); f > 0 {
		fail("%d of %d requests failed, the first: %s", f, n, firstErr)
	}
}

// request makes one request and reads its response whole.
func request(ctx context.Context, rt *http3.RoundTripper, method, url string, body []byte, status int) error {
	var rd io.Reader
	if len(body) > 0 {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	rsp, err := rt.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("%s", errString(ctx, err))
	}
	_, err = io.Copy(io.Discard, rsp.Body)
	rsp.Body.Close()
	if err != nil {
		return fmt.Errorf("body: %s", errString(ctx, err))
	}
	if rsp.StatusCode != status {
		return fmt.Errorf("status %d", rsp.StatusCode)
	}
	return nil
}

// percentile is the nearest-rank p-th percentile of sorted d, 0 if empty.
func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	k := (len(d)*p + 99) / 100
	if k < 1 {
		k = 1
	}
	return d[k-1]
}

// ---- large bodies --------------------------------------------------------

// pattern is an upload's body: size bytes of a 64 KiB block repeated,
// made as it is read, so that gigabytes cost no memory. Byte j of the
// block is the top byte of j*2654435761 mod 2^32 (Knuth's multiplicative
// hash: no run of equal bytes), so that a test can compute the digest of
// what was sent, in Python as
// bytes(((j * 2654435761) & 0xffffffff) >> 24 for j in range(65536)).
type pattern struct {
	left  int64
	block []byte
	off   int
}

func newPattern(size int64) *pattern {
	b := make([]byte, 64<<10)
	for j := range b {
		b[j] = byte(uint32(j) * 2654435761 >> 24)
	}
	return &pattern{left: size, block: b}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n := 0
	for n < len(b) {
		k := copy(b[n:], p.block[p.off:])
		n += k
		p.off = (p.off + k) % len(p.block)
	}
	p.left -= int64(n)
	return n, nil
}

// transfer is a large transfer's common part: its flags and its line.
type transfer struct {
	common
	status int
	ctx    context.Context
	rt     *http3.RoundTripper
}

func (x *transfer) setup(fs *flag.FlagSet, args []string) string {
	x.register(fs)
	fs.IntVar(&x.status, "status", 200, "the status the response must have")
	urls := parse(fs, args)
	if len(urls) != 1 {
		usage()
	}
	x.ctx = x.start()
	x.rt = roundTripper(&x.common, &dialer{addr: x.addr}, x.tlsConfig())
	return urls[0]
}

// finish reads rsp's body whole, checks its status and returns its size,
// its digest and its first bytes when it is short.
func (x *transfer) finish(rsp *http.Response, h hash.Hash) (int64, string) {
	defer rsp.Body.Close()
	var head strings.Builder
	n, err := io.Copy(io.MultiWriter(h, &limitWriter{&head, 256}), rsp.Body)
	if err != nil {
		fail("response body after %d bytes: %s", n, errString(x.ctx, err))
	}
	if rsp.StatusCode != x.status {
		fail("status %d, not %d", rsp.StatusCode, x.status)
	}
	short := ""
	if n <= 256 {
		short = " body=" + strconv.Quote(head.String())
	}
	return n, short
}

func rate(n int64, d time.Duration) string {
	return fmt.Sprintf("elapsed_ms=%d mbps=%.1f", d.Milliseconds(),
		float64(n)*8/1e6/d.Seconds())
}

// upload -size BYTES URL: a POST of BYTES, streamed:
//
//	uploaded=N sha256=H status=200 response_bytes=M elapsed_ms=... mbps=... [body="..."]
func uploadMain(args []string) {
	var x transfer
	var size int64
	fs := flag.NewFlagSet("upload", flag.ContinueOnError)
	fs.Int64Var(&size, "size", 0, "bytes to send")
	url := x.setup(fs, args)
	if size < 0 {
		usage()
	}
	sent := sha256.New()
	var count countReader
	count.r = io.TeeReader(newPattern(size), sent)
	req, err := http.NewRequestWithContext(x.ctx, http.MethodPost, url, &count)
	if err != nil {
		fail("%v", err)
	}
	req.ContentLength = size
	t0 := time.Now()
	rsp, err := x.rt.RoundTrip(req)
	if err != nil {
		fail("POST %s: %s", url, errString(x.ctx, err))
	}
	m, short := x.finish(rsp, sha256.New())
	d := time.Since(t0)
	x.rt.Close()
	if count.n != size {
		fail("%d bytes of the body sent, not %d", count.n, size)
	}
	fmt.Printf("uploaded=%d sha256=%s status=%d response_bytes=%d %s%s\n",
		size, hex.EncodeToString(sent.Sum(nil)), rsp.StatusCode, m,
		rate(size, d), short)
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// download URL: a GET, its body counted and digested:
//
//	bytes=N sha256=H status=200 elapsed_ms=... mbps=... [body="..."]
func downloadMain(args []string) {
	var x transfer
	fs := flag.NewFlagSet("download", flag.ContinueOnError)
	url := x.setup(fs, args)
	t0 := time.Now()
	rsp, err := x.rt.RoundTrip(newRequest(x.ctx, http.MethodGet, url))
	if err != nil {
		fail("GET %s: %s", url, errString(x.ctx, err))
	}
	h := sha256.New()
	n, short := x.finish(rsp, h)
	d := time.Since(t0)
	x.rt.Close()
	fmt.Printf("bytes=%d sha256=%s status=%d %s%s\n", n,
		hex.EncodeToString(h.Sum(nil)), rsp.StatusCode, rate(n, d), short)
}
