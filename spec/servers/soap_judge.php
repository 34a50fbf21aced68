<?php
// PHP's own SoapClient (ext/soap) drives a SOAP endpoint of the sandbox through
// the shared workflow spec/servers/soap_workflow.json and prints one JSON
// object { "steps": { id: result }, "faults": {...}, "last_request": "..." }.
//
//   php spec/servers/soap_judge.php BASE_URL ENDPOINT MODE VERSION APIKEY
//     BASE_URL  http://127.0.0.1:PORT     ENDPOINT soap | soap_any | rest
//     MODE      wsdl | nowsdl              VERSION  1.1 | 1.2
// A step that raises a SoapFault records { "fault": [faultcode, faultstring] }.
// ENDPOINT rest runs the same workflow over /v2/rest.php with PHP's own form
// encoding (http_build_query) and prints the decoded JSON envelopes, the
// baseline the SOAP results are compared with.
ini_set('soap.wsdl_cache_enabled', '0');
[$_, $base, $ep, $mode, $ver, $key] = $argv;
$loc = "$base/v2/$ep.php";
class RestClient {
    function __construct($url) { $this->url = $url; }
    function __soapCall($method, $args) {
        $body = http_build_query(array('method' => $method, 'type' => 'json', 'functionOptions' => $args[0] ?? array()));
        $ctx = stream_context_create(array('http' => array('method' => 'POST', 'ignore_errors' => true,
            'header' => "Content-Type: application/x-www-form-urlencoded\r\n", 'content' => $body)));
        $doc = json_decode(file_get_contents($this->url, false, $ctx), true);
        $r = $doc['Egoi_Api'][$method] ?? $doc;
        if (is_array($r)) unset($r['status']);
        if (is_array($r) && count($r) === 1 && array_key_exists('response', $r)) return $r['response'];
        return self::lists($r);
    }
    // what a REST client does with the envelope: key_0..key_n-1 become a list
    static function lists($v) {
        if (!is_array($v)) return $v;
        $keys = array_keys($v);
        $seq = count($keys) > 0;
        foreach ($keys as $i => $k) if ($k !== "key_$i") { $seq = false; break; }
        $out = array();
        foreach ($v as $k => $x) $out[$k] = self::lists($x);
        return $seq ? array_values($out) : $out;
    }
    function __getLastRequest() { return ''; }
}
$opts = array('trace' => 1, 'exceptions' => true, 'cache_wsdl' => WSDL_CACHE_NONE,
              'soap_version' => $ver === '1.2' ? SOAP_1_2 : SOAP_1_1);
if ($ep === 'rest') {
    $c = new RestClient($loc);
    $mode = 'nowsdl';
} elseif ($mode === 'wsdl') {
    $c = new SoapClient("$loc?wsdl", $opts);
} else {
    $c = new SoapClient(null, $opts + array('location' => $loc, 'uri' => "http://api.e-goi.com/v2/$ep.php"));
}
function call($c, $mode, $method, $args) {
    try {
        if ($mode === 'wsdl') return $c->$method(...$args);
        return $c->__soapCall($method, $args);
    } catch (SoapFault $f) {
        return array('fault' => array($f->faultcode, $f->faultstring));
    }
}
function subst($v, $saved) {
    if (is_array($v)) {
        $out = array();
        foreach ($v as $k => $x) $out[is_string($k) ? subst($k, $saved) : $k] = subst($x, $saved);
        return $out;
    }
    if (!is_string($v)) return $v;
    return preg_replace_callback('/\$\{(\w+)\}/', function ($m) use ($saved) { return (string)$saved[$m[1]]; }, $v);
}
function dig($v, $path) {
    foreach (explode('.', $path) as $p) {
        if (!is_array($v) || !array_key_exists($p, $v)) return null;
        $v = $v[$p];
    }
    return $v;
}
$steps = json_decode(file_get_contents(__DIR__ . '/soap_workflow.json'), true);
$saved = array();
$out = array('steps' => array(), 'faults' => array());
foreach ($steps as $s) {
    $args = subst($s['args'], $saved);
    if (!isset($args['apikey'])) $args = array('apikey' => $key) + $args;
    $r = call($c, $mode, $s['method'], array($args));
    $out['steps'][$s['id']] = $r;
    foreach ($s['save'] ?? array() as $name => $path) $saved[$name] = dig($r, $path);
}
// probes outside the shared workflow
$out['check_status'] = call($c, $mode, 'check_status', array());
$out['testEmailAddress'] = call($c, $mode, 'testEmailAddress', array('ana@example.com'));
$out['testEmailAddressBad'] = call($c, $mode, 'testEmailAddress', array('nope'));
$out['last_request'] = $c->__getLastRequest();
// a non-WSDL client for names the WSDL does not have (a WSDL-mode client refuses them itself)
$raw = $ep === 'rest' ? $c : new SoapClient(null, $opts + array('location' => $loc, 'uri' => "http://api.e-goi.com/v2/$ep.php"));
$out['faults']['unknown'] = call($raw, 'nowsdl', 'fooBar', array(array('apikey' => $key)));
$out['getListsAgain'] = call($c, $mode, 'getLists', array(array('apikey' => $key)));
$out['lowercase'] = call($raw, 'nowsdl', 'GETlists', array(array('apikey' => $key)));
echo json_encode($out), "\n";
