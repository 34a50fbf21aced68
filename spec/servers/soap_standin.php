<?php
// A PHP SoapServer stand-in of E-goi's SOAP service, for testing SOAP clients
// against PHP's own ext/soap server (the real service is PHP ext/soap behind
// the WSDLs of egoi-v2-soap.md). It serves the WSDLs the project generates
// and returns PHP arrays as the real service does.
//
// Start it (a router script for PHP's built-in server):
//
//   dir=$(mktemp -d)
//   bin/egoi-sandbox --print-wsdl soap     > "$dir/soap.wsdl"
//   bin/egoi-sandbox --print-wsdl soap_any > "$dir/soap_any.wsdl"
//   EGOI_STANDIN_WSDL_DIR="$dir" php -S 127.0.0.1:PORT spec/servers/soap_standin.php
//
// Without EGOI_STANDIN_WSDL_DIR the router runs bin/egoi-sandbox --print-wsdl
// itself on every request (slower, same result). Optional EGOI_STANDIN_LOG=FILE
// appends one JSON line per call: {"endpoint","method","args"} (the decoded PHP
// arguments), so a client test can check what its request carried.
//
// Endpoints: /v2/soap.php (class Egoi_Api, WSDL-mode SoapServer) and
// /v2/soap_any.php (Egoi_Api_Soap, which also accepts struct arguments);
// GET ?wsdl serves the WSDL with soap:address rewritten to the requested URL.
// API key: 0123456789abcdef0123456789abcdef01234567. Canned behaviour:
//   getLists / getUserData / getClientData: bad key -> the bare string 'INVALID'
//   getLists  -> list of two list records (lower-case keys, extra_fields list)
//   createList -> ['LIST_ID' => '3'];  no nome -> ['ERROR' => 'NAME_MISSING']
//   addSubscriber -> the record (UID, LIST, EMAIL, FIRST_NAME, STATUS int);
//                    no listID -> ['ERROR' => 'LIST_MISSING'];
//                    email taken@example.com -> ['ERROR' => 'EMAIL_ALREADY_EXISTS']
//   removeSubscriber -> the bare string 'OK'
//   getCredits -> throws SoapFault('Server', 'INTERNAL_ERROR') (a SOAP fault, HTTP 500)
//   other methods of the WSDL: no such PHP method -> ext/soap's fault.
ini_set('soap.wsdl_cache_enabled', '0');
ini_set('display_errors', '0');

const STANDIN_KEY = '0123456789abcdef0123456789abcdef01234567';

class Egoi_Api {
    protected $endpoint = 'soap';
    protected function opts($o) {
        $o = is_object($o) ? json_decode(json_encode($o), true) : $o;
        $log = getenv('EGOI_STANDIN_LOG');
        if ($log) {
            $bt = debug_backtrace(DEBUG_BACKTRACE_IGNORE_ARGS, 2);
            file_put_contents($log, json_encode(array('endpoint' => $this->endpoint, 'method' => $bt[1]['function'],
                'args' => $o)) . "\n", FILE_APPEND | LOCK_EX);
        }
        return is_array($o) ? $o : array();
    }
    protected function authed($o) { return ($o['apikey'] ?? null) === STANDIN_KEY; }

    function getLists($functionOptions) {
        $o = $this->opts($functionOptions);
        if (!$this->authed($o)) return 'INVALID';
        return array(
            array('listnum' => '1', 'title' => 'Newsletter', 'title_ref' => 'newsletter', 'subs_activos' => '2',
                  'subs_total' => '3', 'idioma' => 'pt', 'canal_email' => '1', 'canal_sms' => '0',
                  'extra_fields' => array(array('id' => '1', 'ref' => 'cidade', 'listnum' => '1', 'opcoes' => ''))),
            array('listnum' => '2', 'title' => 'Clientes ção', 'title_ref' => 'clientes', 'subs_activos' => '0',
                  'subs_total' => '0', 'idioma' => 'en', 'canal_email' => '1', 'canal_sms' => '1',
                  'extra_fields' => array()));
    }
    function createList($functionOptions) {
        $o = $this->opts($functionOptions);
        if (!$this->authed($o)) return array('ERROR' => 'NO_ACCESS');
        if (empty($o['nome'])) return array('ERROR' => 'NAME_MISSING');
        return array('LIST_ID' => '3');
    }
    function addSubscriber($functionOptions) {
        $o = $this->opts($functionOptions);
        if (!$this->authed($o)) return array('ERROR' => 'NO_ACCESS');
        if (empty($o['listID'])) return array('ERROR' => 'LIST_MISSING');
        if (($o['email'] ?? '') === 'taken@example.com') return array('ERROR' => 'EMAIL_ALREADY_EXISTS');
        return array('UID' => 'a1b2c3d4e5', 'LIST' => (string)$o['listID'], 'EMAIL' => (string)($o['email'] ?? ''),
                     'FIRST_NAME' => (string)($o['first_name'] ?? ''), 'STATUS' => (int)($o['status'] ?? 1));
    }
    function removeSubscriber($functionOptions) {
        $o = $this->opts($functionOptions);
        if (!$this->authed($o)) return array('ERROR' => 'NO_ACCESS');
        return 'OK';
    }
    function getUserData($functionOptions) {
        $o = $this->opts($functionOptions);
        if (!$this->authed($o)) return 'INVALID';
        return array('USER_ID' => '1', 'USERNAME' => 'sandbox', 'FIRST_NAME' => 'Sandbox', 'LAST_NAME' => 'User',
                     'EMAIL' => 'sandbox1@example.com');
    }
    function getClientData($functionOptions) {
        $o = $this->opts($functionOptions);
        if (!$this->authed($o)) return 'INVALID';
        return array('CLIENTE_ID' => '1', 'COMPANY_NAME' => 'Sandbox Lda', 'CREDITS' => 100.5);
    }
    function getCredits($functionOptions) {
        $this->opts($functionOptions);
        throw new SoapFault('Server', 'INTERNAL_ERROR');
    }
    function check_status() { return true; }
}

class Egoi_Api_Soap extends Egoi_Api {
    protected $endpoint = 'soap_any';
}

function standin_wsdl($ep) {
    $dir = getenv('EGOI_STANDIN_WSDL_DIR');
    if ($dir) return file_get_contents("$dir/$ep.wsdl");
    $bin = dirname(__DIR__, 2) . '/bin/egoi-sandbox';
    return shell_exec(escapeshellarg($bin) . ' --print-wsdl ' . escapeshellarg($ep));
}

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$routes = array('/v2/soap.php' => array('soap', 'Egoi_Api'), '/v2/soap_any.php' => array('soap_any', 'Egoi_Api_Soap'));
if (!isset($routes[$path])) {
    http_response_code(404);
    echo "not found\n";
    return true;
}
[$ep, $class] = $routes[$path];
$text = standin_wsdl($ep);
$self = 'http://' . $_SERVER['HTTP_HOST'] . $path;
$text = preg_replace('~(<soap:address location=")[^"]*"~', '${1}' . $self . '"', $text);
if ($_SERVER['REQUEST_METHOD'] === 'GET' && isset($_GET['wsdl'])) {
    header('Content-Type: text/xml; charset=utf-8');
    echo $text;
    return true;
}
$file = tempnam(sys_get_temp_dir(), 'egoi-standin-');
file_put_contents($file, $text);
try {
    $server = new SoapServer($file, array('cache_wsdl' => WSDL_CACHE_NONE));
    $server->setClass($class);
    $server->handle();
} finally {
    unlink($file);
}
return true;
