package wsdial_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"

	"github.com/wsdial/wsdial"
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

// Fail over from a proxy that is down to a direct connection, as a browser
// does with the PAC answer "PROXY proxy-a:8080; DIRECT". The first dial
// finds the proxy down, marks it and goes direct; for the next five minutes
// dials go direct first. Here the target is a web page on loopback, fetched
// by net/http through the Dialer.
func ExampleWithProxyList() {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer page.Close()
	proxyA := downProxies(1)[0]

	d, err := wsdial.New(wsdial.WithProxyList(func(ctx context.Context, target *url.URL) ([]*url.URL, error) {
		return []*url.URL{proxyA, nil}, nil // nil stands for DIRECT
	}))
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	resp, err := client.Get(page.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Status, string(body))
	// Output: 200 OK hello
}

// When no entry of the list gets through, the error says what each attempt
// got, matches the class of the last one, and still finds each cause.
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
