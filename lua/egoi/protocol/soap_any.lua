-- egoi.protocol.soap_any - E-goi v2 universal SOAP (soap_any.php): the
-- same wire form as egoi.protocol.soap, under its own namespace and URL.
return require("egoi.protocol.soap").endpoint("soap_any")
