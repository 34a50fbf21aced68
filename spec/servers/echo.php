<?php
// spec/servers/echo.php - `php -S 127.0.0.1:PORT spec/servers/echo.php` router
// that answers every request with what PHP itself parsed from it, so specs can
// use PHP's own form parser as the judge of an encoder.
//
// Start it with generous input limits for big bodies, e.g.
//   php -d post_max_size=512M -d max_input_vars=10000000 -d memory_limit=4G \
//       -S 127.0.0.1:{port} spec/servers/echo.php
//
// Query parameters (they also show up in $_GET/$_REQUEST):
//   echo=json     (default) JSON document, see below
//   echo=raw      the raw request body, as application/octet-stream
//   echo=summary  JSON without the get/post/request dumps (for huge bodies)
//   select[]=post/functionOptions/subscribers/0   (repeatable) picks values
//                 out of $_GET ("get/..."), $_POST ("post/...") or
//                 $_REQUEST ("request/..."); path segments are array keys.
//   status=NNN    HTTP status of the answer (default 200)
//
// JSON document:
//   { "method": "POST", "uri": hex(REQUEST_URI), "content_type": "...", "body_length": N,
//     "headers": [[name, hexvalue], ...],
//     "get": V, "post": V, "request": V,          (not with echo=summary)
//     "leaves": {"get": N, "post": N, "request": N},
//     "selected": [{"found": true, "count": N|null, "value": V}, ...] }
// where a PHP value V is encoded as: string -> its bytes in hex (bin2hex, so
// invalid UTF-8 survives json_encode); array -> list of [hexkey, V] pairs in
// PHP's own order (keys as strings, hex). Decode with a tiny recursive helper.

function echo_hex($v)
{
    if (is_array($v)) {
        $out = [];
        foreach ($v as $k => $x) {
            $out[] = [bin2hex((string)$k), echo_hex($x)];
        }
        return $out;
    }
    return bin2hex((string)$v);
}

function echo_leaves($v)
{
    if (!is_array($v)) {
        return 1;
    }
    $n = 0;
    foreach ($v as $x) {
        $n += echo_leaves($x);
    }
    return $n;
}

function echo_select($path)
{
    $parts = explode('/', (string)$path);
    $src = array_shift($parts);
    if ($src === 'get') {
        $cur = $_GET;
    } elseif ($src === 'post') {
        $cur = $_POST;
    } elseif ($src === 'request') {
        $cur = $_REQUEST;
    } else {
        return ['found' => false];
    }
    foreach ($parts as $p) {
        if (!is_array($cur) || !array_key_exists($p, $cur)) {
            return ['found' => false];
        }
        $cur = $cur[$p];
    }
    return [
        'found' => true,
        'count' => is_array($cur) ? count($cur) : null,
        'value' => echo_hex($cur),
    ];
}

$mode = isset($_GET['echo']) && is_string($_GET['echo']) ? $_GET['echo'] : 'json';
$status = isset($_GET['status']) && is_string($_GET['status']) ? (int)$_GET['status'] : 200;
http_response_code($status >= 100 && $status <= 599 ? $status : 200);

$body = file_get_contents('php://input');

if ($mode === 'raw') {
    header('Content-Type: application/octet-stream');
    echo $body;
    return true;
}

$headers = [];
foreach (getallheaders() as $name => $value) {
    $headers[] = [$name, bin2hex($value)];
}

$doc = [
    'method' => $_SERVER['REQUEST_METHOD'],
    'uri' => bin2hex($_SERVER['REQUEST_URI']),
    'content_type' => isset($_SERVER['CONTENT_TYPE']) ? $_SERVER['CONTENT_TYPE'] : '',
    'body_length' => strlen($body),
    'headers' => $headers,
    'leaves' => [
        'get' => echo_leaves($_GET),
        'post' => echo_leaves($_POST),
        'request' => echo_leaves($_REQUEST),
    ],
    'selected' => [],
];
if ($mode !== 'summary') {
    $doc['get'] = echo_hex($_GET);
    $doc['post'] = echo_hex($_POST);
    $doc['request'] = echo_hex($_REQUEST);
}
if (isset($_GET['select']) && is_array($_GET['select'])) {
    foreach ($_GET['select'] as $path) {
        $doc['selected'][] = echo_select($path);
    }
}

header('Content-Type: application/json');
echo json_encode($doc, JSON_UNESCAPED_SLASHES);
return true;
