#!/usr/bin/env python3
"""misbehave.py - an HTTP/1.1 server on loopback that answers well or badly
on purpose, for the transport specs.

    python3 spec/servers/misbehave.py PORT [CERTFILE KEYFILE]

With CERTFILE and KEYFILE it speaks HTTPS (TLS handshake done in the
connection's own thread). Keep-alive works (protocol_version HTTP/1.1).

Paths (any method; a request body is read first, at most MAX_BODY bytes):
  /ok          200 JSON getLists answer; X-Method, X-Content-Type,
               X-User-Agent, X-Body-Length, X-Connection echo the request
  /echo        200, the raw request body; X-Request-Content-Type,
               X-Method, X-User-Agent echo the request
  /headers     200 JSON {"method", "headers" (lower-case names), "body_length",
               "connection" (this TCP connection's number)}
  /slow?s=N    sleeps N seconds (at most 30) then answers like /ok
  /hang        never answers; holds the socket until the client goes away
               (at most 60 s)
  /garbage     200 with bytes that are not JSON
  /truncated   Content-Length: 1000, sends 10 bytes, closes
  /close       reads the request, closes without answering
  /500         HTTP 500 with a small body
  /big?n=B     200 with B bytes (at most 512 MiB)
  /gzip?n=B    gzip-encoded body: the /ok JSON, or B zero bytes when n given
  /redirect    302 to /ok
  /stats       JSON {"connections": C, "requests": R}: TCP connections
               accepted so far (including the one asking) and requests
               served before this one (/stats requests not counted)
"""
import gzip
import json
import select
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 64 * 1024 * 1024
MAX_BIG = 512 * 1024 * 1024
OK_JSON = b'{"Egoi_Api":{"getLists":{"key_0":{"listnum":"1"},"status":"success"}}}'
CHUNK = 64 * 1024


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = 0

    def connection(self):
        with self.lock:
            self.connections += 1
            return self.connections

    def request(self):
        with self.lock:
            self.requests += 1

    def snapshot(self):
        with self.lock:
            return {"connections": self.connections, "requests": self.requests}


STATS = Stats()


def qint(query, name, default, limit):
    try:
        v = int(float(query.get(name, [str(default)])[0]))
    except ValueError:
        v = default
    return max(0, min(v, limit))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "misbehave/1"
    timeout = 120  # idle keep-alive connections end eventually

    def setup(self):
        super().setup()
        self.conn_id = STATS.connection()

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def read_body(self):
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        try:
            n = int(n)
        except ValueError:
            return None
        if n < 0 or n > MAX_BODY:
            return None
        return self.rfile.read(n)

    def send(self, status, body, ctype="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def echo_headers(self, body):
        return {
            "X-Method": self.command,
            "X-Content-Type": self.headers.get("Content-Type", ""),
            "X-User-Agent": self.headers.get("User-Agent", ""),
            "X-Body-Length": str(len(body)),
            "X-Expect": self.headers.get("Expect", ""),
            "X-Accept-Encoding": self.headers.get("Accept-Encoding", ""),
            "X-Test": self.headers.get("X-Test", ""),
            "X-Connection": str(self.conn_id),
        }

    def hang(self):
        sock = self.connection
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            r, _, _ = select.select([sock], [], [], 0.5)
            if r:
                try:
                    if not sock.recv(4096):
                        break
                except (OSError, ssl.SSLError):
                    break
        self.close_connection = True

    def dispatch(self):
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        body = self.read_body()
        if body is None:
            self.close_connection = True
            self.send(413, b"request body too large or bad Content-Length", "text/plain")
            return
        if path != "/stats":
            STATS.request()
        if path == "/ok":
            self.send(200, OK_JSON, extra=self.echo_headers(body))
        elif path == "/echo":
            extra = self.echo_headers(body)
            extra["X-Request-Content-Type"] = self.headers.get("Content-Type", "")
            self.send(200, body, "application/octet-stream", extra)
        elif path == "/headers":
            info = {
                "method": self.command,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_length": len(body),
                "connection": self.conn_id,
            }
            self.send(200, json.dumps(info).encode())
        elif path == "/slow":
            time.sleep(qint(query, "s", 1, 30))
            self.send(200, OK_JSON, extra=self.echo_headers(body))
        elif path == "/hang":
            self.hang()
        elif path == "/garbage":
            self.send(200, b"<html>\x00\xff not json {{{", "text/html")
        elif path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"Egoi_Api')
            self.wfile.flush()
            self.close_connection = True
        elif path == "/close":
            self.close_connection = True
        elif path == "/500":
            self.send(500, b"internal server error", "text/plain")
        elif path == "/big":
            n = qint(query, "n", 1024, MAX_BIG)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = b"x" * CHUNK
            left = n
            while left > 0:
                k = min(left, CHUNK)
                self.wfile.write(block[:k])
                left -= k
        elif path == "/gzip":
            if "n" in query:
                raw = b"\0" * qint(query, "n", 0, MAX_BIG)
            else:
                raw = OK_JSON
            self.send(200, gzip.compress(raw), extra={"Content-Encoding": "gzip"})
        elif path == "/redirect":
            self.send(302, b"moved", "text/plain", {"Location": "/ok"})
        elif path == "/stats":
            self.send(200, json.dumps(STATS.snapshot()).encode())
        else:
            self.send(404, b"not found", "text/plain")

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, BrokenPipeError, socket.timeout, ssl.SSLError, OSError):
            self.close_connection = True

    # Every method dispatches on the path alone.
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = dispatch


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    tls = None

    def finish_request(self, request, client_address):
        if self.tls is not None:
            try:
                request.settimeout(10)
                request = self.tls.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                STATS.connection()  # a connection, even if the handshake failed
                return
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            if self.tls is not None:
                try:
                    request.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        # Clients that disconnect mid-answer are part of the game: no traces.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, ssl.SSLError, OSError)):
            return
        super().handle_error(request, client_address)


def main():
    if len(sys.argv) not in (2, 4):
        sys.stderr.write("usage: misbehave.py PORT [CERTFILE KEYFILE]\n")
        return 2
    server = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    if len(sys.argv) == 4:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[2], sys.argv[3])
        server.tls = ctx
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
