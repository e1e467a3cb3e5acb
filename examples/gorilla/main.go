// Command gorilla plugs a wsdial Dialer into gorilla/websocket, so that a
// program written against gorilla reaches its server through the proxies
// wsdial knows how to cross: HTTPS_PROXY and NO_PROXY, https:// proxies,
// SOCKS5, headers and challenge-response authentication on the CONNECT.
//
//	go run . [-proxy URL] [ws://URL | wss://URL]
//
// gorilla's Dialer picks its dial hook by scheme: ws:// goes to
// NetDialContext, and wss:// to NetDialTLSContext when it is set, in which
// case gorilla runs no TLS of its own. Filling both with wsdial's methods
// puts TLS inside the tunnel, with the target's name for SNI and for
// verification. Proxy stays nil: set, gorilla would send its own CONNECT
// through whatever the hooks return.
//
// With no URL it starts, on loopback, an echo server (plain and TLS) and a
// CONNECT proxy that wants Basic credentials, and talks to both echo servers
// through the proxy: the TLS one by the name echo.test, which only the proxy
// can resolve.
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/gorilla/websocket"
	"github.com/wsdial/wsdial"
)

func main() {
	if err := run(os.Stdout, os.Args[1:]); err != nil {
		log.Fatal(err)
	}
}

func run(out io.Writer, args []string) error {
	flags := flag.NewFlagSet("gorilla", flag.ContinueOnError)
	proxy := flags.String("proxy", "", "proxy URL; the environment's proxy when empty")
	if err := flags.Parse(args); err != nil {
		return err
	}
	var opts []wsdial.Option
	if *proxy != "" {
		opts = append(opts, wsdial.WithProxy(*proxy))
	}
	targets := flags.Args()
	if len(targets) == 0 {
		d, err := startDemo()
		if err != nil {
			return err
		}
		defer d.stop()
		defer func() { fmt.Fprintf(out, "the proxy opened %d tunnels\n", d.proxy.Tunnels()) }()
		targets = []string{d.wsURL, d.wssURL}
		opts = append(opts, wsdial.WithProxy(d.proxyURL), wsdial.WithTLSConfig(d.tlsServer.TLSConfig()))
	}

	wd, err := wsdial.New(opts...)
	if err != nil {
		return err
	}
	gd := &websocket.Dialer{
		NetDialContext:    wd.DialContext,
		NetDialTLSContext: wd.DialTLSContext,
		HandshakeTimeout:  30 * time.Second,
	}
	for _, target := range targets {
		if err := talk(out, gd, target); err != nil {
			return err
		}
	}
	return nil
}

// talk sends one message to target, prints what comes back, and closes
// with the close handshake.
func talk(out io.Writer, d *websocket.Dialer, target string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := d.DialContext(ctx, target, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	// With NetDialTLSContext set, gorilla's stream is the *tls.Conn that
	// wsdial made inside the tunnel.
	how := "no TLS"
	if tc, ok := c.NetConn().(*tls.Conn); ok {
		st := tc.ConnectionState()
		how = fmt.Sprintf("TLS to %q, verified: %v", st.ServerName, len(st.VerifiedChains) > 0)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		return err
	}
	_, msg, err := c.ReadMessage()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "< %s (%s)\n", msg, how)
	bye := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	if err := c.WriteControl(websocket.CloseMessage, bye, time.Now().Add(5*time.Second)); err != nil {
		return err
	}
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		return fmt.Errorf("%s: closing: %v", target, err)
	}
	return nil
}
