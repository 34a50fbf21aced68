#!/usr/bin/env python3
"""Scripted XML-RPC session against egoi-sandbox with Python's xmlrpc.client.
usage: sandbox_pyclient.py URL APIKEY   -> prints one JSON object with the results."""
import json
import sys
import xmlrpc.client

url, key = sys.argv[1], sys.argv[2]
proxy = xmlrpc.client.ServerProxy(url, allow_none=True)
out = {}

lst = proxy.createList({"apikey": key, "nome": "Py list", "idioma_lista": "en", "canal_email": True})
out["createList"] = lst
lid = lst["LIST_ID"]
out["addExtraField"] = proxy.addExtraField({"apikey": key, "listID": int(lid), "name": "city", "type": "texto"})
fid = out["addExtraField"]["NEW_ID"]
out["addSubscriber"] = proxy.addSubscriber({"apikey": key, "listID": lid, "email": "py@example.com",
                                            "first_name": "Py", "status": 1, "extra_" + fid: "Faro",
                                            "tags": []})
out["subscriberData"] = proxy.subscriberData({"apikey": key, "listID": lid, "subscriber": "py@example.com"})
out["all"] = proxy.subscriberData({"apikey": key, "listID": lid, "subscriber": "all_subscribers"})
out["getLists"] = proxy.getLists({"apikey": key})
out["getExtraFields"] = proxy.getExtraFields({"apikey": key, "listID": lid})
out["checklogin"] = proxy.checklogin({"apikey": key})
out["badKey"] = proxy.getClientData({"apikey": "0" * 40})
out["noAccess"] = proxy.getTags({"apikey": "0" * 40})
out["listMissing"] = proxy.subscriberData({"apikey": key, "listID": 99999, "subscriber": "x"})
out["removeSubscriber"] = proxy.removeSubscriber({"apikey": key, "listID": lid, "subscriber": "py@example.com"})
try:
    proxy.noSuchMethod({"apikey": key})
    out["fault"] = None
except xmlrpc.client.Fault as f:
    out["fault"] = {"code": f.faultCode, "string": f.faultString}
try:
    proxy.getLists()
    out["noParams"] = None
except xmlrpc.client.Fault as f:
    out["noParams"] = {"code": f.faultCode, "string": f.faultString}
print(json.dumps(out))
