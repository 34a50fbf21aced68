<?php
// PHP SoapClient calls the SOAP stand-in (soap_standin.php) and prints JSON.
//   php spec/servers/soap_standin_client.php BASE_URL ENDPOINT VERSION
ini_set('soap.wsdl_cache_enabled', '0');
[$_, $base, $ep, $ver] = $argv;
$k = '0123456789abcdef0123456789abcdef01234567';
$c = new SoapClient("$base/v2/$ep.php?wsdl", array('trace' => 1, 'cache_wsdl' => WSDL_CACHE_NONE,
    'soap_version' => $ver === '1.2' ? SOAP_1_2 : SOAP_1_1));
$out = array();
$call = function ($name, ...$args) use ($c, &$out) {
    try { $out[$name] = $c->$name(...$args); }
    catch (SoapFault $f) { $out[$name] = array('fault' => array($f->faultcode, $f->faultstring)); }
};
$call('getLists', array('apikey' => $k));
$out['badKey'] = $c->getLists(array('apikey' => 'nope'));
$call('createList', array('apikey' => $k, 'nome' => 'X'));
$out['nameMissing'] = $c->createList(array('apikey' => $k));
$call('addSubscriber', array('apikey' => $k, 'listID' => 3, 'email' => 'ana@example.com', 'first_name' => 'Ana',
                             'status' => 1, 'tags' => array(12, 15)));
$out['taken'] = $c->addSubscriber(array('apikey' => $k, 'listID' => '3', 'email' => 'taken@example.com'));
$call('removeSubscriber', array('apikey' => $k, 'listID' => '3', 'subscriber' => 'a1b2c3d4e5'));
$call('getUserData', array('apikey' => $k));
$call('getCredits', array('apikey' => $k));
$call('check_status');
$out['lastRequestHeaders'] = $c->__getLastRequestHeaders();
echo json_encode($out), "\n";
