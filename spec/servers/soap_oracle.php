<?php
// Encoding oracle: PHP ext/soap's SoapServer (WSDL mode, the sandbox's generated
// soap_any WSDL) answers getLists with each value of a JSON list read on stdin;
// prints a JSON list of { "1.1": body, "1.2": body, "value": tagged }. JSON
// objects become PHP assoc arrays with their keys sorted as strings (the sandbox
// writes maps in that order), JSON arrays PHP lists; `tagged` is the PHP value
// as {"t": "list"|"map"|"int"|"float"|"string"|"bool"|"null", "v": ...} (maps
// as a list of [key, tagged] pairs) so the spec can build the same Lua value.
//   php spec/servers/soap_oracle.php encode WSDL_FILE < values.json
// Decoding oracle: the same server decodes each request envelope of a JSON list
// (the operation is getLists, its part functionOptions); prints a JSON list of
// { "value": tagged | null, "fault": faultstring | null } (stdClass objects
// tagged as maps, "t": "object").
//   php spec/servers/soap_oracle.php decode WSDL_FILE < envelopes.json
error_reporting(0);
ini_set('soap.wsdl_cache_enabled', '0');
function sorted($v) {
    if (!is_array($v)) return $v;
    if (!array_is_list($v)) ksort($v, SORT_STRING);
    foreach ($v as $k => $x) $v[$k] = sorted($x);
    return $v;
}
function tagged($v) {
    if (is_object($v)) {
        $pairs = array();
        foreach (get_object_vars($v) as $k => $x) $pairs[] = array((string)$k, tagged($x));
        return array('t' => 'object', 'v' => $pairs);
    }
    if (is_array($v)) {
        if (array_is_list($v)) return array('t' => 'list', 'v' => array_map('tagged', $v));
        $pairs = array();
        foreach ($v as $k => $x) $pairs[] = array((string)$k, tagged($x));
        return array('t' => 'map', 'v' => $pairs);
    }
    if (is_int($v)) return array('t' => 'int', 'v' => (string)$v);
    if (is_float($v)) return array('t' => 'float', 'v' => var_export($v, true));
    if (is_bool($v)) return array('t' => 'bool', 'v' => $v);
    if (is_null($v)) return array('t' => 'null');
    return array('t' => 'string', 'v' => $v);
}
class Oracle {
    static $value, $got;
    function getLists($o) { self::$got = tagged($o); return self::$value; }
}
// one envelope per process: ext/soap ends the script after a Client fault
if ($argv[1] === 'decode1') {
    register_shutdown_function(function () {
        $body = ob_get_clean();
        $fault = preg_match('~<(?:faultstring|env:Text)>(.*?)</~s', $body, $m) ? html_entity_decode($m[1]) : null;
        echo json_encode(array('value' => Oracle::$got, 'fault' => $fault));
    });
    Oracle::$value = 'x';
    $s = new SoapServer($argv[2], array('cache_wsdl' => WSDL_CACHE_NONE));
    $s->setClass('Oracle');
    ob_start();
    $s->handle(file_get_contents('php://stdin'));
    exit(0);
}
if ($argv[1] === 'decode') {
    $out = array();
    foreach (json_decode(file_get_contents('php://stdin'), true) as $env) {
        $p = proc_open(array(PHP_BINARY, __FILE__, 'decode1', $argv[2]), array(array('pipe', 'r'), array('pipe', 'w')),
                       $pipes);
        fwrite($pipes[0], $env);
        fclose($pipes[0]);
        $out[] = json_decode(stream_get_contents($pipes[1]), true);
        fclose($pipes[1]);
        proc_close($p);
    }
    echo json_encode($out), "\n";
    exit(0);
}
$values = json_decode(file_get_contents('php://stdin'), true);
$envs = array(
    '1.1' => '<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
           . '<getLists><functionOptions/></getLists></e:Body></e:Envelope>',
    '1.2' => '<?xml version="1.0"?><e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
           . '<getLists><functionOptions/></getLists></e:Body></e:Envelope>');
$out = array();
foreach ($values as $v) {
    Oracle::$value = sorted($v);
    $r = array('value' => tagged(Oracle::$value));
    foreach ($envs as $ver => $env) {
        $s = new SoapServer($argv[2], array('cache_wsdl' => WSDL_CACHE_NONE));
        $s->setClass('Oracle');
        ob_start();
        $s->handle($env);
        $r[$ver] = ob_get_clean();
    }
    $out[] = $r;
}
echo json_encode($out), "\n";
