// SPDX-License-Identifier: MIT

// fetch: requests made as a browser or an API client makes them, by name:
// the connection's SNI, each request's :authority, its fields, its method
// and its body all the caller's, whatever address is dialled.

package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// fields is -H, repeated: each "Name: value" one field line, in order.
type fields []string

func (f *fields) String() string { return strings.Join(*f, "; ") }

func (f *fields) Set(v string) error {
	i := strings.IndexByte(v, ':')
	if i <= 0 {
		return fmt.Errorf("%q: not Name: value", v)
	}
	*f = append(*f, v)
	return nil
}

// names is a repeated flag's values, in order.
type names []string

func (v *names) String() string { return strings.Join(*v, " ") }

func (v *names) Set(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	*v = append(*v, s)
	return nil
}

// answer is one response, printed as one JSON line.
type answer struct {
	N         int                 `json:"n"`
	URL       string              `json:"url"`
	Authority string              `json:"authority"`
	Status    int                 `json:"status"`
	Proto     string              `json:"proto"`
	Headers   map[string][]string `json:"headers"`
	Body      string              `json:"body"`
	BodyLen   int                 `json:"body_len"`
	// the DNS names of the certificate the connection was given, which
	// tells which of a listener's certificates SNI chose
	Cert []string `json:"cert"`
}

// fetch [-sni NAME | -no-sni] [-authority HOST[:PORT]]... [-H 'Name: value']...
// [-method M] [-data BODY | -data-file FILE] [-n N] URL...: each URL
// requested -n times with each -authority in turn (A B A B ... ), one
// request after the other, on one connection a URL host (quic-go's
// http3.RoundTripper: the URL's host names the connection, -authority
// only the request), each answer a JSON line:
//
//	{"n":1,"url":...,"authority":...,"status":200,"proto":"HTTP/3.0",
//	 "headers":{"content-type":["..."]},"body":"...","body_len":N,
//	 "cert":["pay.test"]}
//
// then "connections=K". Any status is an answer; a request that gets none
// fails the run.
func fetchMain(args []string) {
	var c common
	var hs fields
	var auths names
	var sni, method, data, dataFile string
	var noSNI bool
	var n int
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	c.register(fs)
	fs.StringVar(&sni, "sni", "", "the name sent by SNI (default: the URL's host)")
	fs.BoolVar(&noSNI, "no-sni", false, "send no SNI (the certificate still verified for the URL's host)")
	fs.Var(&auths, "authority", "a request's :authority (default: the URL's HOST:PORT); repeated, one request each in turn")
	fs.Var(&hs, "H", "a request field, 'Name: value'; repeat for more (two Cookie: two field lines)")
	fs.StringVar(&method, "method", http.MethodGet, "the requests' method")
	fs.StringVar(&data, "data", "", "the requests' body")
	fs.StringVar(&dataFile, "data-file", "", "a file whose bytes are the requests' body")
	fs.IntVar(&n, "n", 1, "requests of each URL, one after the other")
	urls := parse(fs, args)
	if len(urls) == 0 || n < 1 || (sni != "" && noSNI) ||
		(data != "" && dataFile != "") {
		usage()
	}
	body := []byte(data)
	if dataFile != "" {
		b, err := os.ReadFile(dataFile)
		if err != nil {
			fail("%v", err)
		}
		body = b
	}
	ctx := c.start()
	t := c.tlsConfig()
	if sni != "" {
		t.ServerName = sni
	}
	d := &dialer{addr: c.addr, noSNI: noSNI}
	rt := roundTripper(&c, d, t)
	// only the fields asked for: no Accept-Encoding of quic-go's own
	rt.DisableCompression = true
	if noSNI && !c.insecure {
		// Go verifies the certificate for ServerName, which no SNI
		// leaves to an address: the URL's host is checked here
		verifyFor(t, urls)
	}

	if len(auths) == 0 {
		auths = names{""}
	}
	k := 0
	for _, u := range urls {
		for i := 0; i < n*len(auths); i++ {
			authority := auths[i%len(auths)]
			k++
			var rd io.Reader
			if len(body) > 0 {
				rd = bytes.NewReader(body)
			}
			req, err := http.NewRequestWithContext(ctx, method, u, rd)
			if err != nil {
				fail("%v", err)
			}
			if authority != "" {
				req.Host = authority
			}
			for _, h := range hs {
				i := strings.IndexByte(h, ':')
				req.Header.Add(strings.TrimSpace(h[:i]),
					strings.TrimSpace(h[i+1:]))
			}
			rsp, err := rt.RoundTrip(req)
			if err != nil {
				fail("%s %s (request %d): %s", method, u, k,
					errString(ctx, err))
			}
			b, err := io.ReadAll(rsp.Body)
			rsp.Body.Close()
			if err != nil {
				fail("%s %s (request %d): body: %s", method, u, k,
					errString(ctx, err))
			}
			a := answer{N: k, URL: u, Authority: req.Host,
				Status: rsp.StatusCode, Proto: rsp.Proto,
				Headers: map[string][]string{}, Body: string(b),
				BodyLen: len(b), Cert: []string{}}
			if a.Authority == "" {
				a.Authority = req.URL.Host
			}
			for name, vs := range rsp.Header {
				a.Headers[strings.ToLower(name)] = vs
			}
			if rsp.TLS != nil && len(rsp.TLS.PeerCertificates) > 0 {
				a.Cert = append(a.Cert,
					rsp.TLS.PeerCertificates[0].DNSNames...)
			}
			line, err := json.Marshal(a)
			if err != nil {
				fail("%v", err)
			}
			fmt.Printf("%s\n", line)
		}
	}
	rt.Close()
	fmt.Printf("connections=%d\n", len(d.connections()))
}

// verifyFor makes t verify the server's chain for the host of the URLs
// (all the same) itself: with no SNI, ServerName holds an address.
func verifyFor(t *tls.Config, urls []string) {
	host := ""
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			fail("%v", err)
		}
		if host != "" && u.Hostname() != host {
			fail("-no-sni with a -cacert: one host for every URL")
		}
		host = u.Hostname()
	}
	roots := t.RootCAs
	t.InsecureSkipVerify = true
	t.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, DNSName: host,
			Intermediates: x509.NewCertPool()}
		for _, ic := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(ic)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
}

// sniNone is the ServerName that makes Go send no SNI: the dialled
// address (qtls leaves an address out of SNI, RFC 6066 section 3).
func sniNone(target string) (string, error) {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return "", err
	}
	if net.ParseIP(host) == nil {
		return "", fmt.Errorf("-no-sni needs an address to dial, not %q", host)
	}
	return host, nil
}
