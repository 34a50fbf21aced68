<?php
// Answer producer: PHP ext/soap's SoapServer (non-WSDL mode) answers getLists
// with values only PHP code can build (the same stdClass object several times,
// which PHP writes as multi-reference href/id in SOAP 1.1 and enc:ref/enc:id
// in SOAP 1.2; objects as SOAP-ENC:Struct), in both SOAP versions.
// Prints a JSON object {case: {"1.1": body, "1.2": body}}.
//   php spec/servers/soap_php_answers.php
error_reporting(0);
class Answers {
    static $case;
    function getLists() {
        $o = new stdClass;
        $o->NAME = 'shared';
        $o->N = 2;
        switch (self::$case) {
        case 'shared': return array('first' => $o, 'second' => $o, 'list' => array($o, $o), 'id' => 7);
        case 'struct': $p = new stdClass; $p->A = 'x'; $p->B = array(1, 2); $p->C = null; return $p;
        case 'types': return array('t' => true, 'f' => false, 'i' => 5000000000, 'n' => null, 's' => '',
                                   'ids' => array(5 => 'five', 9 => 'nine'), 'pos' => array(1 => 'b', 0 => 'a'),
                                   'empty' => array(), 'x' => 'a&b <c> "d" \'e\'');
        case 'string': return 'NO_ACCESS';
        }
    }
}
$envs = array(
    '1.1' => '<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
           . '<getLists xmlns="urn:x"/></e:Body></e:Envelope>',
    '1.2' => '<?xml version="1.0"?><e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body>'
           . '<getLists xmlns="urn:x"/></e:Body></e:Envelope>');
$out = array();
foreach (array('shared', 'struct', 'types', 'string') as $case) {
    Answers::$case = $case;
    foreach ($envs as $ver => $env) {
        $s = new SoapServer(null, array('uri' => 'urn:x', 'soap_version' => $ver === '1.2' ? SOAP_1_2 : SOAP_1_1));
        $s->setClass('Answers');
        ob_start();
        $s->handle($env);
        $out[$case][$ver] = ob_get_clean();
    }
}
echo json_encode($out), "\n";
