<?php
// Request judge: the exact envelope PHP's own SoapClient (WSDL mode, SOAP 1.1)
// writes for each call of a JSON list read on stdin, [{"op": ..., "args": {...}}],
// with the WSDL file given. JSON objects become PHP assoc arrays with their keys
// sorted as strings (lua-egoi writes Map items in that order), JSON arrays PHP
// lists. Nothing is sent: __doRequest keeps the request and answers void.
// Prints a JSON list of {"request": body, "action": SOAPAction}.
//   php spec/servers/soap_php_request.php WSDL_FILE < calls.json
error_reporting(E_ALL & ~E_DEPRECATED);
ini_set('soap.wsdl_cache_enabled', '0');
function sorted($v) {
    if (!is_array($v)) return $v;
    if (!array_is_list($v)) ksort($v, SORT_STRING);
    foreach ($v as $k => $x) $v[$k] = sorted($x);
    return $v;
}
class Keep extends SoapClient {
    public $last, $action;
    function __doRequest($request, $location, $action, $version, $oneway = false): ?string {
        $this->last = $request;
        $this->action = $action;
        return '<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body/></SOAP-ENV:Envelope>';
    }
}
$c = new Keep($argv[1], array('cache_wsdl' => WSDL_CACHE_NONE, 'exceptions' => false));
$out = array();
foreach (json_decode(file_get_contents('php://stdin'), true) as $call) {
    $c->last = null;
    if (array_key_exists('args', $call)) $c->__soapCall($call['op'], array(sorted($call['args'])));
    else $c->__soapCall($call['op'], array());
    $out[] = array('request' => $c->last, 'action' => $c->action);
}
echo json_encode($out), "\n";
