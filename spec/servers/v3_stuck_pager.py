#!/usr/bin/env python3
"""A v3 server that ignores `offset`, for the paging specs.

    python3 spec/servers/v3_stuck_pager.py <port>

Listens on 127.0.0.1:<port>. Every GET except /__count is answered 200 with the same JSON page
of three items and no total_items, whatever its query asks. GET /__count answers how many such
pages it has served.
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = json.dumps({"items": [
    {"tag_id": 1, "name": "one", "color": "#000000"},
    {"tag_id": 2, "name": "two", "color": "#000000"},
    {"tag_id": 3, "name": "three", "color": "#000000"},
]}).encode()
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
        if self.path == "/__count":
            with LOCK:
                n = SERVED[0]
            self._answer("text/plain", ("%d\n" % n).encode())
            return
        with LOCK:
            SERVED[0] += 1
        self._answer("application/json", PAGE)


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
