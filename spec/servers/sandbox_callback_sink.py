#!/usr/bin/env python3
"""Tiny HTTP sink for sandbox callback specs: appends each POST body as one
JSON line {"path":..., "ctype":..., "body":...} to the file given as argv[2];
listens on 127.0.0.1:argv[1]. Answers 200 with an empty body."""
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace")
        with open(sys.argv[2], "a", encoding="utf-8") as f:
            f.write(json.dumps({"path": self.path, "ctype": self.headers.get("Content-Type"),
                                "body": body}) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
