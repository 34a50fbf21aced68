"""A loopback E-goi REST look-alike that fails on purpose, for the retry
policy specs. The URL query picks the behaviour for a named scenario:

  /v2/rest.php?tag=T&mode=500&n=2   first n requests of tag T answer HTTP 500
  /v2/rest.php?tag=T&mode=stall&n=1 first n requests stall (never answered)
  /v2/rest.php?tag=T&mode=drop&n=1  first n requests are read, then the
                                    connection is closed without an answer
  /v2/rest.php?tag=T&mode=internal&n=1  first n answer ERROR INTERNAL_ERROR

after which requests succeed. /count?tag=T answers how many requests of tag
T arrived, per method, as JSON. Usage: flaky.py PORT
"""
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTS = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        tag = q.get("tag", [""])[0]
        with LOCK:
            self.answer(200, json.dumps(COUNTS.get(tag, {})))

    def do_POST(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        length = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        method = form.get("method", ["?"])[0]
        tag, mode, n = q.get("tag", [""])[0], q.get("mode", [""])[0], int(q.get("n", ["0"])[0])
        with LOCK:
            per = COUNTS.setdefault(tag, {})
            per[method] = per.get(method, 0) + 1
            seen = sum(per.values())
        if seen <= n:
            if mode == "500":
                return self.answer(500, "server error")
            if mode == "stall":
                time.sleep(5)
                self.close_connection = True
                return
            if mode == "drop":
                self.close_connection = True
                return
            if mode == "internal":
                return self.answer(200, json.dumps(
                    {"Egoi_Api": {method: {"ERROR": "INTERNAL_ERROR", "status": "success"}}}))
        result = {"key_0": {"listnum": "1", "title": "ok"}, "status": "success"}
        if method == "sendEmail":
            result = {"ID": "h1", "status": "success"}
        self.answer(200, json.dumps({"Egoi_Api": {method: result}}))


class Server(ThreadingHTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
