# bench/call_cost.py URL N keepalive(0|1) -> "cpu_us_per_call calls_per_s"
# What the vendor's Python wrapper does per call: urlencode the flattened functionOptions,
# POST with urllib, json.loads, delete "status", walk key_N objects into lists.
# keepalive=1 uses http.client with one persistent connection (urllib cannot keep alive).
import http.client, json, sys, time, urllib.parse, urllib.request

url, n, keep = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
params = {"method": "getLists", "type": "json",
          "functionOptions[apikey]": "0123456789abcdef0123456789abcdef01234567"}

def walk(v):
    if isinstance(v, dict):
        if v and all(k.startswith("key_") for k in v):
            return [walk(v["key_%d" % i]) for i in range(len(v))]
        return {k: walk(x) for k, x in v.items()}
    return v

parsed = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(parsed.hostname, parsed.port) if keep else None

def call():
    data = urllib.parse.urlencode(params).encode()
    if keep:
        conn.request("POST", parsed.path, data, {"Content-Type": "application/x-www-form-urlencoded"})
        body = conn.getresponse().read()
    else:
        with urllib.request.urlopen(url, data) as r:
            body = r.read()
    doc = json.loads(body)["Egoi_Api"]["getLists"]
    del doc["status"]
    return walk(doc)

for _ in range(50):
    call()
c0, w0 = time.process_time(), time.monotonic()
for _ in range(n):
    assert call()[0]["listnum"] == "1"
cpu, wall = time.process_time() - c0, time.monotonic() - w0
print("%.1f %.0f" % (cpu / n * 1e6, n / wall))
