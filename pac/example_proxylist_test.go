package pac_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/url"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/pac"
	"github.com/wsdial/wsdial/wsdialtest"
)

// Example_withProxyList hands a script's answers to wsdial, which tries the
// proxies in turn as a browser does: the first proxy the script names is
// down, so the dial goes on through the second.
func Example_withProxyList() {
	srv := wsdialtest.NewEchoServer() // stands for your server
	defer srv.Close()
	proxy := wsdialtest.NewProxy() // stands for the proxy that works
	defer proxy.Close()
	p, err := url.Parse(proxy.URL)
	if err != nil {
		log.Fatal(err)
	}
	down, err := net.Listen("tcp", "127.0.0.1:0") // stands for a proxy that is down
	if err != nil {
		log.Fatal(err)
	}
	down.Close()

	script, err := pac.Parse([]byte(`function FindProxyForURL(url, host) {
		return "PROXY ` + down.Addr().String() + `; PROXY ` + p.Host + `; DIRECT";
	}`))
	if err != nil {
		log.Fatal(err)
	}
	d, err := wsdial.New(wsdial.WithProxyList(script.Proxies))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(wsdial.TextMessage, []byte("hello")); err != nil {
		log.Fatal(err)
	}
	_, msg, err := c.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(msg), "through", proxy.Tunnels(), "tunnel(s) of the second proxy")
	// Output:
	// hello through 1 tunnel(s) of the second proxy
}
