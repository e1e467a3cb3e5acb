package wsdial

import (
	"net"
	"net/http"
	"sync"
)

// Conn is a WebSocket connection whose opening handshake has succeeded.
type Conn struct {
	conn net.Conn // the stream the handshake ran on
	// raw yields any bytes read past the 101 response first, then conn.
	raw         net.Conn
	head        string // the 101 response head, parsed again by Response
	subprotocol string
	readLimit   int64

	respOnce sync.Once
	resp     *http.Response
}

func newConn(c net.Conn, head, subprotocol string, cfg *config) *Conn {
	return &Conn{conn: c, raw: c, head: head, subprotocol: subprotocol, readLimit: cfg.readLimit}
}

// setPending makes b, bytes that arrived behind the 101 response, the first
// bytes read from the stream.
func (c *Conn) setPending(b []byte) {
	c.raw = &prefixConn{Conn: c.conn, pending: b}
}

// Response returns the server's 101 response, headers intact, with an empty body.
func (c *Conn) Response() *http.Response {
	c.respOnce.Do(func() {
		var fields [16]headerField
		// The head parsed once already, in the handshake, so it parses again.
		h, _ := parseHead(c.head, fields[:])
		c.resp = h.response(nil)
	})
	return c.resp
}

// Subprotocol returns the subprotocol the server chose, or "" if none.
func (c *Conn) Subprotocol() string { return c.subprotocol }

// NetConn returns the stream beneath the WebSocket protocol. Bytes that the
// server sent right behind its 101 response, already read by the handshake,
// come first. When there were none, it is the underlying connection itself,
// so io.Copy and splice keep their fast paths.
func (c *Conn) NetConn() net.Conn { return c.raw }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the remote network address: the proxy's when the
// connection runs through one.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// Close closes the stream.
func (c *Conn) Close() error { return c.conn.Close() }

// prefixConn is a net.Conn whose reads yield pending before the stream.
type prefixConn struct {
	net.Conn
	pending []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pending) == 0 {
		return p.Conn.Read(b)
	}
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	return n, nil
}
