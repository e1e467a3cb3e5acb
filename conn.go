package wsdial

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a WebSocket connection whose opening handshake has succeeded. It
// reads and writes the messages of RFC 6455 as a client: every frame it
// sends is masked with a fresh random key.
//
// Writes are safe for concurrent use: WriteMessage, NextWriter, Ping, Close
// and CloseWithStatus may be called from many goroutines at once, and each
// message goes out whole, never interleaved with another. (This differs from
// gorilla/websocket, which panics on concurrent writes.) A writer from
// NextWriter holds the connection's writes until it is closed; other writes,
// and the pongs that answer pings, wait for it.
//
// Reads take one goroutine at a time: ReadMessage, NextReader and the reader
// it returns. A read answers pings and handles the peer's close on its own,
// so an application that expects pings or a close must keep reading.
//
// Once a read fails, every later read returns the same error. Once the
// connection has closed, every call returns an error, never panics; errors
// for a closed connection match net.ErrClosed.
type Conn struct {
	conn net.Conn // the stream the handshake ran on; writes go here
	// raw yields any bytes read past the 101 response first, then conn.
	// Reads come from here.
	raw         net.Conn
	head        string // the 101 response head, parsed again by Response
	subprotocol string

	respOnce sync.Once
	resp     *http.Response

	readLimit     atomic.Int64
	pongHandler   atomic.Pointer[func([]byte)]
	writeDeadline atomic.Int64 // UnixNano of the write deadline; 0 for none

	// readSem is held, as a semaphore of one, by the goroutine reading; Close
	// takes it to read the peer's close when nobody else is reading.
	readSem chan struct{}
	rd      readState // guarded by readSem
	mr      messageReader

	// writeSem is held by the goroutine writing, for one frame or, through
	// NextWriter, one whole message. A channel rather than a mutex so that
	// Close can give up waiting for it.
	writeSem chan struct{}
	wr       writeState // guarded by writeSem

	// The reader leaves the payload of the latest ping here when a writer
	// holds writeSem; whoever holds it sends the pong before letting go.
	pongMu      sync.Mutex
	pongPending bool
	pongLen     int
	pongBuf     *[maxControl]byte

	stateMu   sync.Mutex
	peerClose *CloseError   // the peer's close frame, once it came
	closeRecv chan struct{} // closed when the peer's close frame came; made by closeRecvChan

	closed    atomic.Bool // the stream has been closed
	closeOnce sync.Once
	closeErr  error
}

func newConn(c net.Conn, head, subprotocol string, cfg *config) *Conn {
	conn := &Conn{
		conn:        c,
		raw:         c,
		head:        head,
		subprotocol: subprotocol,
		readSem:     make(chan struct{}, 1),
		writeSem:    make(chan struct{}, 1),
	}
	conn.readLimit.Store(cfg.readLimit)
	conn.mr.c = conn
	return conn
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
// so io.Copy and splice keep their fast paths. Reading or writing it directly
// bypasses the message layer, so mix the two only with care: bytes the
// message layer has buffered are not seen here.
func (c *Conn) NetConn() net.Conn { return c.raw }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr returns the remote network address: the proxy's when the
// connection runs through one.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetReadLimit sets the largest message, in bytes, that reads accept from
// now on. A message of exactly n bytes is allowed; a longer one fails the
// connection with StatusMessageTooBig (1009). Zero or less removes the
// limit. The default comes from WithReadLimit: 32 MiB unless set.
func (c *Conn) SetReadLimit(n int64) { c.readLimit.Store(n) }

// SetReadDeadline sets the deadline for reads, pings answered on the way
// included. A read that times out fails the connection's reads for good,
// since a frame may have been left half read. The zero time means no
// deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline for writes. A write that times out
// fails the connection's writes for good, since a frame may have been left
// half written. Close waits for the peer's close no later than this
// deadline. The zero time means no deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.writeDeadline.Store(ns)
	return c.conn.SetWriteDeadline(t)
}

// SetPongHandler makes h receive the payload of every pong that arrives.
// h runs on the goroutine that reads, during a read; it must not keep the
// payload, which the next read overwrites, and should return quickly. A nil
// h drops pongs, which is the default.
func (c *Conn) SetPongHandler(h func(payload []byte)) {
	if h == nil {
		c.pongHandler.Store(nil)
		return
	}
	c.pongHandler.Store(&h)
}

// closeStream closes the stream once and returns the result of doing so.
func (c *Conn) closeStream() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.closeErr = c.conn.Close()
	})
	return c.closeErr
}

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
