package lib

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// Gorilla is github.com/gorilla/websocket. It takes every route natively:
// Dialer.Proxy handles http:// (CONNECT) and socks5:// proxies.
type Gorilla struct{}

// Name returns "gorilla".
func (Gorilla) Name() string { return "gorilla" }

// Dialer returns a gorilla Dialer for r.
func (Gorilla) Dialer(r Route) (Dialer, error) {
	d := &websocket.Dialer{
		TLSClientConfig:  r.TLS,
		HandshakeTimeout: 30 * time.Second,
	}
	how := "native"
	if u := r.proxyURL(); u != nil {
		d.Proxy = http.ProxyURL(u)
		how = "native (Dialer.Proxy)"
	}
	target := r.URL
	return Dialer{How: how, Dial: func(ctx context.Context) (Conn, error) {
		c, resp, err := d.DialContext(ctx, target, nil)
		if err != nil {
			return nil, wrap("gorilla", err)
		}
		resp.Body.Close()
		return gorillaConn{c}, nil
	}}, nil
}

type gorillaConn struct{ c *websocket.Conn }

// Write sends p as one message of type t.
func (g gorillaConn) Write(t MsgType, p []byte) error { return g.c.WriteMessage(int(t), p) }

// Read reads the next message into buf through NextReader.
func (g gorillaConn) Read(buf []byte) ([]byte, error) {
	_, r, err := g.c.NextReader()
	if err != nil {
		return buf[:0], err
	}
	return readInto(r, buf)
}

// Abort closes the stream: gorilla's Close sends no close frame.
func (g gorillaConn) Abort() error { return g.c.Close() }
