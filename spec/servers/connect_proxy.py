#!/usr/bin/env python3
"""A proxy that refuses every request and prints what it was asked.

    python3 spec/servers/connect_proxy.py <port>

Listens on 127.0.0.1:<port>; for each connection reads the request head (a
CONNECT for https:// targets, an absolute-URL request for http://), prints it
to stdout followed by a line "--", and answers 403 with an empty body.
"""
import socket
import sys

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1])))
srv.listen(16)
while True:
    conn, _ = srv.accept()
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            break
        head += chunk
    sys.stdout.write(head.split(b"\r\n\r\n")[0].decode("latin-1") + "\n--\n")
    sys.stdout.flush()
    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    conn.close()
