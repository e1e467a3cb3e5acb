package wsdial_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/wsdialtest"
)

// A Dialer made once and shared: options set the proxy, TLS and handshake,
// and every dial runs through the same stages.
func ExampleNew() {
	// A server and a proxy that wants credentials, standing for yours.
	srv := wsdialtest.NewEchoServer()
	defer srv.Close()
	proxy := wsdialtest.NewProxy(wsdialtest.WithBasicAuth("alice", "s3cret"))
	defer proxy.Close()
	proxyURL, err := url.Parse(proxy.URL)
	if err != nil {
		log.Fatal(err)
	}
	proxyURL.User = url.UserPassword("alice", "s3cret")

	d, err := wsdial.New(
		wsdial.WithProxy(proxyURL.String()),
		wsdial.WithHeader(http.Header{"Authorization": {"Bearer token"}}),
		wsdial.WithHandshakeTimeout(10*time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), srv.URL+"chat")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.Response().Status, "through", proxy.Tunnels(), "tunnel")
	// Output: 101 Switching Protocols through 1 tunnel
}

// New refuses an invalid option before any traffic.
func ExampleNew_invalidOption() {
	_, err := wsdial.New(wsdial.WithHeader(http.Header{"Sec-WebSocket-Key": {"mine"}}))
	fmt.Println(errors.Is(err, wsdial.ErrInvalid))
	// Output: true
}

// Dial, send a message and read the echo.
func ExampleDialer_DialWebSocket() {
	srv := wsdialtest.NewEchoServer() // stands for your server
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := wsdial.New(wsdial.WithoutProxy())
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(ctx, srv.URL+"echo?room=1")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.WriteMessage(wsdial.TextMessage, []byte("hello")); err != nil {
		log.Fatal(err)
	}
	typ, msg, err := c.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(typ, string(msg))
	// Output: text hello
}

// Run the opening handshake on a stream you already hold: here a plain TCP
// connection, but any net.Conn will do.
func ExampleHandshake() {
	srv := wsdialtest.NewEchoServer() // stands for your server
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		log.Fatal(err)
	}

	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	c, err := wsdial.Handshake(context.Background(), nc, "echo.example", "/echo", wsdial.WithOrigin("https://app.example"))
	if err != nil {
		log.Fatal(err)
	}
	c.WriteMessage(wsdial.BinaryMessage, []byte{1, 2, 3})
	_, msg, err := c.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(msg)
	// Output: [1 2 3]
}

// DialContext gives a plain stream through the proxy: here, a raw HTTP
// exchange that tunnels through CONNECT before it speaks.
func ExampleDialer_DialContext() {
	srv := wsdialtest.NewEchoServer() // stands for your server
	defer srv.Close()
	proxy := wsdialtest.NewProxy()
	defer proxy.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		log.Fatal(err)
	}

	d, err := wsdial.New(wsdial.WithProxy(proxy.URL))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialContext(context.Background(), "tcp", u.Host)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /plain HTTP/1.1\r\nHost: echo\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status, "through", proxy.Tunnels(), "tunnel")
	// Output: 426 Upgrade Required through 1 tunnel
}

// Tell the stages apart with errors.Is, and read what the far side said
// with errors.As. This is the README's switch; every branch can be taken.
// A timeout or a cancellation matches the class of the stage it struck as
// well as the context's error, so it is tested first; the proxy's 407 and
// the server's refusal come before the classes they belong to.
func Example_errors() {
	srv := wsdialtest.NewEchoServer()
	defer srv.Close()
	proxy := wsdialtest.NewProxy(wsdialtest.WithBasicAuth("alice", "s3cret"))
	defer proxy.Close()

	// No credentials for a proxy that wants them.
	d, err := wsdial.New(wsdial.WithProxy(proxy.URL))
	if err != nil {
		log.Fatal(err)
	}
	_, err = d.DialWebSocket(context.Background(), srv.URL)
	var pe *wsdial.ProxyError     // Proxy (redacted), Stage, StatusCode, Response
	var he *wsdial.HandshakeError // StatusCode, Response: headers and the first 1 KiB of body
	switch {
	case err == nil:
		fmt.Println("connected")
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("timed out:", err)
	case errors.Is(err, context.Canceled):
		fmt.Println("cancelled:", err)
	case errors.Is(err, wsdial.ErrInvalid):
		fmt.Println("refused before any traffic:", err)
	case errors.Is(err, wsdial.ErrProxyAuthRequired):
		if errors.As(err, &pe) {
			fmt.Println("the proxy wants credentials:", pe.StatusCode, pe.Response.Header.Get("Proxy-Authenticate"))
		}
	case errors.Is(err, wsdial.ErrProxy):
		fmt.Println("the proxy failed:", err)
	case errors.Is(err, wsdial.ErrDial):
		fmt.Println("the target is unreachable:", err)
	case errors.Is(err, wsdial.ErrTLS):
		fmt.Println("TLS failed:", err)
	case errors.Is(err, wsdial.ErrUpgradeDeclined):
		if errors.As(err, &he) {
			fmt.Println("the server said", he.StatusCode)
		}
	case errors.Is(err, wsdial.ErrHandshake):
		fmt.Println("the handshake failed:", err)
	}
	// Output: the proxy wants credentials: 407 Basic realm="wsdialtest"
}

// Reach a server by a name that only the proxy knows, with TLS verified
// against that name inside the tunnel.
func ExampleWithProxy() {
	srv := wsdialtest.NewTLSEchoServer() // stands for wss://chat.test/
	defer srv.Close()
	proxy := wsdialtest.NewProxy(wsdialtest.WithRoute("chat.test:443", strings.TrimPrefix(srv.URL, "wss://")))
	defer proxy.Close()

	d, err := wsdial.New(wsdial.WithProxy(proxy.URL), wsdial.WithTLSConfig(srv.TLSConfig()))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), "wss://chat.test/")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(wsdial.TextMessage, []byte("by name, through the tunnel"))
	_, msg, err := c.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(msg))
	// Output: by name, through the tunnel
}
