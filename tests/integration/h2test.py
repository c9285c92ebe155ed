# SPDX-License-Identifier: MIT
"""An HTTP/2 client for the integration tests: Debian's python3-h2 (for
/usr/bin/python3) over a plain or TLS socket, with the events of each
stream kept, and raw frames for the attacks that a well-behaved library
will not send (hand-made with struct and hpack)."""

import socket
import ssl
import struct
import time

try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
    import h2.settings
    import hpack
    HAVE_H2 = True
except ImportError:  # pragma: no cover
    HAVE_H2 = False

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types and flags (RFC 9113 section 6)
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, \
    GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20

NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0, 1, 2, 3
REFUSED_STREAM, CANCEL, ENHANCE_YOUR_CALM = 7, 8, 11


def frame(ftype, flags, stream, payload=b""):
    """One frame's bytes."""
    n = len(payload)
    return struct.pack(">BHBBI", n >> 16, n & 0xffff, ftype, flags,
                       stream & 0x7fffffff) + payload


def settings_frame(pairs=(), ack=False):
    return frame(SETTINGS, ACK if ack else 0, 0,
                 b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def parse_frames(buf):
    """Whole frames at the front of buf: ([(type, flags, stream,
    payload)], bytes left)."""
    out = []
    while len(buf) >= 9:
        n = (buf[0] << 16) | (buf[1] << 8) | buf[2]
        if len(buf) < 9 + n:
            break
        ftype, flags = buf[3], buf[4]
        sid = struct.unpack(">I", buf[5:9])[0] & 0x7fffffff
        out.append((ftype, flags, sid, bytes(buf[9:9 + n])))
        buf = buf[9 + n:]
    return out, buf


class Stream:
    def __init__(self, sid):
        self.id = sid
        self.headers = None      # final response fields, [(name, value)]
        self.interim = []        # [[(name, value)], ...]
        self.body = bytearray()
        self.trailers = None
        self.data_frames = []    # [(payload bytes, END_STREAM)], a DATA each
        self.ended = False
        self.reset = None        # error code of a RST_STREAM received

    @property
    def status(self):
        return int(self.header(":status", "0")) if self.headers else None

    def header(self, name, default=None):
        for k, v in self.headers or []:
            if k == name:
                return v
        return default

    def done(self):
        return self.ended or self.reset is not None


class H2Client:
    """One HTTP/2 connection (prior knowledge on plain TCP, ALPN h2 on
    TLS). Events are gathered per stream; goaway holds the GOAWAYs
    received as (last_stream_id, error_code)."""

    def __init__(self, port, tls=False, sni=None, cafile=None, host=None,
                 settings=None, validate=True, timeout=10.0,
                 auto_window=True):
        self.port = port
        self.host = host or "127.0.0.1:%d" % port
        self.timeout = timeout
        self.auto_window = auto_window
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ssl.create_default_context(cafile=cafile)
            if cafile is None:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            raw = ctx.wrap_socket(raw, server_hostname=sni)
            self.alpn = raw.selected_alpn_protocol()
        else:
            self.alpn = None
        self.sock = raw
        cfg = h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8",
            validate_outbound_headers=validate,
            normalize_outbound_headers=validate,
            validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.local_settings = h2.settings.Settings(
            client=True, initial_values=settings or {})
        self.conn.initiate_connection()
        self.streams = {}
        self.goaway = []
        self.closed = False
        self.pings = 0
        self.flush()

    # -- output
    def flush(self):
        d = self.conn.data_to_send()
        if d:
            self.sock.sendall(d)

    def send_raw(self, b):
        self.sock.sendall(b)

    def request(self, method="GET", path="/", headers=(), body=None,
                end=True, authority=True, trailers=None, scheme="http"):
        sid = self.conn.get_next_available_stream_id()
        hs = [(":method", method), (":scheme", scheme), (":path", path)]
        if authority:
            hs.append((":authority",
                       self.host if authority is True else authority))
        hs += list(headers)
        no_body = body is None and trailers is None
        self.streams[sid] = Stream(sid)
        self.conn.send_headers(sid, hs, end_stream=end and no_body)
        self.flush()
        if body is not None:
            self.send_body(sid, body, end=end and trailers is None)
        if trailers is not None:
            self.conn.send_headers(sid, list(trailers), end_stream=True)
            self.flush()
        return sid

    def send_body(self, sid, body, end=True):
        """Sends body on stream sid as the windows allow (reading while
        they are shut)."""
        off = 0
        while True:
            room = min(self.conn.local_flow_control_window(sid),
                       self.conn.max_outbound_frame_size)
            if off >= len(body):
                if end:
                    self.conn.end_stream(sid)
                    self.flush()
                return
            if room <= 0:
                self.flush()
                if not self.pump(0.5) and self.closed:
                    raise ConnectionError("closed while sending a body")
                continue
            n = min(room, len(body) - off)
            self.conn.send_data(sid, body[off:off + n])
            off += n
            self.flush()

    # -- input
    def pump(self, timeout=None):
        """Reads once (up to timeout) and handles what came. Returns
        whether anything came."""
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            d = self.sock.recv(262144)
        except (socket.timeout, BlockingIOError, ssl.SSLWantReadError):
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            d = b""
        if not d:
            self.closed = True
            return False
        try:
            events = self.conn.receive_data(d)
        except h2.exceptions.ProtocolError:
            self.closed = True
            return True
        for e in events:
            self._event(e)
        try:
            self.flush()
        except OSError:
            self.closed = True
        return True

    def _event(self, e):
        st = self.streams.get(getattr(e, "stream_id", None))
        if isinstance(e, h2.events.ResponseReceived):
            st.headers = e.headers
        elif isinstance(e, h2.events.InformationalResponseReceived):
            st.interim.append(e.headers)
        elif isinstance(e, h2.events.DataReceived):
            if st is not None:
                st.body += e.data
                st.data_frames.append((len(e.data),
                                       e.stream_ended is not None))
            if self.auto_window and e.flow_controlled_length:
                try:
                    self.conn.acknowledge_received_data(
                        e.flow_controlled_length, e.stream_id)
                except (h2.exceptions.StreamClosedError,
                        h2.exceptions.ProtocolError):
                    pass
        elif isinstance(e, h2.events.TrailersReceived):
            st.trailers = e.headers
        elif isinstance(e, h2.events.StreamEnded):
            if st is not None:
                st.ended = True
        elif isinstance(e, h2.events.StreamReset):
            if st is not None:
                st.reset = e.error_code
        elif isinstance(e, h2.events.ConnectionTerminated):
            self.goaway.append((e.last_stream_id, e.error_code))
        elif isinstance(e, h2.events.PingAckReceived):
            self.pings += 1

    def wait(self, pred, timeout=None):
        """Reads until pred() holds; False after timeout (or a close
        without it)."""
        end = time.monotonic() + (self.timeout if timeout is None
                                  else timeout)
        while not pred():
            left = end - time.monotonic()
            if left <= 0:
                return False
            self.pump(min(left, 0.5))
            if self.closed and not pred():
                return False
        return True

    def response(self, sid, timeout=None):
        st = self.streams[sid]
        if not self.wait(st.done, timeout):
            raise AssertionError("stream %d: no response (closed=%s, "
                                 "goaway=%r)" % (sid, self.closed,
                                                 self.goaway))
        return st

    def get(self, path="/", headers=(), timeout=None, **kw):
        return self.response(self.request("GET", path, headers, **kw),
                             timeout)

    def wait_closed(self, timeout=None):
        return self.wait(lambda: self.closed, timeout)

    def close(self):
        try:
            self.conn.close_connection()
            self.flush()
        except Exception:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


class RawH2:
    """A raw HTTP/2 connection for hand-made frames: the preface and an
    empty SETTINGS are sent, frames are read and parsed, SETTINGS are
    acknowledged (unless told not to)."""

    def __init__(self, port, timeout=10.0, settings=(), ack=True):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.ack = ack
        self.buf = b""
        self.frames = []
        self.closed = False
        self.enc = hpack.Encoder()
        self.sent = 0
        self.send(PREFACE + settings_frame(settings))

    def send(self, b):
        """Sends b; False when the connection is gone."""
        try:
            self.sock.sendall(b)
            self.sent += len(b)
            return True
        except OSError:
            self.closed = True
            return False

    def headers(self, sid, fields, end_stream=True, end_headers=True,
                extra_flags=0):
        block = self.enc.encode(fields)
        flags = (END_STREAM if end_stream else 0) | \
            (END_HEADERS if end_headers else 0) | extra_flags
        return frame(HEADERS, flags, sid, block)

    def req_fields(self, path="/", method="GET", extra=()):
        return [(":method", method), (":scheme", "http"), (":path", path),
                (":authority", "test.local")] + list(extra)

    def read(self, timeout=0.5):
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(262144)
        except (socket.timeout, BlockingIOError):
            return False
        except OSError:
            d = b""
        if not d:
            self.closed = True
            return False
        self.buf += d
        fr, self.buf = parse_frames(self.buf)
        for f in fr:
            if f[0] == SETTINGS and not (f[1] & ACK) and self.ack:
                self.send(settings_frame(ack=True))
            if f[0] == PING and not (f[1] & ACK) and self.ack:
                self.send(frame(PING, ACK, 0, f[3]))
        self.frames += fr
        return True

    def wait(self, pred, timeout=None):
        end = time.monotonic() + (self.timeout if timeout is None
                                  else timeout)
        while not pred():
            left = end - time.monotonic()
            if self.closed:
                self.drain()
                return pred()
            if left <= 0:
                return pred()
            self.read(min(left, 0.5))
        return True

    def drain(self):
        """Reads what the socket still holds once the connection is gone:
        a send that failed (sluice closed while a flood was still being
        written) marks it closed with sluice's last frames, its GOAWAY,
        unread in the receive queue, which the kernel still gives before
        the reset. A loaded machine made that race a flake."""
        while True:
            self.sock.settimeout(0.2)
            try:
                d = self.sock.recv(262144)
            except (socket.timeout, BlockingIOError, OSError):
                return
            if not d:
                return
            self.buf += d
            fr, self.buf = parse_frames(self.buf)
            self.frames += fr

    def goaways(self):
        """[(last_stream_id, error_code)] of the GOAWAYs read."""
        return [struct.unpack(">II", p[:8]) for t, _, _, p in self.frames
                if t == GOAWAY]

    def resets(self):
        """{stream: error_code} of the RST_STREAMs read."""
        return {sid: struct.unpack(">I", p[:4])[0]
                for t, _, sid, p in self.frames if t == RST_STREAM}

    def statuses(self):
        """{stream: status} of the response HEADERS read (decoded)."""
        dec = hpack.Decoder()
        out = {}
        for t, flags, sid, p in self.frames:
            if t != HEADERS:
                continue
            if flags & PADDED:
                p = p[1:len(p) - p[0]]
            if flags & PRIO:
                p = p[5:]
            for k, v in dec.decode(p):
                k = k.decode() if isinstance(k, bytes) else k
                v = v.decode() if isinstance(v, bytes) else v
                if k == ":status":
                    out.setdefault(sid, []).append(int(v))
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
