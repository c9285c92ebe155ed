// SPDX-License-Identifier: MIT

// Package sluicehook sets the two knobs of quic-go 0.29 that its public
// API does not offer and that the interop cases need. Both live in
// quic-go's internal packages, which Go lets only packages under
// github.com/lucas-clemente/quic-go import. build.sh therefore places this
// file, and only this file, at github.com/lucas-clemente/quic-go/sluicehook
// in a GOPATH of its own inside the build directory (the rest of that tree
// is symbolic links to Debian's unmodified source), the same way quic-go's
// own interop client (interop/client/main.go) sets them from inside the
// module. slquic itself stays an ordinary program that imports this
// package. Call either before the first connection is dialled: quic-go
// reads both when a connection is created.
package sluicehook

import (
	"github.com/lucas-clemente/quic-go/internal/handshake"
	"github.com/lucas-clemente/quic-go/internal/protocol"
)

// SetKeyUpdateInterval makes every connection created afterwards start a
// key update once it has sent or received n 1-RTT packets with the
// current keys (and the handshake is confirmed, and, after the first
// update, a packet of the current phase has been acknowledged): RFC 9001
// 6. quic-go's default is 100,000 packets, more than a test ever sends.
func SetKeyUpdateInterval(n uint64) {
	handshake.KeyUpdateInterval = n
}

// AllowVersion lets quic.Config.Versions name v, a version quic-go does
// not implement, so that a client can offer it first: quic-go refuses to
// dial with a version outside protocol.SupportedVersions. A reserved
// version (RFC 9000 15: 0x?a?a?a?a) offered first must be answered with
// Version Negotiation; quic-go then picks the next version of the config
// the server listed and dials again. Only the client's Initial carries v;
// quic-go protects it as a version 1 packet, which the server never reads.
func AllowVersion(v uint32) {
	pv := protocol.VersionNumber(v)
	for _, s := range protocol.SupportedVersions {
		if s == pv {
			return
		}
	}
	// appended, so that a server in this process (none in slquic) would
	// still prefer the real versions
	protocol.SupportedVersions = append(protocol.SupportedVersions, pv)
}
