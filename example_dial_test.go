package wsdial_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/internal/demoserver"
)

// startDemo runs an echo server and an authenticating CONNECT proxy on
// loopback for the examples; stop ends them.
func startDemo() (echo, proxy string, stop func()) {
	s := new(demoserver.Servers)
	echo, err := s.Listen(http.HandlerFunc(s.Echo))
	if err != nil {
		log.Fatal(err)
	}
	proxy, err = s.Listen(http.HandlerFunc(s.Proxy))
	if err != nil {
		log.Fatal(err)
	}
	return echo, proxy, s.Stop
}

// A Dialer made once and shared: options set the proxy, TLS and handshake,
// and every dial runs through the same stages.
func ExampleNew() {
	echo, proxy, stop := startDemo()
	defer stop()

	d, err := wsdial.New(
		wsdial.WithProxy("http://demo:wsdial-demo@"+proxy),
		wsdial.WithHeader(http.Header{"Authorization": {"Bearer token"}}),
		wsdial.WithHandshakeTimeout(10*time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), "ws://"+echo+"/chat")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.Response().Status)
	// Output: 101 Switching Protocols
}

// Dial, send a message and read the echo.
func ExampleDialer_DialWebSocket() {
	echo, _, stop := startDemo()
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := wsdial.New(wsdial.WithoutProxy())
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(ctx, "ws://"+echo+"/echo?room=1")
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
	echo, _, stop := startDemo()
	defer stop()

	nc, err := net.Dial("tcp", echo)
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

// DialContext gives a plain stream through the proxy: here, a raw TCP
// exchange that tunnels through CONNECT before it speaks.
func ExampleDialer_DialContext() {
	echo, proxy, stop := startDemo()
	defer stop()

	d, err := wsdial.New(wsdial.WithProxy("http://demo:wsdial-demo@" + proxy))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialContext(context.Background(), "tcp", echo)
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
	fmt.Println(resp.StatusCode)
	// Output: 426
}

// Tell the stages apart with errors.Is, and read what the far side said
// with errors.As.
func Example_errors() {
	echo, proxy, stop := startDemo()
	defer stop()

	// No credentials for a proxy that wants them.
	d, err := wsdial.New(wsdial.WithProxy("http://" + proxy))
	if err != nil {
		log.Fatal(err)
	}
	_, err = d.DialWebSocket(context.Background(), "ws://"+echo+"/")
	switch {
	case errors.Is(err, wsdial.ErrProxyAuthRequired):
		var pe *wsdial.ProxyError
		if errors.As(err, &pe) {
			fmt.Println("proxy said", pe.StatusCode, pe.Response.Header.Get("Proxy-Authenticate"))
		}
	case errors.Is(err, wsdial.ErrTLS):
		fmt.Println("TLS failed")
	case errors.Is(err, wsdial.ErrHandshake):
		var he *wsdial.HandshakeError
		if errors.As(err, &he) {
			fmt.Println("server said", he.StatusCode)
		}
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Println("timed out")
	}
	// Output: proxy said 407 Basic realm="wsdial demo"
}
