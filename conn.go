package wsdial

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
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
// NextWriter holds the connection's messages until it is closed: other
// messages wait for it, and so does Close, for at most a second, before it
// cuts the message short. Control frames do not wait for it: pings, and the
// pongs that answer the peer's, go out between its frames.
//
// Reads take one goroutine at a time: ReadMessage, NextReader and the reader
// it returns. A read answers pings and handles the peer's close on its own,
// so an application that expects pings or a close must keep reading, unless
// it uses WithKeepAlive, whose keepalive does the same at each of its turns
// while no read is under way.
//
// What the connection writes on its own behalf ignores the write deadline:
// an application that sets a deadline before each write, which then passes
// while the connection idles, does not lose the connection to the next
// ping. A pong goes out from a goroutine of its own, without a deadline,
// once the peer takes it, and the read goes on meanwhile; the answer to the
// peer's close and the close frame of Close go out under a deadline of
// their own, a second from then.
//
// Once a read fails, every later read returns the same error. Once the
// connection has closed, every call returns an error, never panics. So does
// every call on a zero Conn, one that no dial or Handshake made, whose errors
// match net.ErrClosed. After the application's own Close or CloseWithStatus,
// reads and writes return errors that match net.ErrClosed; a read's keeps
// the peer's close, or its breach of the protocol, reachable with errors.As.
type Conn struct {
	// The rules, written once here.
	//
	// Locks. readSem (rd.sem) is held by the one goroutine that reads: NextReader,
	// ReadMessage, the Read of a message's reader, Close, which takes it
	// within a second to read the peer's close, and the keepalive's look,
	// which takes it only when it is free and gives it up at once to a read
	// that waits (lockRead); rd is guarded by it. Writes
	// take two locks, in this order: msgSem is held by one data message from
	// its start to its last frame (WriteMessage for its length, NextWriter
	// until its writer is closed), and by Close, within a second, so as not
	// to cut a message short; frameSem is held while the bytes of one frame
	// go out. Control frames take frameSem alone, so they go out between the
	// frames of a message; the reader takes it within a second, for a close
	// frame, and never waits for msgSem. Pongs are handed through pongs to a
	// goroutine that takes frameSem, so the reader waits for them only when a
	// batch waits full, and for a second at most. The application's frames
	// wait for frameSem no later than its write deadline. wr
	// says which lock guards each of its fields. The three are sems, locks
	// that can be waited for within a bound.
	//
	// Failures. A read that fails leaves rd.err set for good: nothing ever
	// resumes a read that may have stopped inside a frame. A write that fails
	// having sent part of a frame, or of a message, leaves wr.err set for
	// good; one that sent nothing fails its own message alone.
	//
	// Deadlines. The application's read deadline is the stream's. Its write
	// deadline is the stream's too, except while a control frame that the
	// connection sends on its own behalf (a pong, without a deadline; a
	// keepalive ping; the answer to the peer's close, the close of Close or
	// of a failing read) goes out under a deadline of its own and then puts
	// writeDeadline back; deadlineMu orders
	// that with SetWriteDeadline, so the stream always ends with the deadline
	// the application set last. Close reads the peer's close under a read
	// deadline of its own, which SetReadDeadline, called from a pong handler
	// say, leaves alone, and then closes the stream. The keepalive's look
	// reads under a read deadline of its own too, and puts the application's
	// back, as SetReadDeadline records it in ka, when it is done.
	//
	// Lent state. What only a read needs, rd's readMsg (the read buffer and
	// the place in it, the frame and the message being read, the readers
	// NextReader hands out), is lent from readMsgs whenever the read side
	// is taken, and given back when it is let go, or when the read waits for
	// the stream between messages, unless a message is begun or bytes wait:
	// a connection idle between messages holds none of it, whether a read
	// is parked on it or not. rd.buf is lent from readBufs while bytes wait
	// in it or a read is under way; a read that waits with nothing buffered
	// waits instead in a small buffer on its stack, on TCP and TLS, or in
	// one lent from waitBufs (readWaiting). A data message's messageWriter
	// is WriteMessage's, lent from messageWriters, or that of NextWriter's
	// handle, and its write buffer is lent from writeBufs, for the length of
	// the message. The 101 head is kept packed (headcode.go). Control
	// frames are built on the stack. The permessage-deflate state,
	// rd.inflate and wr.deflate, borrows its decompressor and compressor for
	// one message at a time, unless context takeover keeps the compressor;
	// an idle connection holds neither buffer.

	// Set by the handshake, then only read. They are few and small, as is
	// the rest, since an idle connection is all this struct.
	s              stream                     // the stream: every write, deadline and Close goes here
	pending        atomic.Pointer[prefixConn] // while bytes read past the 101 response wait: s behind them, which reads come from
	head           string                     // the 101 response head, packed (headcode.go), parsed again by Response
	subOff, subLen uint32                     // the subprotocol, as it stands in head
	resp           atomic.Pointer[http.Response]

	// Settings the application may change at any time, from any goroutine.
	readLimit   atomic.Int64
	pongHandler atomic.Pointer[func([]byte)]

	rd readState // with its lock, rd.sem

	msgSem   sem
	frameSem sem
	wr       writeState

	deadlineMu    sync.Mutex
	writeDeadline atomic.Int64 // the application's, as it set it last, in Unix nanoseconds; 0 for none; closedDeadline once the stream has closed
	ownDeadline   bool         // a control frame is going out under its own deadline
	closeReading  bool         // Close reads the peer's close under a read deadline of its own
	pongWriting   bool         // a sendPongs goroutine runs, and takes every batch that waits

	appClosed atomic.Bool // Close or CloseWithStatus was called
	closed    atomic.Bool // the stream is closed
	closeOnce sync.Once

	ka *keepAlive // WithKeepAlive's; nil when off

	pongs *pongBatch // pongs waiting for sendPongs or a close frame; guarded by deadlineMu
}

// readState is the reading side of a Conn, guarded by its sem. A
// message is read through a chain of io.Readers (see frameReader), whose end
// chain returns.
type readState struct {
	// What only a read under way, a message begun or bytes that wait need,
	// lent as the rules at the top of Conn say (holdRead, dropRead).
	*readMsg

	err error // the first failure; every later read returns it, and it is never cleared

	// rsvAllowed holds the reserved bits that a negotiated extension gives a
	// meaning to: RSV1, on a message's first frame, with permessage-deflate.
	rsvAllowed byte
	sem        sem       // the lock of the read side, readSem in Conn's rules
	inflate    *inflater // permessage-deflate's reading side; nil when not negotiated
}

// readMsg is the part of readState that a Conn borrows while it reads.
type readMsg struct {
	buf      *[readBufSize]byte // lent while bytes wait in it or a read is under way
	pos, end int                // buf[pos:end] is read but not yet consumed

	remain int64 // payload bytes of the frame being read still to read

	// The message being read.
	length     int64          // its length so far, as its frames' headers announce it
	inflated   int64          // its length so far out of the decompressor, which the read limit bounds
	cur        *messageReader // the reader NextReader handed out for it; nil once it is over
	fin        bool           // its frame being read is its last
	inMessage  bool           // its frames are not all read
	compressed bool           // its frames carry permessage-deflate data
	text       bool           // it is text, whose UTF-8 is checked
	open       bool           // it has begun and its chain has not yet returned io.EOF
	utf8       utf8State      // the UTF-8 check of its text so far

	// The readers NextReader hands out stay with the record from one
	// connection to the next: each is handed out once, ever, so one kept
	// past its message never matches a later cur, whichever connection the
	// record serves by then.
	spare      []messageReader
	lastSpares uint8 // how many readers the last allocation of spare made
}

// readMsgs lends the records of readMsg.
var readMsgs = sync.Pool{New: func() any { return new(readMsg) }}

// holdRead lends c the record of its read side, if it holds none. The
// caller has just taken the read side.
func (c *Conn) holdRead() {
	if c.rd.readMsg == nil {
		c.rd.readMsg = readMsgs.Get().(*readMsg)
	}
}

// dropRead gives the record back when nothing in it outlives the read: no
// bytes wait, and no message is begun. The caller holds the read side, and
// has given back the read buffer if it could.
func (c *Conn) dropRead() {
	m := c.rd.readMsg
	if m == nil || m.buf != nil || m.inMessage || m.open {
		return
	}
	c.rd.readMsg = nil
	*m = readMsg{spare: m.spare, lastSpares: m.lastSpares}
	readMsgs.Put(m)
}

// writeState is the writing side of a Conn.
type writeState struct {
	// Guarded by frameSem.
	err       error // a failure that may have left a frame half sent; every later write returns it
	closeSent bool  // a close frame went out, or was tried: no data frame may follow

	// Guarded by msgSem. cut stands beside closeSent, in the room it
	// leaves.
	cut     bool      // a message was cut short, a frame of it not sent by the write deadline: no data frame may follow
	deflate *deflater // permessage-deflate's writing side; nil when not negotiated
}

// messageWriter writes one data message of a Conn, as frames gathered in a
// write buffer: the payload goes to the frames directly, or through the
// compressor first. WriteMessage borrows one from messageWriters for its
// message; the handle NextWriter returns has one of its own. It is used
// under msgSem.
type messageWriter struct {
	c    *Conn
	wb   *writeBuf // lent for the message
	n    int       // bytes gathered in wb.b after maxHeader bytes of room
	op   byte      // the next frame's opcode: the message's type, then continuation
	rsv  byte      // the next frame's reserved bits: RSV1 on a compressed message's first frame
	mode byte      // sendPlain, sendDeflated or sendUndecided
}

var messageWriters = sync.Pool{New: func() any { return new(messageWriter) }}

// frameReader, limitReader and utf8Reader are the links of a message's
// chain of readers, each an io.Reader with one job: the payload of the
// message's frames, read frame after frame, control frames handled on the
// way (read.go); the read limit on what the decompressor gives out (read.go);
// the UTF-8 check of a text message (utf8.go). Between frames and limit comes
// the decompressor, rd.inflate (inflate.go). The links are views of their
// Conn, with no state of their own beyond rd's, so a chain costs nothing to
// set up for each message.
type (
	frameReader Conn
	limitReader Conn
	utf8Reader  Conn
)

// stream is what the message layer runs over: a reliable byte stream with
// deadlines, such as a TCP or TLS connection, or later an HTTP/2 stream.
type stream interface {
	io.ReadWriteCloser
	SetReadDeadline(t time.Time) error
	SetWriteDeadline(t time.Time) error
}

// newConn makes the Conn of a handshake that succeeded over c, whose
// response head is head, packed or not (headcode.go), with subprotocol, a
// part of head, chosen.
func newConn(c net.Conn, head, subprotocol string, cfg *config) *Conn {
	conn := &Conn{s: c, head: head}
	// Any place in head that holds the same bytes will do; the value came
	// from a header of head.
	if i := strings.Index(head, subprotocol); subprotocol != "" && i >= 0 {
		conn.subOff, conn.subLen = uint32(i), uint32(len(subprotocol))
	}
	conn.readLimit.Store(cfg.readLimit)
	return conn
}

// setPending makes b, bytes that arrived behind the 101 response, the first
// bytes read from the stream.
func (c *Conn) setPending(b []byte) {
	c.pending.Store(&prefixConn{Conn: c.s.(net.Conn), pending: b, owner: &c.pending})
}

// netConn is what reads come from: the stream, behind any bytes read past
// the 101 response.
func (c *Conn) netConn() net.Conn {
	if p := c.pending.Load(); p != nil {
		return p
	}
	nc, _ := c.s.(net.Conn) // nil on a zero Conn
	return nc
}

// Response returns the server's 101 response, headers intact, with an empty body.
func (c *Conn) Response() *http.Response {
	if r := c.resp.Load(); r != nil {
		return r
	}
	var fields [16]headerField
	// The head parsed once already, in the handshake, so it parses again;
	// of two calls at once, both parse, and the first to finish is kept.
	h, _ := parseKept(c.head, fields[:])
	c.resp.CompareAndSwap(nil, h.response(nil))
	return c.resp.Load()
}

// Subprotocol returns the subprotocol the server chose, or "" if none.
func (c *Conn) Subprotocol() string { return c.head[c.subOff : c.subOff+c.subLen] }

// NetConn returns the stream beneath the WebSocket protocol. Bytes that the
// server sent right behind its 101 response, already read by the handshake,
// come first, through a wrapper. When there were none, or once a read has
// taken them, it is the underlying connection itself, so io.Copy and splice
// keep their fast paths. Reading or writing it directly bypasses the
// message layer, so mix the two only with care: bytes the message layer
// has buffered are not seen here. It is nil on a zero Conn.
func (c *Conn) NetConn() net.Conn { return c.netConn() }

// LocalAddr returns the local network address; nil on a zero Conn.
func (c *Conn) LocalAddr() net.Addr {
	if c.unopened() {
		return nil
	}
	return c.netConn().LocalAddr()
}

// RemoteAddr returns the remote network address: the proxy's when the
// connection runs through one; nil on a zero Conn.
func (c *Conn) RemoteAddr() net.Addr {
	if c.unopened() {
		return nil
	}
	return c.netConn().RemoteAddr()
}

// errUnopened is what the calls on a zero Conn return: it has no stream,
// which a call would use.
var errUnopened error = &closedError{msg: "wsdial: use of a Conn that no dial or Handshake opened"}

// unopened reports whether c is a zero Conn, whose calls return errUnopened.
func (c *Conn) unopened() bool { return c.s == nil }

// SetReadLimit sets the largest message, in bytes, that reads accept from
// now on. A message of exactly n bytes is allowed; a longer one fails the
// connection with StatusMessageTooBig (1009). Zero or less removes the
// limit. The default comes from WithReadLimit: 32 MiB unless set.
func (c *Conn) SetReadLimit(n int64) { c.readLimit.Store(n) }

// SetReadDeadline sets the deadline for reads, pings answered on the way
// included, though a read may end up to a second past it while the answer
// to the peer's close waits for a frame being written, or pongs wait for a
// peer that floods pings to take them. A read that times out fails
// the connection's reads for good, since a frame may have been left half
// read. The zero time means no deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	if c.unopened() {
		return errUnopened
	}
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	if k := c.ka; k != nil {
		k.readDeadline = 0
		if !t.IsZero() {
			k.readDeadline = t.UnixNano()
		}
		if k.peeking {
			return nil // the keepalive's look puts t on the stream when it is done
		}
	}
	if c.closeReading {
		return nil // Close is reading the peer's close, by its own bound, and closes the stream next
	}
	return c.s.SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline for the application's writes:
// WriteMessage, the frames of NextWriter's writers, and Ping. A write that
// times out having sent part of its message fails the connection's writes
// for good; one that sent nothing of it fails that message alone, unless
// the stream fails every write after a timeout, as a *tls.Conn does. The
// frames the connection sends on its own behalf, and Close's, go out under a
// deadline of their own, and leave this one in place. The zero time means no
// deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	if c.unopened() {
		return errUnopened
	}
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	var d int64
	if !t.IsZero() {
		d = t.UnixNano()
	}
	// d is stored before closed is read, as closing sets closed before it
	// stores closedDeadline: either this sees closed, or closing's store
	// comes after d. Checking first and storing once would let d overwrite
	// closedDeadline.
	c.writeDeadline.Store(d)
	if c.closed.Load() {
		// Closing has woken the waits, or is about to: none may wait again
		// by d.
		c.writeDeadline.Store(closedDeadline)
	}
	// Writes that wait for a lock keep to the new deadline.
	c.msgSem.deadlineMoved()
	c.frameSem.deadlineMoved()
	if c.ownDeadline {
		return nil // the control frame going out puts t on the stream when it is done
	}
	return c.s.SetWriteDeadline(t)
}

// SetPongHandler makes h receive the payload of every pong that arrives,
// those that answer the keepalive's pings included. h runs on the goroutine
// that reads, during a read, or, with WithKeepAlive and no read under way,
// on the keepalive's; it must not keep the payload, which the next read
// overwrites, and should return quickly: while it runs nothing else is read,
// so one that blocks can make the keepalive take a live peer for dead. A nil
// h drops pongs, which is the default.
func (c *Conn) SetPongHandler(h func(payload []byte)) {
	if h == nil {
		c.pongHandler.Store(nil)
		return
	}
	c.pongHandler.Store(&h)
}

// closeStream closes the stream once, and returns the result of doing so
// to the call that did; the others wait for it and return nil.
func (c *Conn) closeStream() error {
	var err error
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.stopKeepAlive()
		c.wakeWriters()
		err = c.s.Close()
	})
	return err
}

// closedDeadline is the write deadline once the stream has closed, long
// past, so that writes waiting for a lock stop waiting.
const closedDeadline = 1

// wakeWriters ends the waits of writes for msgSem and frameSem once the
// stream has closed: without a deadline, one behind a writer its owner
// never closes would wait on without end.
func (c *Conn) wakeWriters() {
	c.writeDeadline.Store(closedDeadline)
	c.msgSem.deadlineMoved()
	c.frameSem.deadlineMoved()
}

// endStream closes the stream once a close frame has been tried, sent
// being what its write returned, or an error of its own when the peer is
// taken for gone and none was tried. When the frame did not go out, the
// peer is not reading, and the stream beneath any TLS is closed instead of the TLS:
// a *tls.Conn's Close sends close_notify under a deadline of five seconds
// of its own, which a peer that does not read would make it wait out. Like
// closeStream, it returns the result of closing to the call that did.
func (c *Conn) endStream(sent error) error {
	tc, ok := c.s.(*tls.Conn)
	if sent == nil || errors.Is(sent, errCloseSent) || !ok {
		return c.closeStream()
	}
	var err error
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.stopKeepAlive()
		c.wakeWriters()
		nc := tc.NetConn()
		for inner, ok := nc.(*tls.Conn); ok; inner, ok = nc.(*tls.Conn) {
			nc = inner.NetConn() // TLS to a proxy, beneath the target's
		}
		err = nc.Close()
	})
	return err
}

// prefixConn is a net.Conn whose reads yield pending before the stream.
type prefixConn struct {
	net.Conn
	pending []byte
	// owner, if not nil, holds p while bytes wait: the read that takes the
	// last of them takes p out, so that the stream is itself again, to a
	// type switch on NetConn and to a read that waits (readWaiting).
	owner *atomic.Pointer[prefixConn]
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pending) == 0 {
		return p.Conn.Read(b)
	}
	n := copy(b, p.pending)
	p.pending = p.pending[n:]
	if len(p.pending) == 0 && p.owner != nil {
		p.owner.CompareAndSwap(p, nil)
	}
	return n, nil
}
