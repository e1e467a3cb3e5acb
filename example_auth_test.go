package wsdial_test

import (
	"context"
	"log"

	"github.com/wsdial/wsdial"
)

// schemeNTLM is ntlmAuth, naming its scheme, so that a Dialer can carry it
// beside others. The modules github.com/wsdial/wsdial/ntlm and
// github.com/wsdial/wsdial/negotiate provide authenticators that name theirs.
type schemeNTLM struct{ ntlmAuth }

func (schemeNTLM) Scheme() string { return "NTLM" }

// Carry several authenticators, as curl's --proxy-anyauth does: the Dialer
// sends the first CONNECT without credentials, picks the strongest scheme
// the proxy's 407 offers, and falls back to the next when it fails.
func ExampleProxyAuthScheme() {
	var lib ntlmClient // your NTLM library
	d, err := wsdial.New(
		wsdial.WithProxy("http://CORP%5Cjane:secret@proxy.corp.example:3128"),
		wsdial.WithProxyAuthenticator(schemeNTLM{ntlmAuth{lib}}, wsdial.BasicProxyAuth()),
	)
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), "wss://chat.example/ws")
	if err != nil {
		return
	}
	c.Close()
}
