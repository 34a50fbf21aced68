#!/usr/bin/env python3
"""Extract the part of E-goi's v3 OpenAPI document that the sandbox serves.

Reads the vendor document (public domain; default /work/shared/vendor/egoi-v3-openapi.yaml,
or the path given as the first argument), keeps the operations listed in OPERATIONS with
their request and response schemas, follows every $ref into components, drops what a
validator does not need (descriptions, examples, x-code-samples) and writes
spec/data/v3-openapi.json (or the second argument). Tests read only that JSON file.

    python3 tools/openapi_extract.py [vendor.yaml [out.json]]
"""
import json
import os
import sys

import yaml

SRC = "/work/shared/vendor/egoi-v3-openapi.yaml"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec", "data", "v3-openapi.json")

# (method, path) the sandbox implements
OPERATIONS = [
    ("post", "/ping"),
    ("get", "/my-account"),
    ("get", "/lists"), ("post", "/lists"),
    ("get", "/lists/{list_id}"), ("patch", "/lists/{list_id}"), ("delete", "/lists/{list_id}"),
    ("get", "/lists/{list_id}/fields"), ("post", "/lists/{list_id}/fields/extra"),
    ("patch", "/lists/{list_id}/fields/extra/{field_id}"), ("delete", "/lists/{list_id}/fields/extra/{field_id}"),
    ("patch", "/lists/{list_id}/fields/base/{field_id}"),
    ("get", "/lists/{list_id}/contacts"), ("post", "/lists/{list_id}/contacts"),
    ("get", "/lists/{list_id}/contacts/{contact_id}"), ("patch", "/lists/{list_id}/contacts/{contact_id}"),
    ("post", "/lists/{list_id}/contacts/actions/unsubscribe"),
    ("post", "/lists/{list_id}/contacts/actions/attach-tag"),
    ("post", "/lists/{list_id}/contacts/actions/detach-tag"),
    ("post", "/lists/{list_id}/contacts/actions/import-bulk"),
    ("post", "/lists/{list_id}/contacts/actions/export"),
    ("get", "/contacts/search"),
    ("get", "/tags"), ("post", "/tags"), ("put", "/tags/{tag_id}"), ("delete", "/tags/{tag_id}"),
    ("get", "/senders/email"), ("post", "/senders/email"), ("put", "/senders/email/{sender_id}"),
    ("delete", "/senders/email/{sender_id}"),
    ("get", "/senders/cellphone"), ("post", "/senders/cellphone"), ("delete", "/senders/cellphone/{sender_id}"),
    ("get", "/lists/{list_id}/segments"), ("delete", "/lists/{list_id}/segments/{segment_id}"),
    ("get", "/campaigns"), ("delete", "/campaigns/{campaign_hash}"),
    ("post", "/campaigns/email"), ("patch", "/campaigns/email/{campaign_hash}"),
    ("post", "/campaigns/email/{campaign_hash}/actions/send"),
    ("post", "/campaigns/sms"), ("patch", "/campaigns/sms/{campaign_hash}"),
    ("post", "/campaigns/sms/{campaign_hash}/actions/send"),
    ("get", "/reports/email/{campaign_hash}"), ("get", "/reports/sms/{campaign_hash}"),
    ("get", "/reports/advanced"), ("post", "/reports/advanced/sends"),
    ("post", "/reports/advanced/email-events"),
    ("get", "/webhooks"), ("post", "/webhooks"), ("delete", "/webhooks/{webhook_id}"),
    ("get", "/operations"),
    ("post", "/operations/actions/approve"), ("post", "/operations/actions/cancel"),
    ("post", "/operations/actions/pause"), ("post", "/operations/actions/resume"),
]

KEEP = {"type", "properties", "required", "items", "enum", "nullable", "allOf", "oneOf", "anyOf", "$ref",
        "format", "pattern", "minimum", "maximum", "minItems", "maxItems", "minLength", "maxLength",
        "additionalProperties", "readOnly", "writeOnly", "uniqueItems", "default"}


def strip(node):
    """Only the keywords a validator reads; `properties` keeps every member name."""
    if isinstance(node, list):
        return [strip(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        if k == "properties":
            out[k] = {name: strip(s) for name, s in v.items()}
        elif k in KEEP:
            out[k] = v if k in ("enum", "required", "default") else strip(v)
    return out


def refs(node, found):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                found.add(v)
            else:
                refs(v, found)
    elif isinstance(node, list):
        for x in node:
            refs(x, found)


def resolve(doc, ref):
    node = doc
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else SRC
    out_path = sys.argv[2] if len(sys.argv) > 2 else OUT
    with open(src, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    paths = {}
    for method, path in OPERATIONS:
        op = doc["paths"][path][method]
        entry = {"operationId": op.get("operationId"), "responses": {}}
        body = op.get("requestBody")
        if body and "$ref" in body:
            body = resolve(doc, body["$ref"])
        if body:
            schema = body.get("content", {}).get("application/json", {}).get("schema")
            if schema:
                entry["requestBody"] = strip(schema)
        for code, resp in op.get("responses", {}).items():
            if "$ref" in resp:
                resp = resolve(doc, resp["$ref"])
            schema = (resp.get("content") or {}).get("application/json", {}).get("schema")
            entry["responses"][str(code)] = strip(schema) if schema else None
        paths.setdefault(path, {})[method] = entry
    components = {}
    todo = set()
    refs(paths, todo)
    done = set()
    while todo:
        ref = todo.pop()
        if ref in done:
            continue
        done.add(ref)
        parts = ref.lstrip("#/").split("/")
        node = strip(resolve(doc, ref))
        components.setdefault(parts[1], {})[parts[2]] = node
        refs(node, todo)
    out = {"openapi": doc.get("openapi"), "info": {"title": doc["info"].get("title"),
                                                   "version": doc["info"].get("version"),
                                                   "source": "E-goi/sdk-java api/openapi.yaml (public domain)"},
           "paths": paths, "components": components}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote %s: %d paths, %d schemas" % (out_path, len(paths), len(components.get("schemas", {}))))


if __name__ == "__main__":
    main()
