#!/usr/bin/python3
"""Python SOAP libraries drive the sandbox's universal endpoint (soap_any.php)
through spec/servers/soap_workflow.json and print one JSON object
{"steps": {id: result}, "address": ..., "fault": ...}.

usage: /usr/bin/python3 soap_pyjudge.py zeep|suds BASE_URL APIKEY

zeep cannot encode a dict for these parts (egoi-v2-soap.md 3.4): it loads the WSDL
and builds the envelope, the argument is filled in by hand as an Apache Map, the
answer is decoded here. suds sends the dict as it likes (an element struct) and
decodes the answer itself; its item/key/value objects are turned into dicts.
Both need the SOAP-encoding schema the WSDLs name without importing it: a
minimal stand-in is written to a temp file (offline, no download)."""
import json
import os
import re
import sys
import tempfile

kind, base, key = sys.argv[1], sys.argv[2].rstrip('/'), sys.argv[3]
WSDL = base + '/v2/soap_any.php?wsdl'
SOAPENC = 'http://schemas.xmlsoap.org/soap/encoding/'
XSI = 'http://www.w3.org/2001/XMLSchema-instance'
XSD = 'http://www.w3.org/2001/XMLSchema'
MAPNS = 'http://xml.apache.org/xml-soap'

ENC_XSD = b'''<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://schemas.xmlsoap.org/soap/encoding/">
  <xs:complexType name="Array"><xs:sequence><xs:any minOccurs="0" maxOccurs="unbounded" processContents="lax"/>
  </xs:sequence><xs:anyAttribute processContents="lax"/></xs:complexType>
  <xs:complexType name="Struct"><xs:sequence><xs:any minOccurs="0" maxOccurs="unbounded" processContents="lax"/>
  </xs:sequence><xs:anyAttribute processContents="lax"/></xs:complexType>
</xs:schema>
'''
fd, enc_path = tempfile.mkstemp(suffix='.xsd')
os.write(fd, ENC_XSD)
os.close(fd)


def subst(v, saved):
    if isinstance(v, dict):
        return {subst(k, saved): subst(x, saved) for k, x in v.items()}
    if isinstance(v, list):
        return [subst(x, saved) for x in v]
    if isinstance(v, str):
        return re.sub(r'\$\{(\w+)\}', lambda m: str(saved[m.group(1)]), v)
    return v


def dig(v, path):
    for p in path.split('.'):
        if isinstance(v, list) and p.isdigit() and int(p) < len(v):
            v = v[int(p)]
        elif isinstance(v, dict) and p in v:
            v = v[p]
        else:
            return None
    return v


def zeep_client():
    import zeep
    import zeep.transports
    from lxml import etree

    class Offline(zeep.transports.Transport):
        def load(self, url):
            if url.rstrip('/') == SOAPENC.rstrip('/'):
                return ENC_XSD
            return super().load(url)

    client = zeep.Client(WSDL, transport=Offline(), settings=zeep.Settings(strict=False))
    address = client.service._binding_options['address']
    q = lambda ns, n: '{%s}%s' % (ns, n)

    def typed(el, t):
        el.set(q(XSI, 'type'), t)

    def put(el, v):
        if v is None:
            el.set(q(XSI, 'nil'), 'true')
        elif isinstance(v, bool):
            typed(el, 'xsd:boolean'); el.text = 'true' if v else 'false'
        elif isinstance(v, int):
            typed(el, 'xsd:int'); el.text = str(v)
        elif isinstance(v, dict):
            typed(el, 'ns2:Map')
            for k, x in v.items():
                it = etree.SubElement(el, 'item')
                ke = etree.SubElement(it, 'key'); typed(ke, 'xsd:string'); ke.text = str(k)
                put(etree.SubElement(it, 'value'), x)
        elif isinstance(v, list):
            typed(el, 'SOAP-ENC:Array')
            el.set(q(SOAPENC, 'arrayType'), 'xsd:anyType[%d]' % len(v))
            for x in v:
                put(etree.SubElement(el, 'item'), x)
        else:
            typed(el, 'xsd:string'); el.text = str(v)

    def qtype(el):
        t = el.get(q(XSI, 'type'))
        if not t:
            return None
        pre, _, local = t.rpartition(':')
        return (el.nsmap.get(pre or None), local)

    def value(el):
        if el.get(q(XSI, 'nil')) in ('true', '1'):
            return None
        t = qtype(el)
        if t == (MAPNS, 'Map'):
            out = {}
            for it in el:
                out[str(value(it.find('key')))] = value(it.find('value'))
            return out
        if t == (SOAPENC, 'Array'):
            return [value(x) for x in el]
        if t == (XSD, 'int'):
            return int(el.text)
        if t == (XSD, 'boolean'):
            return el.text in ('true', '1')
        return el.text or ''

    def call(method, args):
        env = client.create_message(client.service, method, functionOptions='')
        # re-root with the prefixes PHP uses, then fill functionOptions by hand
        nsmap = dict(env.nsmap, xsi=XSI, xsd=XSD, ns2=MAPNS)
        nsmap['SOAP-ENC'] = SOAPENC
        root = etree.Element(env.tag, nsmap=nsmap)
        for c in env:
            root.append(c)
        fo = root.find('.//functionOptions')
        fo.clear()
        put(fo, args)
        op = client.service._binding._operations[method]
        resp = client.transport.post_xml(address, root, {'SOAPAction': '"%s"' % op.soapaction,
                                                          'Content-Type': 'text/xml; charset=utf-8'})
        doc = etree.fromstring(resp.content)
        ret = doc.find('.//return')
        if ret is None:
            fault = doc.find('.//faultstring')
            return {'fault': [resp.status_code, fault.text if fault is not None else resp.text]}
        return value(ret)

    return call, address


def suds_client():
    from suds.client import Client
    from suds.xsd.doctor import Import, ImportDoctor
    from suds.sudsobject import Object
    doctor = ImportDoctor(Import(SOAPENC, location='file://' + enc_path))
    c = Client(WSDL, cache=None, doctor=doctor)
    address = c.wsdl.services[0].ports[0].location

    def plain(v):
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, Object):
            d = dict(v)
            if set(d) == {'item'}:             # an Apache Map: item/key/value objects
                items = d['item'] if isinstance(d['item'], list) else [d['item']]
                if all(isinstance(i, Object) and 'key' in dict(i) for i in items):
                    return dict(entry(i) for i in items)
                return [plain(i) for i in items]   # a SOAP-ENC:Array of items
            if set(d) == {'key', 'value'}:
                return {str(plain(d['key'])): plain(d['value'])}
            return {k: plain(x) for k, x in d.items()}
        if v is None:
            return None
        if isinstance(v, (bool, int)):
            return v
        return str(v)

    def entry(i):
        # inside arrays suds wraps each key and value of a Map item in a one-element list
        k, v = i.key, getattr(i, 'value', None)
        if isinstance(k, list) and len(k) == 1:
            k = k[0]
            if isinstance(v, list) and len(v) == 1:
                v = v[0]
        return str(plain(k)), plain(v)

    def call(method, args):
        try:
            return plain(getattr(c.service, method)(args))
        except Exception as e:  # suds raises WebFault for SOAP faults
            return {'fault': [type(e).__name__, str(e)]}

    return call, address


try:
    call, address = zeep_client() if kind == 'zeep' else suds_client()
    steps = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'soap_workflow.json')))
    saved, out = {}, {}
    for s in steps:
        args = subst(s['args'], saved)
        if 'apikey' not in args:
            args = dict(apikey=key, **args)
        r = call(s['method'], args)
        out[s['id']] = r
        for name, path in s.get('save', {}).items():
            saved[name] = dig(r, path)
    print(json.dumps({'steps': out, 'address': address}))
finally:
    os.unlink(enc_path)
