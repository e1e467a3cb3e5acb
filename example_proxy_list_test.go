package wsdial_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/url"
	"syscall"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/wsdialtest"
)

// downProxies returns the URLs of n proxies that are down: loopback ports
// where nothing listens, so that a connect to each is refused.
func downProxies(n int) []*url.URL {
	var urls []*url.URL
	for range n {
		// Each listener stays open until all are made, so that no two
		// ports are the same.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		defer ln.Close()
		urls = append(urls, &url.URL{Scheme: "http", Host: ln.Addr().String()})
	}
	return urls
}

// Fail over from a proxy that is down to the next one, as a browser does
// with the PAC answer "PROXY proxy-a:8080; PROXY proxy-b:8080; DIRECT". The
// first dial finds proxy A down, marks it and goes through B; for the next
// five minutes dials try B first. A nil entry would stand for DIRECT.
func ExampleWithProxyList() {
	srv := wsdialtest.NewEchoServer() // stands for your server
	defer srv.Close()
	proxyB := wsdialtest.NewProxy() // stands for a proxy that works
	defer proxyB.Close()
	b, err := url.Parse(proxyB.URL)
	if err != nil {
		log.Fatal(err)
	}
	a := downProxies(1)[0]

	d, err := wsdial.New(wsdial.WithProxyList(func(ctx context.Context, target *url.URL) ([]*url.URL, error) {
		return []*url.URL{a, b, nil}, nil
	}))
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		c, err := d.DialWebSocket(context.Background(), srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		if err := c.WriteMessage(wsdial.TextMessage, []byte("hello")); err != nil {
			log.Fatal(err)
		}
		_, msg, err := c.ReadMessage()
		if err != nil {
			log.Fatal(err)
		}
		c.Close()
		fmt.Println(string(msg), "through", proxyB.Tunnels(), "tunnel(s) of proxy B")
	}
	// Output:
	// hello through 1 tunnel(s) of proxy B
	// hello through 2 tunnel(s) of proxy B
}

// When no entry of the list gets through, the error's text says what each
// attempt got, and errors.Is and errors.As see the last attempt's error.
func ExampleWithProxyList_allFail() {
	down := downProxies(2)
	proxyA, proxyB := down[0], down[1]
	d, err := wsdial.New(wsdial.WithProxyList(func(ctx context.Context, target *url.URL) ([]*url.URL, error) {
		return []*url.URL{proxyA, proxyB}, nil
	}))
	if err != nil {
		log.Fatal(err)
	}
	_, err = d.DialWebSocket(context.Background(), "ws://chat.example/socket")
	var pe *wsdial.ProxyError
	if errors.As(err, &pe) { // the last attempt's
		fmt.Println("last attempt:", pe.Proxy == proxyB.String(), pe.Stage)
	}
	fmt.Println("ErrProxy:", errors.Is(err, wsdial.ErrProxy))
	fmt.Println("ErrDial:", errors.Is(err, wsdial.ErrDial))
	fmt.Println("refused:", errors.Is(err, syscall.ECONNREFUSED))
	// Output:
	// last attempt: true dial
	// ErrProxy: true
	// ErrDial: false
	// refused: true
}
