package compat

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/gorilla/websocket"
	"github.com/wsdial/wsdial"
)

// Each library is driven here the way its documentation shows, with two
// things added to every client that takes them: the loopback guard as its
// TCP dialer, and a one-minute handshake timeout, so that in the cancel
// scenarios only the cancel can end a dial early.
const handshakeTimeout = time.Minute

// dialConfig is what a scenario gives a client.
type dialConfig struct {
	url         string      // the WebSocket URL
	proxy       string      // the proxy URL, or "" for none
	proxyHeader http.Header // extra CONNECT headers, if the library has a way
	env         bool        // take the proxy from the environment
}

// panicked is a panic a library raised during a dial, recovered.
type panicked struct{ v any }

func (p *panicked) Error() string { return fmt.Sprint("panic: ", p.v) }

// safely runs f, turning a panic into a *panicked error: a library that
// panics is recorded as doing so rather than ending the test binary.
func safely(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicked{v}
		}
	}()
	return f()
}

// testContext is a context that ends with the test: the bound of a scenario
// that goes wrong, not a timing the scenario relies on.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

const hello = "hello through the proxy"

// wsdial: New with options, then DialWebSocket.

func wsdialDial(ctx context.Context, t *testing.T, cfg dialConfig) (*wsdial.Conn, error) {
	c := getCerts(t)
	opts := []wsdial.Option{
		wsdial.WithNetDialer(guard),
		wsdial.WithHandshakeTimeout(handshakeTimeout),
		wsdial.WithTLSConfig(&tls.Config{RootCAs: c.targetRoots}),
	}
	switch {
	case cfg.env:
		// The default: New reads the environment.
	case cfg.proxy == "":
		opts = append(opts, wsdial.WithoutProxy())
	default:
		opts = append(opts, wsdial.WithProxy(cfg.proxy), wsdial.WithProxyTLSConfig(&tls.Config{RootCAs: c.proxyRoots}))
	}
	if cfg.proxyHeader != nil {
		opts = append(opts, wsdial.WithProxyHeader(cfg.proxyHeader))
	}
	d, err := wsdial.New(opts...)
	if err != nil {
		return nil, err
	}
	return d.DialWebSocket(ctx, cfg.url)
}

func wsdialEcho(ctx context.Context, t *testing.T, cfg dialConfig) error {
	c, err := wsdialDial(ctx, t, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.WriteMessage(wsdial.TextMessage, []byte(hello)); err != nil {
		return err
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != hello {
		return fmt.Errorf("echo: got %q, %v", got, err)
	}
	return nil
}

// gorilla: a websocket.Dialer with Proxy and TLSClientConfig.

func gorillaDialer(t *testing.T, cfg dialConfig) *websocket.Dialer {
	d := &websocket.Dialer{
		NetDialContext:   guard.DialContext,
		HandshakeTimeout: handshakeTimeout,
		TLSClientConfig:  &tls.Config{RootCAs: getCerts(t).targetRoots},
	}
	switch {
	case cfg.env:
		d.Proxy = http.ProxyFromEnvironment // as in websocket.DefaultDialer
	case cfg.proxy != "":
		d.Proxy = http.ProxyURL(mustParse(t, cfg.proxy))
	}
	return d
}

func gorillaEchoClient(ctx context.Context, t *testing.T, cfg dialConfig) error {
	c, _, err := gorillaDialer(t, cfg).DialContext(ctx, cfg.url, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.WriteMessage(websocket.TextMessage, []byte(hello)); err != nil {
		return err
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != hello {
		return fmt.Errorf("echo: got %q, %v", got, err)
	}
	return nil
}

// coder: websocket.Dial with an http.Client whose Transport holds the proxy
// settings. net/http's Transport has one TLS configuration for the proxy and
// the target, so it trusts both.

func coderTransport(t *testing.T, cfg dialConfig) *http.Transport {
	tr := &http.Transport{
		DialContext:        guard.DialContext,
		TLSClientConfig:    &tls.Config{RootCAs: getCerts(t).bothRoots},
		ProxyConnectHeader: cfg.proxyHeader,
	}
	switch {
	case cfg.env:
		tr.Proxy = http.ProxyFromEnvironment // as in http.DefaultTransport
	case cfg.proxy != "":
		tr.Proxy = http.ProxyURL(mustParse(t, cfg.proxy))
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func coderDial(ctx context.Context, tr *http.Transport, rawURL string) (*coder.Conn, *http.Response, error) {
	return coder.Dial(ctx, rawURL, &coder.DialOptions{HTTPClient: &http.Client{Transport: tr}})
}

func coderEchoClient(ctx context.Context, t *testing.T, cfg dialConfig) error {
	c, _, err := coderDial(ctx, coderTransport(t, cfg), cfg.url)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	if err := c.Write(ctx, coder.MessageText, []byte(hello)); err != nil {
		return err
	}
	if _, got, err := c.Read(ctx); err != nil || string(got) != hello {
		return fmt.Errorf("echo: got %q, %v", got, err)
	}
	return nil
}

// gobwas: a ws.Dialer value. It has no proxy settings; its NetDial is the
// guard like everyone else's.

func gobwasDialer() ws.Dialer {
	return ws.Dialer{NetDial: guard.DialContext, Timeout: handshakeTimeout}
}

// gobwasRead reads one server message, first from br, the reader that
// Dial returns when the server sent bytes behind its response.
func gobwasRead(conn net.Conn, br *bufio.Reader) ([]byte, error) {
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	msg, _, err := wsutil.ReadServerData(struct {
		io.Reader
		io.Writer
	}{r, conn})
	return msg, err
}

// dialFunc dials with one library and reports only the error; the cancel
// scenarios need no more.
type dialFunc func(ctx context.Context, t *testing.T, cfg dialConfig) error

func wsdialOnly(ctx context.Context, t *testing.T, cfg dialConfig) error {
	c, err := wsdialDial(ctx, t, cfg)
	if err == nil {
		c.Close()
	}
	return err
}

func gorillaOnly(ctx context.Context, t *testing.T, cfg dialConfig) error {
	c, _, err := gorillaDialer(t, cfg).DialContext(ctx, cfg.url, nil)
	if err == nil {
		c.Close()
	}
	return err
}

func coderOnly(ctx context.Context, t *testing.T, cfg dialConfig) error {
	c, _, err := coderDial(ctx, coderTransport(t, cfg), cfg.url)
	if err == nil {
		c.CloseNow()
	}
	return err
}

func gobwasOnly(ctx context.Context, t *testing.T, cfg dialConfig) error {
	conn, _, _, err := gobwasDialer().Dial(ctx, cfg.url)
	if err == nil {
		conn.Close()
	}
	return err
}
