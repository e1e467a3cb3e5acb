// Command httptransport plugs a wsdial Dialer into net/http, so that plain
// HTTP requests take the same proxies as the WebSocket dials. Transport.Proxy
// stays nil: the Dialer tunnels every connection itself, through CONNECT or
// SOCKS5, which also works for https:// proxies that net/http alone cannot
// give headers or challenge-response authentication.
//
//	go run ./examples/httptransport [-proxy URL] [URL]
//
// With no URL it fetches a page from a server it starts on loopback, through
// an authenticating proxy it also starts.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/wsdialtest"
)

func main() {
	proxy := flag.String("proxy", "", "proxy URL; the environment's proxy when empty")
	flag.Parse()
	target := flag.Arg(0)

	var opts []wsdial.Option
	if *proxy != "" {
		opts = append(opts, wsdial.WithProxy(*proxy))
	}
	if target == "" {
		page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "hello through the tunnel")
		}))
		defer page.Close()
		px := wsdialtest.NewProxy(wsdialtest.WithBasicAuth("demo", "wsdial-demo"))
		defer px.Close()
		u, err := url.Parse(px.URL)
		if err != nil {
			log.Fatal(err)
		}
		u.User = url.UserPassword("demo", "wsdial-demo")
		target = page.URL + "/"
		opts = append(opts, wsdial.WithProxy(u.String()))
	}

	d, err := wsdial.New(opts...)
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:    d.DialContext,
		DialTLSContext: d.DialTLSContext,
	}}
	resp, err := client.Get(target)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n%s", resp.Status, body)
}
