package wsdial

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// h2Stream is one stream of an h2Conn, and, once its CONNECT has succeeded,
// the net.Conn that carries a WebSocket or a tunnel over it: Read takes the
// server's DATA, Write sends DATA, and Close ends the stream with END_STREAM,
// never closing the connection beneath (RFC 8441 §5.2).
//
// Every field below cc is guarded by cc.mu. Read and Write wait, outside the
// lock, on readable and writable, which the connection signals, and on their
// deadlines.
type h2Stream struct {
	cc *h2Conn
	id uint32

	head     *responseHead // the final response, once it came
	respDone chan struct{} // closed when head came, or the stream failed first

	in         h2Buf // received and not yet read
	recvWindow int64 // how much more the server may send
	recvUnread int64 // read, or dropped, and not yet given back by WINDOW_UPDATE
	readErr    error // io.EOF after END_STREAM, or why the stream failed
	readable   chan struct{}

	out        h2Buf // written and not yet taken by the writer
	sendWindow int64
	writeErr   error
	writeEnd   bool // END_STREAM is to follow out
	writable   chan struct{}
	queued     bool // in the writer's line

	framesAtOpen uint64 // the connection's frames read when s opened
	rdl, wdl     h2Deadline
	serverFirst  bool // a WebSocket: after Close, the server ends the stream first
	localEnded   bool // END_STREAM went to the writer
	remoteEnded  bool // END_STREAM came
	removed      bool // out of the connection's table: ended both ways, or reset
	closed       bool // Close was called
	linger       *time.Timer
}

var _ net.Conn = (*h2Stream)(nil)

func newH2Stream(cc *h2Conn, id uint32) *h2Stream {
	return &h2Stream{
		cc:         cc,
		id:         id,
		respDone:   make(chan struct{}),
		recvWindow: h2StreamWindow,
		sendWindow: cc.initWindow,
		readable:   make(chan struct{}, 1),
		writable:   make(chan struct{}, 1),
	}
}

// errStreamClosed is what a stream's calls return once Close has run.
var errStreamClosed = net.ErrClosed

// awaitResponse waits for the final response to the stream's request, or
// for ctx to end, which resets the stream.
func (s *h2Stream) awaitResponse(ctx context.Context) (*responseHead, error) {
	select {
	case <-s.respDone:
	case <-ctx.Done():
		s.reset(http2.ErrCodeCancel)
		if errors.Is(ctxErr(ctx), context.DeadlineExceeded) {
			s.cc.retireIfSilent(s)
		}
		return nil, ctxErr(ctx)
	}
	s.cc.mu.Lock()
	defer s.cc.mu.Unlock()
	if s.head != nil {
		return s.head, nil
	}
	if s.readErr == io.EOF {
		return nil, errors.New("the server ended the stream without a response")
	}
	return nil, s.readErr
}

// readBody reads what follows a refusal, at most limit bytes, until the
// server ends the stream, ctx ends, or refusalBodyWait has passed: what
// matters of a refusal is its head, and a server that holds its body back
// must not turn the refusal into a timeout.
func (s *h2Stream) readBody(ctx context.Context, limit int) []byte {
	dl := time.Now().Add(refusalBodyWait)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	s.SetReadDeadline(dl)
	stop := context.AfterFunc(ctx, func() { s.SetReadDeadline(aLongTimeAgo) })
	defer stop()
	var body []byte
	buf := make([]byte, 512)
	for len(body) < limit {
		n, err := s.Read(buf[:min(len(buf), limit-len(body))])
		body = append(body, buf[:n]...)
		if err != nil {
			break
		}
	}
	return body
}

// reset ends the stream with RST_STREAM code and releases it.
func (s *h2Stream) reset(code http2.ErrCode) {
	cc := s.cc
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.resetLocked(s, code)
	if !s.closed {
		s.closed = true
		cc.releaseLocked()
	}
}

// Read and Write wait on a channel that holds one wake-up. A call that
// takes the wake-up passes it on when it leaves something for another (bytes
// to read, room to write, an end), so that every call waiting at once
// returns in turn.

func (s *h2Stream) Read(b []byte) (int, error) {
	cc := s.cc
	for {
		cc.mu.Lock()
		n, err, done := s.tryReadLocked(b)
		if done {
			if s.in.len() > 0 || err != nil {
				s.signalReadable()
			}
			cc.mu.Unlock()
			return n, err
		}
		wait := s.rdl.waitLocked()
		cc.mu.Unlock()
		select {
		case <-s.readable:
		case <-wait:
		}
	}
}

// tryReadLocked is one attempt of Read; done is false when it must wait.
func (s *h2Stream) tryReadLocked(b []byte) (n int, err error, done bool) {
	switch {
	case s.closed:
		return 0, errStreamClosed, true
	case s.rdl.passed:
		return 0, os.ErrDeadlineExceeded, true
	case s.in.len() > 0:
		n = s.in.read(b)
		s.creditLocked(int64(n), false)
		return n, nil, true
	case s.readErr != nil:
		return 0, s.readErr, true
	case len(b) == 0:
		return 0, nil, true
	}
	return 0, nil, false
}

func (s *h2Stream) Write(b []byte) (int, error) {
	cc := s.cc
	n := 0
	for {
		cc.mu.Lock()
		if err, done := s.writeEndedLocked(len(b)); done {
			if err != nil || s.pendingLocked() < h2StreamBuffer {
				s.signalWritable()
			}
			cc.mu.Unlock()
			return n, err
		}
		if room := h2StreamBuffer - s.pendingLocked(); room > 0 {
			k := min(room, len(b))
			s.out.write(b[:k])
			b = b[k:]
			n += k
			if s.sendWindow > 0 {
				cc.readyLocked(s)
			}
			if len(b) == 0 {
				// Done: what comes after, even the reset of a server that
				// has answered these very bytes, is for the next call.
				if s.pendingLocked() < h2StreamBuffer {
					s.signalWritable()
				}
				cc.mu.Unlock()
				return n, nil
			}
			cc.mu.Unlock()
			continue
		}
		wait := s.wdl.waitLocked()
		cc.mu.Unlock()
		select {
		case <-s.writable:
		case <-wait:
		}
	}
}

// writeEndedLocked says whether Write, with left bytes still to write, is
// done, and with what error.
func (s *h2Stream) writeEndedLocked(left int) (err error, done bool) {
	switch {
	case s.closed:
		return errStreamClosed, true
	case s.writeErr != nil:
		return s.writeErr, true
	case s.writeEnd:
		return errors.New("write after CloseWrite"), true
	case s.wdl.passed:
		return os.ErrDeadlineExceeded, true
	case left == 0:
		return nil, true
	}
	return nil, false
}

// CloseWrite ends the sending side with END_STREAM, after whatever Write
// has left for the writer, as TCP's CloseWrite sends FIN.
func (s *h2Stream) CloseWrite() error {
	cc := s.cc
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if s.closed {
		return errStreamClosed
	}
	s.endWriteLocked()
	return nil
}

func (s *h2Stream) endWriteLocked() {
	if s.writeEnd || s.removed {
		return
	}
	s.writeEnd = true
	s.cc.readyLocked(s)
}

// Close ends the stream as TCP's close would: END_STREAM follows whatever
// Write has left, and the server has h2Linger to end its side before the
// stream is reset. Bytes that arrive meanwhile are dropped. A WebSocket's
// stream (serverFirst) leaves the server to end first, as RFC 6455 §7.1.1
// has the server close the TCP connection first: its END_STREAM follows the
// server's, or the reset comes if the server's does not.
func (s *h2Stream) Close() error {
	cc := s.cc
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if s.closed {
		return errStreamClosed
	}
	s.closed = true
	cc.releaseLocked()
	s.signalReadable()
	s.signalWritable()
	// What nobody will read goes back to the server's window, so that it can
	// finish its side.
	s.creditLocked(int64(s.in.len()), true)
	s.in.reset()
	if s.removed {
		return nil
	}
	if !s.serverFirst || s.remoteEnded {
		s.endWriteLocked()
	}
	if !s.remoteEnded {
		s.linger = time.AfterFunc(h2Linger, func() {
			cc.mu.Lock()
			cc.resetLocked(s, http2.ErrCodeCancel)
			cc.mu.Unlock()
		})
	}
	return nil
}

func (s *h2Stream) LocalAddr() net.Addr  { return s.cc.nc.LocalAddr() }
func (s *h2Stream) RemoteAddr() net.Addr { return s.cc.nc.RemoteAddr() }

func (s *h2Stream) SetDeadline(t time.Time) error {
	s.cc.mu.Lock()
	defer s.cc.mu.Unlock()
	s.rdl.setLocked(&s.cc.mu, t)
	s.wdl.setLocked(&s.cc.mu, t)
	return nil
}

func (s *h2Stream) SetReadDeadline(t time.Time) error {
	s.cc.mu.Lock()
	defer s.cc.mu.Unlock()
	s.rdl.setLocked(&s.cc.mu, t)
	return nil
}

func (s *h2Stream) SetWriteDeadline(t time.Time) error {
	s.cc.mu.Lock()
	defer s.cc.mu.Unlock()
	s.wdl.setLocked(&s.cc.mu, t)
	return nil
}

// leaveEndToServer makes s a WebSocket's stream, which the server ends
// first once the application has closed it.
func (s *h2Stream) leaveEndToServer() {
	s.cc.mu.Lock()
	s.serverFirst = true
	s.cc.mu.Unlock()
}

// pendingLocked is how much of what Write took the writer has yet to take.
func (s *h2Stream) pendingLocked() int { return s.out.len() }

// creditLocked gives n bytes that left the stream's buffer back to the
// server, by WINDOW_UPDATE once a quarter of the window has gathered, or at
// once if now.
func (s *h2Stream) creditLocked(n int64, now bool) {
	if n <= 0 && !now {
		return
	}
	s.recvUnread += n
	if s.remoteEnded || s.removed || s.recvUnread == 0 {
		return
	}
	if now || s.recvUnread >= h2StreamWindow/4 {
		s.cc.queueLocked(h2Frame{typ: http2.FrameWindowUpdate, stream: s.id, incr: uint32(s.recvUnread)})
		s.recvWindow += s.recvUnread
		s.recvUnread = 0
	}
}

// endReadLocked ends the reading side with err (io.EOF for END_STREAM),
// unless it ended already; bytes buffered before it are still read first.
func (s *h2Stream) endReadLocked(err error) {
	if s.readErr != nil {
		return
	}
	s.readErr = err
	if s.head == nil {
		close(s.respDone)
	}
	s.signalReadable()
}

// failLocked ends both sides with err. What Write left unsent is dropped.
func (s *h2Stream) failLocked(err error) {
	s.endReadLocked(err)
	if s.writeErr == nil {
		s.writeErr = err
	}
	s.out.reset()
	s.signalWritable()
}

// stopLocked stops the stream's timers once it leaves the table.
func (s *h2Stream) stopLocked() {
	s.rdl.stopLocked()
	s.wdl.stopLocked()
	if s.linger != nil {
		s.linger.Stop()
	}
}

func (s *h2Stream) signalReadable() {
	select {
	case s.readable <- struct{}{}:
	default:
	}
}

func (s *h2Stream) signalWritable() {
	select {
	case s.writable <- struct{}{}:
	default:
	}
}

// h2Deadline is a read or write deadline of a stream, guarded by its
// connection's mu. A waiter takes waitLocked's channel, which closes when
// the deadline passes, also one set after the wait began; setting a new
// deadline lifts a passed one.
type h2Deadline struct {
	at     time.Time
	timer  *time.Timer
	ch     chan struct{} // made for the first waiter; closed when the deadline passes
	passed bool
	gen    uint64 // counts settings, so that a stale timer does nothing
}

// closedChan is a channel that is always closed.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (d *h2Deadline) setLocked(mu *sync.Mutex, t time.Time) {
	d.stopLocked()
	d.gen++
	d.at = t
	if d.passed {
		d.passed, d.ch = false, nil // its waiters have gone
	}
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		d.expireLocked()
		return
	}
	gen := d.gen
	d.timer = time.AfterFunc(wait, func() {
		mu.Lock()
		if d.gen == gen {
			d.expireLocked()
		}
		mu.Unlock()
	})
}

func (d *h2Deadline) expireLocked() {
	d.passed = true
	if d.ch != nil {
		close(d.ch)
	}
}

func (d *h2Deadline) waitLocked() <-chan struct{} {
	switch {
	case d.passed:
		return closedChan
	case d.ch == nil:
		d.ch = make(chan struct{})
	}
	return d.ch
}

func (d *h2Deadline) stopLocked() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}
