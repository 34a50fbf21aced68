#!/usr/bin/env python3
"""Counting HTTP/1.1 server for the rate-limit specs.

    python3 spec/servers/counter.py <port>

Listens on 127.0.0.1:<port>. Every request except GET /log is answered
200 "ok" and its arrival time (time.time(), taken as soon as the request
line and headers have been read) is recorded. GET /log answers the recorded
arrival times, one per line, oldest first, with 6 decimals.
"""
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARRIVALS = []
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep the spec output quiet
        pass

    def _answer(self, body):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        arrived = time.time()
        if self.path == "/log":
            with LOCK:
                times = sorted(ARRIVALS)
            self._answer("".join("%.6f\n" % t for t in times))
            return
        with LOCK:
            ARRIVALS.append(arrived)
        self._answer("ok\n")

    do_POST = do_GET


def main():
    port = int(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
