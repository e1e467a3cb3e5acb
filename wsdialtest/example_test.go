package wsdialtest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/wsdialtest"
)

// An echo server to test a client against: what goes out comes back.
func ExampleNewEchoServer() {
	srv := wsdialtest.NewEchoServer()
	defer srv.Close()

	d, err := wsdial.New(wsdial.WithoutProxy())
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(wsdial.TextMessage, []byte("hello"))
	typ, msg, err := c.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(typ, string(msg))
	// Output: text hello
}

// The same over TLS: TLSConfig trusts the server's own certificate.
func ExampleNewTLSEchoServer() {
	srv := wsdialtest.NewTLSEchoServer()
	defer srv.Close()

	d, err := wsdial.New(wsdial.WithoutProxy(), wsdial.WithTLSConfig(srv.TLSConfig()))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(wsdial.BinaryMessage, []byte{1, 2, 3})
	_, msg, err := c.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.HasPrefix(srv.URL, "wss://127.0.0.1:"), msg)
	// Output: true [1 2 3]
}

// An HTTP CONNECT proxy in front of the echo server. Tunnels counts what
// went through it, so a test can tell that the proxy was used.
func ExampleNewProxy() {
	srv := wsdialtest.NewEchoServer()
	defer srv.Close()
	px := wsdialtest.NewProxy()
	defer px.Close()

	d, err := wsdial.New(wsdial.WithProxy(px.URL))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	c.Close()
	fmt.Println("tunnels:", px.Tunnels())
	// Output: tunnels: 1
}

// A SOCKS5 proxy; socks5h:// hands it the target's name.
func ExampleNewSOCKS5Proxy() {
	srv := wsdialtest.NewEchoServer()
	defer srv.Close()
	px := wsdialtest.NewSOCKS5Proxy()
	defer px.Close()

	d, err := wsdial.New(wsdial.WithProxy(px.URL))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	c.Close()
	fmt.Println(strings.HasPrefix(px.URL, "socks5://"), "tunnels:", px.Tunnels())
	// Output: true tunnels: 1
}

// A proxy that demands credentials: without them the dial fails with the
// proxy's 407; with them in the proxy URL it goes through.
func ExampleWithBasicAuth() {
	srv := wsdialtest.NewEchoServer()
	defer srv.Close()
	px := wsdialtest.NewProxy(wsdialtest.WithBasicAuth("alice", "secret"))
	defer px.Close()

	d, err := wsdial.New(wsdial.WithProxy(px.URL))
	if err != nil {
		log.Fatal(err)
	}
	_, err = d.DialWebSocket(context.Background(), srv.URL)
	var pe *wsdial.ProxyError
	if errors.As(err, &pe) {
		fmt.Println("without credentials:", pe.StatusCode, errors.Is(err, wsdial.ErrProxyAuthRequired))
	}

	u, err := url.Parse(px.URL)
	if err != nil {
		log.Fatal(err)
	}
	u.User = url.UserPassword("alice", "secret")
	d, err = wsdial.New(wsdial.WithProxy(u.String()))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	c.Close()
	fmt.Println("with them: tunnels:", px.Tunnels())
	// Output:
	// without credentials: 407 true
	// with them: tunnels: 1
}

// Reach a loopback server by a name, with TLS verified against that name.
// In a test, t.Setenv("HTTPS_PROXY", px.URL) makes the default Dialer take
// the same way: the environment never proxies loopback targets, but it does
// proxy echo.test.
func ExampleWithRoute() {
	srv := wsdialtest.NewTLSEchoServer()
	defer srv.Close()
	px := wsdialtest.NewProxy(wsdialtest.WithRoute("echo.test:443", strings.TrimPrefix(srv.URL, "wss://")))
	defer px.Close()

	d, err := wsdial.New(wsdial.WithProxy(px.URL), wsdial.WithTLSConfig(srv.TLSConfig()))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), "wss://echo.test/")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(wsdial.TextMessage, []byte("by name"))
	_, msg, err := c.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(msg), "tunnels:", px.Tunnels())
	// Output: by name tunnels: 1
}

// A proxy with a scheme of its own, to test a wsdial.ProxyAuthenticator
// against.
func ExampleWithAuthFunc() {
	srv := wsdialtest.NewEchoServer()
	defer srv.Close()
	px := wsdialtest.NewProxy(wsdialtest.WithAuthFunc(func(authorization string) (string, bool) {
		return `Token realm="gateway"`, authorization == "Token t0k3n"
	}))
	defer px.Close()

	d, err := wsdial.New(wsdial.WithProxy(px.URL), wsdial.WithProxyHeader(http.Header{"Proxy-Authorization": {"Token t0k3n"}}))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	c.Close()
	fmt.Println("tunnels:", px.Tunnels())
	// Output: tunnels: 1
}

// The echo behind a handler of your own, which sees the request first.
func ExampleEchoHandler() {
	echo := wsdialtest.EchoHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t0k3n" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		echo.ServeHTTP(w, r)
	}))
	defer srv.Close()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"

	d, err := wsdial.New(wsdial.WithoutProxy())
	if err != nil {
		log.Fatal(err)
	}
	_, err = d.DialWebSocket(context.Background(), u)
	var he *wsdial.HandshakeError
	if errors.As(err, &he) {
		fmt.Println("without the token:", he.StatusCode)
	}
	d, err = wsdial.New(wsdial.WithoutProxy(), wsdial.WithHeader(http.Header{"Authorization": {"Bearer t0k3n"}}))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), u)
	if err != nil {
		log.Fatal(err)
	}
	c.Close()
	fmt.Println("with it:", c.Response().StatusCode)
	// Output:
	// without the token: 401
	// with it: 101
}
