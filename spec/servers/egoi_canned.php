<?php
// A php -S router that answers like the E-goi v2 REST endpoint with canned
// results, so the client's decoding and error mapping are tested against a
// real PHP server parsing our real form bodies. The method name picks the
// situation; functionOptions[apikey] must be the test key.
const KEY = "0123456789abcdef0123456789abcdef01234567";

function envelope($method, $result, $status = "success") {
    $result["status"] = $status;
    return json_encode(["Egoi_Api" => [$method => $result]]);
}
function strings($v) {
    if (is_array($v)) { $o = []; foreach ($v as $k => $x) $o[$k] = strings($x); return $o; }
    if (is_bool($v)) return $v ? "1" : "0";
    return (string)$v;
}
// PHP list -> key_N object, like Zend's XML->JSON conversion
function keyed($list) { $o = []; foreach ($list as $i => $x) $o["key_$i"] = $x; return $o; }

$m = $_REQUEST["method"] ?? "";
$o = $_REQUEST["functionOptions"] ?? null;
header("Content-Type: application/json");
// the server's private directory (spec/helpers/server.lua), else the system's temp dir
$counter = (getenv("EGOI_SERVER_DIR") ?: sys_get_temp_dir()) . "/egoi-canned-" . ($_SERVER["SERVER_PORT"] ?? "0") . ".count";

if ($m === "count") { echo envelope($m, ["COUNT" => (string)@file_get_contents($counter)]); return; }
@file_put_contents($counter, (string)(((int)@file_get_contents($counter)) + 1));

if ($m === "") { http_response_code(404);
    echo envelope("unknown", ["response" => ["message" => "No Method Specified."]], "failed"); return; }
if ($o === null) { http_response_code(400);
    echo envelope($m, ["response" => ["message" => "Missing functionOptions"]], "failed"); return; }
if (($o["apikey"] ?? "") !== KEY) {
    if (in_array($m, ["getLists", "getClientData", "getUserData"])) { echo envelope($m, ["response" => "INVALID"]); }
    else { echo envelope($m, ["ERROR" => "NO_ACCESS"]); }
    return;
}
switch ($m) {
case "echo":
    unset($o["apikey"]);
    echo envelope($m, ["ECHO" => json_encode($o), "METHOD" => $_SERVER["REQUEST_METHOD"],
                       "UA" => $_SERVER["HTTP_USER_AGENT"] ?? ""]);
    break;
case "getLists":
    $lists = [];
    foreach ([1, 2] as $n) $lists[] = ["listnum" => "$n", "title" => "List $n", "idioma" => "en",
        "subs_activos" => "0", "extra_fields" => keyed([["id" => "1", "ref" => "city", "listnum" => "$n"],
                                                       ["id" => "2", "ref" => "zé", "listnum" => "$n"]])];
    echo envelope($m, keyed($lists));
    break;
case "getExtraFields":
    echo envelope($m, ["extra_fields" => ["key_5" => ["NAME" => "city"], "key_9" => ["NAME" => "shoe"]]]);
    break;
case "subscriberData":
    if (($o["listID"] ?? "") === "999") { echo envelope($m, ["subscriber" => ["ERROR" => "LIST_MISSING"]]); break; }
    if (($o["subscriber"] ?? "") !== "all_subscribers") { echo envelope($m, ["ERROR" => "SUBSCRIBER_NOT_FOUND"]); break; }
    $subs = [];
    for ($i = 0; $i < 12; $i++) $subs[] = ["UID" => "u$i", "EMAIL" => "s$i@example.org", "STATUS" => "1"];
    echo envelope($m, ["subscriber" => keyed($subs)]);
    break;
case "addExtraField":
    // the vendor documents EXTRA_FIELD_XX_ALREADY_EXISTS, XX = the field
    echo envelope($m, ["ERROR" => "EXTRA_FIELD_" . strtoupper($o["name"] ?? "") . "_ALREADY_EXISTS"]);
    break;
case "removeSubscriber": echo envelope($m, ["response" => "OK"]); break;
case "getCredits": echo envelope($m, ["response" => "42"]); break;
case "addSubscriber":
    if (($o["email"] ?? "") === "dup@example.org") { echo envelope($m, ["ERROR" => "EMAIL_ALREADY_EXISTS"]); break; }
    echo envelope($m, ["UID" => "abc123", "EMAIL" => $o["email"] ?? "", "LIST" => $o["listID"] ?? ""]);
    break;
case "emptyBody": break;
case "garbage": echo "<html>not json"; break;
case "scalarTop": echo json_encode("just a string"); break;
case "internal": echo envelope($m, ["ERROR" => "INTERNAL_ERROR"]); break;
case "http500": http_response_code(500); echo "boom " . KEY; break;
case "tooMany": http_response_code(429); header("Retry-After: 7"); echo envelope($m, ["ERROR" => "NO_ACCESS"]); break;
case "failed200": echo envelope($m, ["response" => ["message" => "went wrong for " . KEY]], "failed"); break;
default:
    http_response_code(404);
    echo envelope($m, ["response" => ["message" => "Unknown Method '$m'."]], "failed");
}
