#!/usr/bin/env python3
"""XML-RPC test server for spec/xmlrpc_spec.lua (Python stdlib only).

    python3 spec/servers/xmlrpc_server.py PORT

Serves 127.0.0.1:PORT, path /v2/xmlrpc.php. Python's own XML-RPC parser is
the judge of the requests egoi.core builds: `echo` returns exactly what it
decoded, `echo_json` returns it as JSON (types kept: int vs str vs bool vs
float vs dict/list) so a spec can check the decoding independently of our
response parser.
"""
import datetime
import json
import sys
import xmlrpc.client
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

# Python escapes only & < > in responses; a raw CR would be normalised to
# LF by any conforming XML parser on the way back. Escape it as &#13; so
# echo round trips are byte-exact (our request builder does the same).
# (Marshaller binds `escape` as a default argument, hence the wrappers.)
_escape = xmlrpc.client.escape
_dispatch = xmlrpc.client.Marshaller.dispatch
_dump_str, _dump_dict = _dispatch[str], _dispatch[dict]


def _escape_cr(s):
    return _escape(s).replace("\r", "&#13;")


_dispatch[str] = lambda self, value, write: _dump_str(self, value, write, _escape_cr)
_dispatch[dict] = lambda self, value, write: _dump_dict(self, value, write, _escape_cr)


class Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/v2/xmlrpc.php",)

    def log_message(self, *args):
        pass


BIG = [
    {"listnum": str(i), "title": "List %d" % i, "subs_activos": i % 1000}
    for i in range(1, 50001)
]


def single(params):
    if len(params) != 1 or not isinstance(params[0], dict):
        raise xmlrpc.client.Fault(4, "Too many parameters")
    return params[0]


class Api:
    def _dispatch(self, method, params):
        if method == "echo":
            return single(params)
        if method == "echo_json":
            return json.dumps(single(params), sort_keys=True, ensure_ascii=True)
        if method == "getLists":
            single(params)
            return [
                {
                    "listnum": "3", "title": "Newsletter Zé", "title_ref": "nl",
                    "subs_activos": "120", "subs_total": 130, "idioma": "pt",
                    "extra_fields": [
                        {"id": "5", "ref": "cidade", "title": "Cidade", "opcoes": []},
                        {"id": "7", "ref": "nif", "title": "NIF", "opcoes": ["a", "b"]},
                    ],
                },
                {
                    "listnum": "4", "title": "Promo", "title_ref": "promo",
                    "subs_activos": "0", "subs_total": 0, "idioma": "en",
                    "extra_fields": [],
                },
            ]
        if method == "getClientData":
            return "INVALID"
        if method == "types":
            return {
                "int": 42, "neg": -2147483648, "max": 2147483647,
                "double": 3.25, "huge": 1e20, "tiny": -2.5e-7,
                "yes": True, "no": False, "none": None,
                "bin": xmlrpc.client.Binary(b"\x00\x01\xffhello"),
                "empty_bin": xmlrpc.client.Binary(b""),
                "when": datetime.datetime(2024, 1, 2, 10, 20, 30),
                "empty": "", "spaces": "  ", "empty_list": [], "empty_struct": {},
            }
        if method == "faulty":
            raise xmlrpc.client.Fault(4, "Too many parameters")
        if method == "big":
            return BIG
        raise xmlrpc.client.Fault(1, 'method "%s" is not supported' % method)


def main():
    port = int(sys.argv[1])
    server = SimpleXMLRPCServer(("127.0.0.1", port), requestHandler=Handler,
                                allow_none=True, logRequests=False)
    server.register_instance(Api())
    server.serve_forever()


if __name__ == "__main__":
    main()
