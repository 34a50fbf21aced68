#!/usr/bin/env python3
"""A v3 server that answers every request with one fixed JSON body, for the paging and
decoding specs (a server that ignores `offset` answers every page alike).

    python3 spec/servers/v3_answer.py <port> <file>

Listens on 127.0.0.1:<port>; every GET, POST, PUT, PATCH or DELETE is answered 200 with the
bytes of <file> as application/json, whatever it asks. GET /__count answers how many such
answers it has given.
"""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

with open(sys.argv[2], "rb") as f:
    BODY = f.read()
SERVED = [0]
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep the spec output quiet
        pass

    def _answer(self, ctype, data):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if self.path == "/__count":
            with LOCK:
                count = SERVED[0]
            self._answer("text/plain", ("%d\n" % count).encode())
            return
        with LOCK:
            SERVED[0] += 1
        self._answer("application/json", BODY)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
