#!/usr/bin/env python3
"""faults.py - an E-goi v2 look-alike (REST, XML-RPC, SOAP) that fails on
purpose, for spec/fault_matrix_spec.lua. Raw sockets, one thread per
connection, HTTP/1.1 keep-alive, so every fault can be placed exactly.

    python3 spec/servers/faults.py PORT [CERTFILE KEYFILE]

With CERTFILE and KEYFILE a connection that opens with a TLS record is TLS
(the handshake in the connection's thread; a client that refuses the
certificate never gets to send a request, and none is counted); others
(the control requests) stay plain.

Control requests (GET, path /_ctl/..., never subject to a fault):
  /_ctl/arm?fault=F   from now on every other request meets fault F
                      ("none" for well-behaved answers); counters are zeroed
  /_ctl/count         JSON {"requests": N, "methods": {name: n}, "keys": K}:
                      requests that reached the server since the last arm
                      (a request counts once its first bytes arrived),
                      per method where the request was read, and K the
                      requests whose body carried the API key

Faults:
  reset_before   the first bytes arrive; the connection is reset (RST)
                 before the request is read
  reset_after    the request is read; the connection is reset, no answer
  close_after    the request is read; the connection is closed (FIN), no answer
  stall_before   the request is read; nothing is sent until the client
                 goes away (at most 20 s)
  stall_after    status line and headers (Content-Length: 100) and 1 byte,
                 then nothing until the client goes away
  truncated      Content-Length: 1000, 10 bytes, close
  garbage        200 with a body that is neither JSON nor XML (and that
                 echoes the request: the client must not repeat the key)
  http500        500 with a body echoing the request
  r429           429 with Retry-After: 3
  r429_bare      429 without Retry-After
Answers otherwise: REST JSON, an XML-RPC methodResponse (by Content-Type)
or, for a request with a SOAPAction header, a SOAP 1.1 answer as PHP writes it,
with headers for the transport contract specs: X-Verb (the request's
method), X-Connection (this TCP connection's number, from 1), X-Body-Length,
X-Seen-<name> for each request header whose name starts with X-, and
Set-Cookie twice plus a folded X-Folded (repeated and continued headers).
"""
import json
import re
import select
import socket
import ssl
import struct
import sys
import threading
import time

LOCK = threading.Lock()
STATE = {"fault": "none", "requests": 0, "methods": {}, "keys": 0, "connections": 0}
KEY = b"0123456789abcdef0123456789abcdef01234567"


def ok_answer(method, xml):
    if xml:
        if method == "getLists":
            value = ("<struct><member><name>0</name><value><struct><member><name>listnum</name>"
                     "<value><string>1</string></value></member></struct></value></member></struct>")
        else:
            value = "<struct><member><name>ID</name><value><string>h1</string></value></member></struct>"
        body = ("<?xml version=\"1.0\"?><methodResponse><params><param><value>%s</value>"
                "</param></params></methodResponse>" % value)
        return "text/xml", body.encode()
    if method == "getLists":
        result = {"key_0": {"listnum": "1"}, "status": "success"}
    else:
        result = {"ID": "h1", "status": "success"}
    return "application/json", json.dumps({"Egoi_Api": {method: result}}).encode()


SOAP_ENV = ('<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope'
            ' xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="http://api.e-goi.com/v2/soap.php"'
            ' xmlns:ns2="http://xml.apache.org/xml-soap" xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/"'
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
            ' SOAP-ENV:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><SOAP-ENV:Body>'
            '<ns1:%sResponse>%s</ns1:%sResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>\n')


def soap_answer(method):
    if method == "getLists":
        value = ('<return SOAP-ENC:arrayType="ns2:Map[1]" xsi:type="SOAP-ENC:Array"><item xsi:type="ns2:Map">'
                 '<item><key xsi:type="xsd:string">listnum</key><value xsi:type="xsd:string">1</value></item>'
                 '</item></return>')
    else:
        value = ('<return xsi:type="ns2:Map"><item><key xsi:type="xsd:string">ID</key>'
                 '<value xsi:type="xsd:string">h1</value></item></return>')
    return "text/xml; charset=utf-8", (SOAP_ENV % (method, value, method)).encode()


def send(conn, status, ctype, body, extra=""):
    head = ("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n"
            % (status, ctype, len(body), extra)).encode()
    conn.sendall(head + body)


def reset(conn):
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def wait_gone(conn, limit=20.0):
    """Block until the peer closes (or limit seconds)."""
    end = time.time() + limit
    while time.time() < end:
        r, _, _ = select.select([conn], [], [], 0.2)
        if r:
            try:
                if not conn.recv(65536):
                    return
            except OSError:
                return


def read_request(conn, buf):
    """-> (head_lines, body, rest) or None at EOF."""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        data = conn.recv(65536)
        if not data:
            return None
        rest += data
    return lines[0], headers, rest[:n], rest[n:]


def method_of(body, xml, soap=None):
    if soap is not None:
        m = re.search(r"#(\w+)", soap)
        return m.group(1) if m else "?"
    if xml:
        m = re.search(rb"<methodName>([^<]*)</methodName>", body)
    else:
        m = re.search(rb"(?:^|&)method=([^&]*)", body)
    return m.group(1).decode() if m else "?"


def control(conn, line):
    path = line.split(" ")[1]
    if path.startswith("/_ctl/arm"):
        m = re.search(r"fault=([a-z0-9_]+)", path)
        with LOCK:
            STATE.update(fault=m.group(1) if m else "none", requests=0, methods={}, keys=0)
        body = b"armed"
    else:
        with LOCK:
            body = json.dumps({"requests": STATE["requests"], "methods": STATE["methods"],
                               "keys": STATE["keys"]}).encode()
    send(conn, "200 OK", "application/json", body, "Connection: close\r\n")


def contract_headers(line, headers, body, number):
    out = ["X-Verb: %s" % line.split(" ")[0], "X-Connection: %d" % number,
           "X-Body-Length: %d" % len(body), "Set-Cookie: a=1", "Set-Cookie: b=2",
           "X-Folded: one", "\ttwo"]
    for k, v in headers.items():
        if k.startswith("x-"):
            out.append("X-Seen-%s: %s" % (k[2:], v))
    return "".join(h + "\r\n" for h in out)


def serve(conn, tls):
    with LOCK:
        STATE["connections"] += 1
        number = STATE["connections"]
    if tls and select.select([conn], [], [], 10)[0] and conn.recv(1, socket.MSG_PEEK) == b"\x16":
        try:
            conn = tls.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            conn.close()
            return
    buf = b""
    try:
        while True:
            if not buf:
                r, _, _ = select.select([conn], [], [], 60)
                if not r:
                    return
                peek = conn.recv(65536)
                if not peek:
                    return
                buf = peek
            is_ctl = buf.startswith(b"GET /_ctl/")
            if not is_ctl:
                with LOCK:
                    STATE["requests"] += 1
                    fault = STATE["fault"]
                if fault == "reset_before":
                    return reset(conn)
            got = read_request(conn, buf)
            if got is None:
                return
            line, headers, body, buf = got
            if is_ctl:
                control(conn, line)
                return
            xml = "xml" in headers.get("content-type", "")
            soap = headers.get("soapaction")
            method = method_of(body, xml, soap)
            with LOCK:
                STATE["methods"][method] = STATE["methods"].get(method, 0) + 1
                if KEY in body:
                    STATE["keys"] += 1
            if fault == "reset_after":
                return reset(conn)
            if fault == "close_after":
                return conn.close()
            if fault == "stall_before":
                wait_gone(conn)
                return conn.close()
            if fault == "stall_after":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 100\r\n\r\n{")
                wait_gone(conn)
                return conn.close()
            if fault == "truncated":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 1000\r\n\r\n{\"Egoi_Api")
                return conn.close()
            if fault == "garbage":
                send(conn, "200 OK", "text/html", b"<html>\x00\xff not an answer: " + body)
                continue
            if fault == "http500":
                send(conn, "500 Internal Server Error", "text/plain", b"failed on: " + body)
                continue
            if fault == "r429":
                send(conn, "429 Too Many Requests", "text/plain", b"slow down", "Retry-After: 3\r\n")
                continue
            if fault == "r429_bare":
                send(conn, "429 Too Many Requests", "text/plain", b"slow down")
                continue
            ctype, answer = soap_answer(method) if soap is not None else ok_answer(method, xml)
            send(conn, "200 OK", ctype, answer, contract_headers(line, headers, body, number))
    except OSError:
        pass
    finally:
        try:
            conn.close()
        except OSError:
            pass


def main():
    port = int(sys.argv[1])
    tls = None
    if len(sys.argv) >= 4:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[2], sys.argv[3])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(64)
    while True:
        conn, _ = lsock.accept()
        threading.Thread(target=serve, args=(conn, tls), daemon=True).start()


if __name__ == "__main__":
    main()
