package lib

import (
	"context"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/wsdial/wsdial"
)

// Coder is github.com/coder/websocket, which dials through an
// http.Client. Its Transport.Proxy does CONNECT for wss:// and SOCKS5 for
// both schemes; for ws:// through an HTTP proxy net/http forward-proxies
// instead (GET with an absolute URL, no CONNECT), so that route goes through
// Transport.DialContext filled by a wsdial Dialer, and the native attempt's
// error is kept in How.
type Coder struct{}

// Name returns "coder".
func (Coder) Name() string { return "coder" }

// Dialer returns a coder dial function for r.
func (Coder) Dialer(r Route) (Dialer, error) {
	tr := &http.Transport{TLSClientConfig: r.TLS}
	how := "native"
	if u := r.proxyURL(); u != nil {
		tr.Proxy = http.ProxyURL(u)
		how = "native (Transport.Proxy)"
	}
	d := Dialer{How: how, Dial: coderDial(r.URL, tr)}
	if r.Proxy == Connect && !r.Secure() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := d.Dial(ctx)
		cancel()
		native := "native dial worked"
		if err != nil {
			native = "native Transport.Proxy fails: " + err.Error()
		} else {
			c.Abort()
		}
		hook, err := wsdial.New(wsdial.WithProxy(r.proxyURL().String()), wsdial.WithTLSConfig(r.TLS))
		if err != nil {
			return Dialer{}, err
		}
		tr = &http.Transport{TLSClientConfig: r.TLS, DialContext: hook.DialContext}
		d = Dialer{How: "hook: Transport.DialContext = wsdial DialContext (CONNECT); " + native, Dial: coderDial(r.URL, tr)}
	}
	return d, nil
}

func coderDial(target string, tr *http.Transport) DialFunc {
	opts := &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}}
	return func(ctx context.Context) (Conn, error) {
		c, _, err := websocket.Dial(ctx, target, opts)
		if err != nil {
			return nil, wrap("coder", err)
		}
		// coder refuses messages over 32 KiB unless told otherwise.
		c.SetReadLimit(64 << 20)
		return &coderConn{c: c}, nil
	}
}

type coderConn struct{ c *websocket.Conn }

// Write sends p as one message of type t.
func (c *coderConn) Write(t MsgType, p []byte) error {
	return c.c.Write(context.Background(), websocket.MessageType(t), p)
}

// Read reads the next message into buf through coder's Reader.
func (c *coderConn) Read(buf []byte) ([]byte, error) {
	_, r, err := c.c.Reader(context.Background())
	if err != nil {
		return buf[:0], err
	}
	return readInto(r, buf)
}

// Abort is CloseNow: no close handshake.
func (c *coderConn) Abort() error { return c.c.CloseNow() }
