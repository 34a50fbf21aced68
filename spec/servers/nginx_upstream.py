#!/usr/bin/env python3
"""Loopback upstream for spec/nginx_spec.lua (threaded HTTP/1.1, keep-alive).

    python3 spec/servers/nginx_upstream.py <port>

Paths (query ?delay=S sleeps S seconds before answering):
  /api        E-goi REST envelope {"Egoi_Api":{<method>:{...,"status":"success"}}},
              Content-Length; the arrival time is recorded
  /log        the recorded arrival times, one per line (time.time(), 6 decimals)
  /chunked    the same envelope with Transfer-Encoding: chunked (several chunks)
  /close      a body without Content-Length, then the connection is closed
  /big?n=N    N bytes of 'x' with Content-Length
  /retry      429 with Retry-After: 7
  /nothing    closes the connection without answering
  /partial    Content-Length 100, 10 bytes, then close
"""
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit, unquote_plus

ARRIVALS = []
LOCK = threading.Lock()


def envelope(method):
    return json.dumps({"Egoi_Api": {method: {"FIRST_NAME": "Upstream", "status": "success"}}})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_body(self, status, body, ctype="application/json", extra=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        arrived = time.time()
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        m = re.search(r"(?:^|&)method=([^&]*)", body)
        method = unquote_plus(m.group(1)) if m else "getUserData"
        delay = float(query.get("delay", ["0"])[0])
        path = parts.path
        if path == "/log":
            with LOCK:
                times = sorted(ARRIVALS)
            self.send_body(200, "".join("%.6f\n" % t for t in times), "text/plain")
            return
        if path == "/api":
            with LOCK:
                ARRIVALS.append(arrived)
        if delay > 0:
            time.sleep(delay)
        if path == "/api":
            self.send_body(200, envelope(method))
        elif path == "/chunked":
            data = envelope(method).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 7):
                piece = data[i:i + 7]
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")
        elif path == "/close":
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(envelope(method).encode())
        elif path == "/big":
            self.send_body(200, "x" * int(query.get("n", ["100000"])[0]), "text/plain")
        elif path == "/retry":
            self.send_body(429, "slow down", "text/plain", {"Retry-After": "7"})
        elif path == "/nothing":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif path == "/partial":
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"0123456789")
        else:
            self.send_body(404, "not found", "text/plain")

    do_GET = handle_any
    do_POST = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    port = int(sys.argv[1])
    server = Server(("127.0.0.1", port), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
