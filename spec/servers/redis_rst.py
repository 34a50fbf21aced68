#!/usr/bin/env python3
"""A broken "Redis" for the limiter's reset-connection spec.

    python3 spec/servers/redis_rst.py <port>

Listens on 127.0.0.1:<port>. Each connection: answers the first command
with an error reply (a client keeps the connection after that) and resets
the connection (SO_LINGER 0) at once, so the client's next command, a
moment later, meets a reset connection (ECONNRESET, and EPIPE/SIGPIPE on any
further write to it).
"""
import socket
import struct
import sys


def main():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(sys.argv[1])))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        try:
            conn.recv(65536)
            conn.sendall(b"-ERR not really redis\r\n")
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        conn.close()


if __name__ == "__main__":
    main()
