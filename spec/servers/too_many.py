"""A loopback E-goi REST look-alike that answers HTTP 429 on purpose, for
spec/limiter_429_spec.lua:

  POST /v2/rest.php?tag=T&n=N&ra=S    the first N requests of tag T answer 429
                                      with Retry-After: S (seconds)
  POST /v2/rest.php?tag=T&n=N&date=S  ... with Retry-After: <HTTP date S s ahead>
  POST /v2/rest.php?tag=T&n=N         ... with no Retry-After

after which requests answer a getLists success. GET /count?tag=T answers how
many requests of tag T arrived. Usage: too_many.py PORT
"""
import sys
import threading
import time
import urllib.parse
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTS = {}
OK_BODY = '{"Egoi_Api":{"getLists":{"key_0":{"listnum":"1"},"status":"success"}}}'


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, headers=None):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path == "/count":
            with LOCK:
                self.answer(200, str(COUNTS.get(q.get("tag", [""])[0], 0)))
        else:
            self.answer(404, "{}")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        tag = q.get("tag", [""])[0]
        n = int(q.get("n", ["0"])[0])
        with LOCK:
            COUNTS[tag] = COUNTS.get(tag, 0) + 1
            seen = COUNTS[tag]
        if seen <= n:
            headers = {}
            if "ra" in q:
                headers["Retry-After"] = q["ra"][0]
            elif "date" in q:
                headers["Retry-After"] = formatdate(time.time() + float(q["date"][0]), usegmt=True)
            self.answer(429, '{"error":"too many requests"}', headers)
        else:
            self.answer(200, OK_BODY)


if __name__ == "__main__":
    srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    srv.daemon_threads = True
    srv.serve_forever()
