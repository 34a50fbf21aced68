#!/usr/bin/env python3
"""A slow E-goi v2 REST stand-in for the interrupt specs.

    python3 spec/servers/slow.py <port> <delay-seconds> [429]

Listens on 127.0.0.1:<port>. Every request is logged to $EGOI_SERVER_DIR/requests
("arrived <verb> <method>", written and flushed as soon as its body has been read),
then answered after <delay-seconds> with a v2 REST success envelope for the method
the form names (createList gets LIST_ID 7, or ERROR NO_ACCESS for a list named
"Refused"; anything else an empty result);
"answering <method>" is logged just before the answer is written, so a client that
ended after it had its answer can only have ended after that line. GET /log answers
the log at once. With "429" every request is answered after the delay with HTTP 429
and Retry-After: 600 instead.
"""
import os
import sys
import threading
import time
import json
from urllib.parse import parse_qs, urlsplit
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = os.path.join(os.environ.get("EGOI_SERVER_DIR", "."), "requests")
LOCK = threading.Lock()
DELAY = 20.0
TOO_MANY = False


def log(line):
    with LOCK:
        with open(LOG, "a") as f:
            f.write(line + "\n")
            f.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep the spec output quiet
        pass

    def _send(self, data, status=200):
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "600")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _handle(self):
        url = urlsplit(self.path)
        if url.path == "/log":
            try:
                with open(LOG, "rb") as f:
                    data = f.read()
            except OSError:
                data = b""
            self._send(data)
            return
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n > 0 else ""
        form = parse_qs(url.query)
        form.update(parse_qs(body))
        method = (form.get("method") or ["?"])[0]
        log("arrived %s %s" % (self.command, method))
        time.sleep(DELAY)
        result = {"LIST_ID": "7"} if method == "createList" else {}
        if "Refused" in body:
            result = {"ERROR": "NO_ACCESS"}
        result["status"] = "success"
        data = json.dumps({"Egoi_Api": {method: result}}).encode()
        log("answering %s" % method)
        try:
            self._send(data, 429 if TOO_MANY else 200)
        except OSError:
            pass  # the client hung up

    do_GET = _handle
    do_POST = _handle


def main():
    global DELAY, TOO_MANY
    port = int(sys.argv[1])
    DELAY = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    TOO_MANY = len(sys.argv) > 3 and sys.argv[3] == "429"
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
