// Package lib puts each WebSocket client library behind one small
// interface, so that every case runs the same code over each of them.
package lib

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/url"
)

// MsgType is a WebSocket data message type, numbered as RFC 6455 opcodes.
type MsgType int

// The data message types.
const (
	Text   MsgType = 1
	Binary MsgType = 2
)

// Proxy kinds a Route may go through.
const (
	Direct  = ""
	Connect = "connect"
	SOCKS5  = "socks5"
)

// Route is a way to one endpoint: the target URL (ws:// or wss://), and the
// proxy in between, if any.
type Route struct {
	URL       string
	Proxy     string // Direct, Connect or SOCKS5
	ProxyAddr string // host:port of the proxy
	// Delayed marks a route through the delay relays, where only the time
	// to a ready connection is measured.
	Delayed bool
	// TLS is the client configuration for wss://: the bench CA as root, no
	// session cache, so every dial runs a full handshake. Adapters must not
	// modify it.
	TLS *tls.Config
}

// Secure reports whether the route ends in TLS to the target.
func (r Route) Secure() bool {
	u, err := url.Parse(r.URL)
	return err == nil && u.Scheme == "wss"
}

// Path names the route as the report does: "wss via CONNECT".
func (r Route) Path() string {
	s := "ws"
	if r.Secure() {
		s = "wss"
	}
	switch r.Proxy {
	case Connect:
		return s + " via CONNECT"
	case SOCKS5:
		return s + " via SOCKS5"
	}
	return s + " direct"
}

// proxyURL is the route's proxy as a URL.
func (r Route) proxyURL() *url.URL {
	switch r.Proxy {
	case Connect:
		return &url.URL{Scheme: "http", Host: r.ProxyAddr}
	case SOCKS5:
		return &url.URL{Scheme: "socks5", Host: r.ProxyAddr}
	}
	return nil
}

// Conn is an open WebSocket connection (or a raw-TCP one) as the cases use
// it. Reads take one goroutine at a time.
type Conn interface {
	// Write sends p as one message of type t.
	Write(t MsgType, p []byte) error
	// Read waits for the next data message and returns its payload in buf,
	// grown if it does not fit. A reused buffer should make it allocate
	// nothing where the library allows that.
	Read(buf []byte) ([]byte, error)
	// Abort drops the stream without a closing handshake, which not every
	// library has; the cases compare dials, not goodbyes.
	Abort() error
}

// DialFunc opens one connection over a route fixed when it was made.
type DialFunc func(ctx context.Context) (Conn, error)

// Dialer is a library's way over one route.
type Dialer struct {
	Dial DialFunc
	// How says how the route is taken: natively or through which hook.
	How string
}

// Library is one client library, or the raw-TCP baseline.
type Library interface {
	Name() string
	// Dialer makes what dials r, once, outside any timing, as a user keeps
	// one dialer per proxy. It fails with ErrNotApplicable when the route
	// makes no sense for the library (a baseline through a proxy).
	Dialer(r Route) (Dialer, error)
}

// ErrNotApplicable is Dialer's error for a route the library is not meant
// to take, as opposed to one it fails on.
var ErrNotApplicable = errors.New("not applicable")

// All returns every library, wsdial first, and the raw-TCP baseline last,
// which talks to the raw server at rawAddr and rawTLSAddr.
func All(rawAddr, rawTLSAddr string) []Library {
	return []Library{WSDial{}, Gorilla{}, Coder{}, Gobwas{}, GWS{}, Raw{Addr: rawAddr, TLSAddr: rawTLSAddr}}
}

// readInto reads r to its end into buf, growing it as needed, and returns
// the bytes read.
func readInto(r io.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// wrap prefixes errors with the library's name.
func wrap(lib string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", lib, err)
}
