package wsdial_test

import (
	"context"
	"fmt"
	"log"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/wsdialtest"
)

// schemeToken is tokenAuth, naming its scheme, so that a Dialer can carry it
// beside others. The modules github.com/wsdial/wsdial/ntlm and
// github.com/wsdial/wsdial/negotiate provide authenticators that name theirs.
type schemeToken struct{ tokenAuth }

func (schemeToken) Scheme() string { return "Token" }

// Carry several authenticators, as curl's --proxy-anyauth does: the Dialer
// sends the first CONNECT without credentials, picks the strongest scheme
// the proxy's 407 offers, and falls back to the next when it fails.
func ExampleProxyAuthScheme() {
	srv := wsdialtest.NewEchoServer() // stands for your server
	defer srv.Close()
	// A gateway that offers only its Token scheme, standing for yours.
	proxy := wsdialtest.NewProxy(wsdialtest.WithAuthFunc(func(authorization string) (string, bool) {
		return "Token nonce=n0nce", authorization == "Token "+answer("n0nce", "s3cret")
	}))
	defer proxy.Close()

	d, err := wsdial.New(
		wsdial.WithProxy(proxy.URL),
		wsdial.WithProxyAuthenticator(wsdial.BasicProxyAuth(), schemeToken{tokenAuth{secret: "s3cret"}}),
	)
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	c.Close()
	fmt.Println("authenticated by Token; tunnels:", proxy.Tunnels())
	// Output: authenticated by Token; tunnels: 1
}
