package pac_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
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

// Example_sameScript plugs one script into both a wsdial Dialer, which
// works through the whole list the script answers, and an http.Transport,
// which takes the list's first entry: net/http tries one proxy a request
// and fails over to none.
func Example_sameScript() {
	proxy := wsdialtest.NewProxy() // stands for the corporate proxy
	defer proxy.Close()
	p, err := url.Parse(proxy.URL)
	if err != nil {
		log.Fatal(err)
	}
	script, err := pac.Parse([]byte(`function FindProxyForURL(url, host) {
		return isPlainHostName(host) ? "DIRECT" : "PROXY ` + p.Host + `; DIRECT";
	}`))
	if err != nil {
		log.Fatal(err)
	}

	// WebSockets: every entry in turn.
	ws := wsdialtest.NewEchoServer() // stands for your WebSocket server
	defer ws.Close()
	d, err := wsdial.New(wsdial.WithProxyList(script.Proxies))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), ws.URL)
	if err != nil {
		log.Fatal(err)
	}
	c.Close()

	// HTTP: the first entry; nil is direct to http.Transport too.
	web := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello over https")
	})) // stands for your HTTPS server
	defer web.Close()
	client := &http.Client{Transport: &http.Transport{
		Proxy: func(req *http.Request) (*url.URL, error) {
			proxies, err := script.Proxies(req.Context(), req.URL)
			if err != nil {
				return nil, err
			}
			return proxies[0], nil
		},
		TLSClientConfig: &tls.Config{RootCAs: web.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs},
	}}
	resp, err := client.Get(web.URL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()

	fmt.Println("tunnels through the script's proxy:", proxy.Tunnels())
	// Output:
	// tunnels through the script's proxy: 2
}
