# SPDX-License-Identifier: MIT
"""Compression's output to an HTTP/2 client as payload pieces (issue 62,
item 1; doc/design-notes.md, "The message between codecs"): through the
real binary, every body decoded by Python's decoders and compared byte
for byte with what the upstream sent.

What is proved: gzip, Brotli and zstd answers to an HTTP/2 client, from
an HTTP/1.1 upstream answering with a Content-Length (one buffer, and a
body past it) or chunked with trailers, and from an h2c upstream
answering with trailers, come as DATA frames of coded bytes and nothing
else: no empty DATA frame after the last one (the last chunk's trace
when the compressor framed its output as chunks for the HTTP/2 codec to
take apart again: each answer here ended with one before), the stream's
END_STREAM on the frame with the coded body's last bytes. Their trailers
go as they go to an HTTP/1.1 client: not at all (the coded body is not
the bytes they may describe, doc/operations.md section 16.1); the same
answers not compressed carry them as a last HEADERS."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402
from sltest import Skip, check, eq, main, test  # noqa: E402

# The helpers of the compression suite and of the h2c upstreams' (Site,
# the decoders, a hand-made HTTP/2 server): imported, their tests left
# out of this run (sltest's @test registers on import).
_ours = len(sltest._tests)
from test_compress import (CODINGS, KiB, need_decoders,  # noqa: E402
                           same, start, text_body, undo)
import h2test  # noqa: E402
_ups = None
try:
    import test_h2_upstream as _ups  # noqa: E402
except ImportError:  # pragma: no cover  (python3-grpcio, hpack)
    pass
del sltest._tests[_ours:]

TRAILERS = [("x-checksum", "abc123"), ("x-rows", "4711")]


def need_h2():
    if not h2test.HAVE_H2:
        raise Skip("python3-h2 not installed")


def expect_pieces(s, coding, body, what):
    """Stream s is body compressed with coding, as pieces: coded bytes in
    DATA frames, none of them empty, END_STREAM on the last, no trailers
    and no framing field."""
    eq(s.status, 200, "%s: status" % what)
    eq(s.header("content-encoding"), coding, "%s: coding" % what)
    for name in ("content-length", "transfer-encoding", "trailer"):
        eq(s.header(name), None, "%s: %s" % (what, name))
    check("accept-encoding" in (s.header("vary") or "").lower(),
          "%s: vary" % what)
    check(s.reset is None, "%s: reset %r" % (what, s.reset))
    same(undo(coding, bytes(s.body), what), body, what)
    fr = s.data_frames
    check(fr and fr[-1][1], "%s: END_STREAM not on a DATA frame: %r"
          % (what, fr[-3:]))
    check(all(n > 0 for n, _ in fr), "%s: an empty DATA frame (of %d; "
          "the last %r): a last chunk's trace" % (what, len(fr), fr[-3:]))
    eq(s.trailers, None, "%s: trailers of a compressed answer" % what)


@test
def compressed_answers_go_to_http2_as_pieces():
    """HTTP/1.1 upstreams: a Content-Length within a buffer (compressed
    at once), one past it (a stream's compressor), and a chunked answer
    with trailers, small and large. Failed before: every answer ended
    with an empty DATA frame, the compressor's last chunk."""
    need_decoders()
    need_h2()
    gw = start(h2=True)
    small = gw.site.page("/cl", text_body(20 * KiB, 21))
    big = gw.site.page("/cl-big", text_body(700 * KiB, 22))
    gw.site.page("/chunked", big, mode="chunked", chunk_size=7000,
                 headers=[("Trailer", "X-Checksum, X-Rows")],
                 trailers=TRAILERS)
    gw.site.page("/chunked-small", small, mode="chunked", chunk_size=3000,
                 headers=[("Trailer", "X-Checksum, X-Rows")],
                 trailers=TRAILERS)
    want = {"/cl": small, "/cl-big": big, "/chunked": big,
            "/chunked-small": small}
    c = h2test.H2Client(gw.port, timeout=20.0)
    for coding in CODINGS:
        for path, body in want.items():
            s = c.get(path, [("accept-encoding", coding)])
            expect_pieces(s, coding, body, "h2 %s %s" % (coding, path))
    # not compressed: the chunked answer's trailers as a last HEADERS
    for path in ("/chunked", "/chunked-small"):
        s = c.get(path)
        eq(s.header("content-encoding"), None, path)
        same(bytes(s.body), want[path], path + " uncompressed")
        eq(s.trailers, TRAILERS, path + ": trailers uncompressed")
    c.close()
    gw.sl.stop()


def h2c_answer(body, ctype="application/json"):
    """A frame list maker for raw_h2_server: 200 with ctype, body in DATA
    frames of 10,000 bytes, the trailers as the stream's last HEADERS."""
    import hpack
    enc = hpack.Encoder()

    def frames(sid):
        out = [h2test.frame(h2test.HEADERS, h2test.END_HEADERS, sid,
                            enc.encode([(":status", "200"),
                                        ("content-type", ctype)]))]
        for i in range(0, len(body), 10000):
            out.append(h2test.frame(h2test.DATA, 0, sid,
                                    body[i:i + 10000]))
        out.append(h2test.frame(h2test.HEADERS,
                                h2test.END_HEADERS | h2test.END_STREAM,
                                sid, enc.encode(TRAILERS)))
        return out
    return frames


@test
def an_h2c_upstreams_answer_compressed_goes_as_pieces():
    """An h2c upstream's answer without a length, trailers after it: the
    compressed answer to an HTTP/2 client is pieces, without the
    trailers; not compressed, the trailers come."""
    need_decoders()
    need_h2()
    if _ups is None:
        raise Skip("test_h2_upstream's helpers (python3-grpcio) missing")
    body = text_body(50 * KiB, 23)
    addr, got = _ups.raw_h2_server([h2c_answer(body)])
    sl, port, _ = _ups.h2c_sluice([addr], route_opts={"compress": True},
                                  log=False)
    c = h2test.H2Client(port, timeout=20.0)
    for coding in CODINGS:
        s = c.get("/h2c", [("accept-encoding", coding)])
        expect_pieces(s, coding, body, "h2c upstream, %s" % coding)
    s = c.get("/h2c")
    eq(s.header("content-encoding"), None, "h2c uncompressed")
    same(bytes(s.body), body, "h2c uncompressed")
    eq(s.trailers, TRAILERS, "h2c uncompressed: trailers")
    c.close()
    eq(len(got), len(CODINGS) + 1, "requests the upstream got")
    sl.stop()


if __name__ == "__main__":
    main()
