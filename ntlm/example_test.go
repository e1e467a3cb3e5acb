package ntlm_test

import (
	"context"
	"log"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/ntlm"
)

// Dial through a proxy that asks for NTLM, with the account in the proxy
// URL: CORP\jane, the backslash written %5C.
func ExampleNew() {
	d, err := wsdial.New(
		wsdial.WithProxy("http://CORP%5Cjane:secret@proxy.corp.example:3128"),
		wsdial.WithProxyAuthenticator(ntlm.New()),
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
