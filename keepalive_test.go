package wsdial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsdial/wsdial/wsdialtest"
)

// Test settings: a keepalive that turns often, with a timeout long enough
// that a loaded machine running the race detector does not miss a pong in
// it, and a bound on every wait that only a broken keepalive reaches. No
// test asserts on how fast anything is; each waits for an event, no longer
// than waitBound.
const (
	kaInterval = 50 * time.Millisecond
	kaTimeout  = time.Second
	waitBound  = 10 * time.Second
)

// kaServer is the server end of a keepalive test. It reads the client's
// frames on a goroutine of its own, answers pings with pongs while answer is
// set, echoes single-frame data messages while echo is, and keeps every
// frame in order.
type kaServer struct {
	p      *peer
	answer atomic.Bool
	echo   atomic.Bool
	pinged chan struct{} // a token for each ping
	ended  chan struct{} // closed when the client's stream ends, or a frame is malformed
	err    error         // why it ended: nil for EOF; set before ended closes

	mu     sync.Mutex
	frames []clientFrame
}

func serveKeepAlive(t *testing.T, p *peer, answer bool) *kaServer {
	t.Helper()
	s := &kaServer{p: p, pinged: make(chan struct{}, 1<<16), ended: make(chan struct{})}
	s.answer.Store(answer)
	s.echo.Store(true)
	go func() {
		defer close(s.ended)
		for {
			f, err := p.readFrame()
			if err != nil {
				if !errors.Is(err, io.EOF) && !isReset(err) && !errors.Is(err, net.ErrClosed) {
					s.err = err
				}
				return
			}
			if !f.masked {
				s.err = errors.New("client sent an unmasked frame")
				return
			}
			s.mu.Lock()
			s.frames = append(s.frames, f)
			s.mu.Unlock()
			switch {
			case f.op == opPing:
				if s.answer.Load() {
					p.c.Write(frame(fin|opPog, f.payload))
				}
				s.pinged <- struct{}{}
			case f.op == opClose:
				p.c.Write(frame(fin|opCls, f.payload))
			case f.fin && f.op != opContinuation && s.echo.Load():
				p.c.Write(frame(fin|f.op, f.payload))
			}
		}
	}()
	t.Cleanup(func() {
		p.c.Close()
		<-s.ended
	})
	return s
}

// waitPings waits for n more pings from the client.
func (s *kaServer) waitPings(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(waitBound)
	for i := range n {
		select {
		case <-s.pinged:
		case <-s.ended:
			t.Fatalf("the client's stream ended after %d of %d pings: %v", i, n, s.err)
		case <-timeout:
			t.Fatalf("%d of %d pings came within %v", i, n, waitBound)
		}
	}
}

// waitPongs waits for the client to have sent n pongs in all.
func (s *kaServer) waitPongs(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(waitBound)
	for {
		s.mu.Lock()
		got := 0
		for _, f := range s.frames {
			if f.op == opPong {
				got++
			}
		}
		s.mu.Unlock()
		if got == n {
			return
		}
		select {
		case <-s.pinged: // the client's pings come on, with its pongs between
		case <-deadline:
			t.Fatalf("%d of %d pings answered", got, n)
		}
	}
}

// waitEnd waits for the client's stream to end.
func (s *kaServer) waitEnd(t *testing.T) {
	t.Helper()
	select {
	case <-s.ended:
	case <-time.After(waitBound):
		t.Fatalf("the client's stream was still open after %v", waitBound)
	}
}

// pingCount is how many pings the server has received.
func (s *kaServer) pingCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.frames {
		if f.op == opPing {
			n++
		}
	}
	return n
}

// echoCheck sends msg and checks that the echo comes back.
func echoCheck(t *testing.T, conn *Conn, msg string) {
	t.Helper()
	if err := conn.WriteMessage(TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, got, err := conn.ReadMessage(); err != nil || string(got) != msg {
		t.Fatalf("echo: %q, %v", got, err)
	}
}

// reading keeps a read blocked on conn, on a goroutine of its own, until it
// fails: every message it gets goes to msgs, and its error to the channel
// it returns.
func reading(conn *Conn, msgs chan<- []byte) <-chan error {
	done := make(chan error, 1)
	go func() {
		for {
			_, p, err := conn.ReadMessage()
			if err != nil {
				done <- err
				return
			}
			if msgs != nil {
				msgs <- p
			}
		}
	}()
	return done
}

// eachReader runs f twice, as subtests: with a read blocked on the
// connection all along, and with none.
func eachReader(t *testing.T, f func(t *testing.T, withReader bool)) {
	for _, withReader := range []bool{true, false} {
		name := "no reader"
		if withReader {
			name = "reader blocked"
		}
		t.Run(name, func(t *testing.T) { f(t, withReader) })
	}
}

// checkKeepAliveErr checks that err is the keepalive's verdict.
func checkKeepAliveErr(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, ErrKeepAliveTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("%s: %v, want an error matching ErrKeepAliveTimeout and os.ErrDeadlineExceeded", what, err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%s: %v is not a net.Error that times out", what, err)
	}
	if errors.Is(err, net.ErrClosed) {
		t.Errorf("%s: %v matches net.ErrClosed, though the application did not close", what, err)
	}
}

// TestKeepAliveOption: the option's values and where it applies.
func TestKeepAliveOption(t *testing.T) {
	for _, tc := range []struct {
		interval, timeout time.Duration
		valid             bool
	}{
		{0, 0, true}, {0, -time.Second, true}, {time.Second, time.Second, true},
		{-time.Second, time.Second, false}, {time.Second, 0, false}, {time.Second, -time.Second, false},
	} {
		_, err := New(WithKeepAlive(tc.interval, tc.timeout))
		if tc.valid && err != nil || !tc.valid && !errors.Is(err, ErrInvalid) {
			t.Errorf("WithKeepAlive(%v, %v): %v, want valid=%v", tc.interval, tc.timeout, err, tc.valid)
		}
	}
	// The longest durations do not overflow the keepalive's sums of times,
	// which would make it turn without end.
	if cfg := newConfig([]Option{WithKeepAlive(math.MaxInt64, math.MaxInt64)}); cfg.keepAliveInterval != maxKeepAlive ||
		cfg.keepAliveTimeout != maxKeepAlive || monoNow()+2*int64(maxKeepAlive) < 0 {
		t.Errorf("WithKeepAlive(MaxInt64, MaxInt64) keeps %v and %v", cfg.keepAliveInterval, cfg.keepAliveTimeout)
	}
	if conn, _ := newPair(t); conn.ka != nil {
		t.Error("a keepalive runs without WithKeepAlive")
	}
	if conn, _ := newPair(t, WithKeepAlive(0, time.Second)); conn.ka != nil {
		t.Error("a keepalive runs with an interval of 0")
	}
}

// TestKeepAlivePingsIdle: an idle connection pings every interval, with a
// read blocked and with none, and a peer that answers keeps it alive for
// many times the timeout; it echoes afterwards.
func TestKeepAlivePingsIdle(t *testing.T) {
	eachReader(t, func(t *testing.T, withReader bool) {
		conn, p := newPair(t, WithKeepAlive(kaInterval, kaTimeout))
		s := serveKeepAlive(t, p, true)
		var msgs chan []byte
		var done <-chan error
		if withReader {
			msgs = make(chan []byte, 1)
			done = reading(conn, msgs)
		}
		// 60 pings answered span three times the timeout.
		s.waitPings(t, 60)
		if withReader {
			if err := conn.WriteMessage(TextMessage, []byte("still there")); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-msgs:
				if string(m) != "still there" {
					t.Fatalf("echo %q", m)
				}
			case err := <-done:
				t.Fatalf("the read failed: %v", err)
			}
			conn.Close()
			if err := <-done; !errors.Is(err, net.ErrClosed) {
				t.Errorf("read after Close: %v", err)
			}
			return
		}
		echoCheck(t, conn, "still there")
	})
}

// TestKeepAliveTimeoutOfOneInterval: with the timeout as short as the
// interval, as the command's -keepalive sets them, the next ping comes only
// when the verdict is due, so a pong that the read takes before the ping's
// write has returned must count: a peer that answers at once keeps the
// connection.
func TestKeepAliveTimeoutOfOneInterval(t *testing.T) {
	const d = 200 * time.Millisecond
	conn, p := newPair(t, WithKeepAlive(d, d))
	s := serveKeepAlive(t, p, true)
	done := reading(conn, nil)
	s.waitPings(t, 15)
	select {
	case err := <-done:
		t.Fatalf("the read ended: %v", err)
	default:
	}
	conn.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Errorf("the read ended with %v, not by Close", err)
	}
}

// TestKeepAliveHandshake: Handshake takes the option too.
func TestKeepAliveHandshake(t *testing.T) {
	conn, p := handshakeOver(t, nil, nil, WithKeepAlive(kaInterval, kaTimeout))
	s := serveKeepAlive(t, p, true)
	s.waitPings(t, 3)
	echoCheck(t, conn, "handshake")
}

// TestKeepAliveNoPingWhileTrafficFlows: while the peer sends more often than
// the interval, and a read takes it, no ping goes out.
func TestKeepAliveNoPingWhileTrafficFlows(t *testing.T) {
	// A long interval against traffic every 10 ms: only a stall of the
	// whole test for a second could let an interval pass in silence.
	const interval = time.Second
	conn, p := newPair(t, WithKeepAlive(interval, interval))
	s := serveKeepAlive(t, p, true)
	msgs := make(chan []byte, 16)
	done := reading(conn, msgs)
	for i := range 300 {
		if _, err := p.c.Write(frame(fin|opTxt, []byte("tick"))); err != nil {
			t.Fatal(err)
		}
		select {
		case <-msgs:
		case err := <-done:
			t.Fatalf("after %d messages: %v", i, err)
		}
		select {
		case <-s.pinged:
			t.Fatalf("a ping went out after %d messages, 10 ms apart", i)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if n := s.pingCount(); n != 0 {
		t.Errorf("%d pings while traffic flowed", n)
	}
}

// TestKeepAliveTimeout: a peer that stops answering is found dead within
// interval + timeout and a margin, with a read blocked and with none; every
// read and write from then on fails with the keepalive's error.
func TestKeepAliveTimeout(t *testing.T) {
	eachReader(t, func(t *testing.T, withReader bool) {
		conn, p := newPair(t, WithKeepAlive(kaInterval, kaTimeout))
		s := serveKeepAlive(t, p, true)
		var done <-chan error
		if withReader {
			done = reading(conn, nil)
		}
		s.waitPings(t, 2)
		s.answer.Store(false)
		silent := time.Now()
		// A bound on the wait, not a measure of speed: a margin of
		// seconds over what the keepalive promises.
		bound := time.After(kaInterval + kaTimeout + 5*time.Second)
		if withReader {
			select {
			case err := <-done:
				checkKeepAliveErr(t, "the blocked read", err)
			case <-bound:
				t.Fatalf("the read was still blocked %v after the peer fell silent", time.Since(silent))
			}
		}
		// The client closes its stream as it gives up.
		select {
		case <-s.ended:
		case <-bound:
			t.Fatalf("the client's stream was still open %v after the peer fell silent", time.Since(silent))
		}
		t.Logf("found dead %v after the peer fell silent (interval %v, timeout %v)",
			time.Since(silent).Round(time.Millisecond), kaInterval, kaTimeout)
		if s.err != nil {
			t.Fatalf("server: %v", s.err)
		}
		_, _, err := conn.ReadMessage()
		checkKeepAliveErr(t, "a later read", err)
		checkKeepAliveErr(t, "a later write", conn.WriteMessage(TextMessage, []byte("x")))
		_, err = conn.NextWriter(TextMessage)
		checkKeepAliveErr(t, "a later NextWriter", err)
		checkKeepAliveErr(t, "a later Ping", conn.Ping(nil))
		if err := conn.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Close after the keepalive's verdict: %v", err)
		}
		if _, _, err := conn.ReadMessage(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("a read after Close: %v, want net.ErrClosed", err)
		}
	})
}

// TestKeepAlivePeerThatNeverReads: the peer neither reads nor writes, so
// that the pings pile up in its socket buffers: the verdict comes all the
// same, and the read ends.
func TestKeepAlivePeerThatNeverReads(t *testing.T) {
	conn, p := newPair(t, WithKeepAlive(kaInterval, kaTimeout))
	defer p.c.Close()
	err := <-reading(conn, nil)
	checkKeepAliveErr(t, "the blocked read", err)
}

// TestKeepAliveLookAnswersAndParks: with nobody reading, the keepalive
// answers the peer's ping, hands a pong to the pong handler, and leaves the
// data message behind them, and the ping behind that, for the next read.
func TestKeepAliveLookAnswersAndParks(t *testing.T) {
	conn, p := newPair(t, WithKeepAlive(kaInterval, time.Minute))
	unasked := make(chan struct{})
	var once sync.Once
	conn.SetPongHandler(func(b []byte) {
		if string(b) == "unasked" {
			once.Do(func() { close(unasked) })
		}
	})
	s := serveKeepAlive(t, p, true)
	if _, err := p.c.Write(join(frame(fin|opPog, []byte("unasked")), frame(fin|opPng, []byte("first")),
		frame(fin|opTxt, []byte("parked")), frame(fin|opPng, []byte("second")))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-unasked:
	case <-time.After(waitBound):
		t.Fatal("the keepalive did not hand the pong to the handler")
	}
	pongOf := func(payload string) {
		t.Helper()
		deadline := time.After(waitBound)
		for {
			s.mu.Lock()
			for _, f := range s.frames {
				if f.op == opPog && string(f.payload) == payload {
					s.mu.Unlock()
					return
				}
			}
			s.mu.Unlock()
			select {
			case <-s.pinged: // the client's pings come on: look again
			case <-deadline:
				t.Fatalf("no pong %q within %v", payload, waitBound)
			}
		}
	}
	pongOf("first")
	// The keepalive looks on, and pings, but leaves the message for a read.
	s.waitPings(t, 3)
	if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "parked" {
		t.Fatalf("ReadMessage: %q, %v", msg, err)
	}
	pongOf("second")
	echoCheck(t, conn, "after")
}

// TestKeepAliveLookTakesPeerClose: with nobody reading, the keepalive takes
// the peer's close, answers it and closes; a later read returns it.
func TestKeepAliveLookTakesPeerClose(t *testing.T) {
	base := runtime.NumGoroutine()
	conn, p := newPair(t, WithKeepAlive(kaInterval, kaTimeout))
	s := serveKeepAlive(t, p, true)
	if _, err := p.c.Write(frame(fin|opCls, closePayload(StatusGoingAway, "bye"))); err != nil {
		t.Fatal(err)
	}
	s.waitEnd(t)
	s.mu.Lock()
	last := s.frames[len(s.frames)-1]
	s.mu.Unlock()
	if last.op != opClose {
		t.Errorf("the client's last frame has opcode %#x, not a close", last.op)
	}
	_, _, err := conn.ReadMessage()
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusGoingAway || ce.Text != "bye" {
		t.Errorf("a read after the peer's close: %v", err)
	}
	p.c.Close()
	checkNoKeepAlive(t, conn, base)
}

// TestKeepAliveKeepsReadDeadline: the keepalive's looks read under a
// deadline of their own and put the application's back: one that has
// passed still fails the next read, and none lets a read wait.
func TestKeepAliveKeepsReadDeadline(t *testing.T) {
	t.Run("passed", func(t *testing.T) {
		conn, p := newPair(t, WithKeepAlive(kaInterval, kaTimeout))
		s := serveKeepAlive(t, p, true)
		conn.SetReadDeadline(time.Now())
		s.waitPings(t, 5) // and the looks that found their pongs
		_, _, err := conn.ReadMessage()
		if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ErrKeepAliveTimeout) {
			t.Fatalf("a read past the application's deadline: %v", err)
		}
	})
	t.Run("none", func(t *testing.T) {
		conn, p := newPair(t, WithKeepAlive(time.Millisecond, time.Minute))
		s := serveKeepAlive(t, p, true)
		conn.SetReadDeadline(time.Now())
		conn.SetReadDeadline(time.Time{})
		// Each read waits for a message that comes later, after the
		// keepalive has looked many times: none of them times out.
		for i := range 20 {
			s.waitPings(t, 5)
			later := time.AfterFunc(20*time.Millisecond, func() { p.c.Write(frame(fin|opTxt, []byte("later"))) })
			_, msg, err := conn.ReadMessage()
			later.Stop()
			if err != nil || string(msg) != "later" {
				t.Fatalf("read %d: %q, %v", i, msg, err)
			}
		}
	})
}

// TestKeepAliveReadsGetEverything: a keepalive that turns every millisecond
// looks at the stream between reads, and gives way to each read that comes
// while it looks, while the peer sends messages and pings at random: every
// message arrives, in order, and every ping is answered.
func TestKeepAliveReadsGetEverything(t *testing.T) {
	conn, p := newPair(t, WithKeepAlive(time.Millisecond, time.Minute))
	s := serveKeepAlive(t, p, true)
	const n = 2000
	go func() {
		for i := range n {
			var b []byte
			if i%7 == 0 {
				b = frame(fin|opPng, []byte{byte(i)})
			}
			b = append(b, frame(fin|opBin, []byte{byte(i), byte(i >> 8)})...)
			if _, err := p.c.Write(b); err != nil {
				return
			}
			if i%50 == 0 {
				time.Sleep(time.Millisecond) // gaps, in which the keepalive looks
			}
		}
	}()
	for i := range n {
		if i%3 == 0 {
			runtime.Gosched()
		}
		_, msg, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if len(msg) != 2 || int(msg[0])|int(msg[1])<<8 != i {
			t.Fatalf("message %d is %v", i, msg)
		}
	}
	s.waitPongs(t, (n+6)/7)
}

// checkFramesWhole checks the client's frames as the server parsed them:
// the data frames make whole messages, and every ping stands between
// frames, never inside one (a ping inside a frame would have broken the
// parse). It returns the payload of each message, and how many pings came
// while a message was under way.
func checkFramesWhole(t *testing.T, frames []clientFrame) (msgs []clientMessage, pingsInside int) {
	t.Helper()
	var cur *clientMessage
	for i, f := range frames {
		switch {
		case f.op == opPing:
			if !f.fin || len(f.payload) != 0 {
				t.Fatalf("frame %d: a ping with fin=%v and %d bytes", i, f.fin, len(f.payload))
			}
			if cur != nil {
				pingsInside++
			}
		case f.op == opContinuation:
			if cur == nil {
				t.Fatalf("frame %d: a continuation outside a message", i)
			}
			cur.payload = append(cur.payload, f.payload...)
			cur.frames++
		case f.op == opText || f.op == opBinary:
			if cur != nil {
				t.Fatalf("frame %d: a message inside a message", i)
			}
			msgs = append(msgs, clientMessage{op: f.op, rsv: f.rsv, frames: 1, payload: f.payload})
			cur = &msgs[len(msgs)-1]
		default:
			continue
		}
		if f.op != opPing && f.fin {
			cur = nil
		}
	}
	return msgs, pingsInside
}

// TestKeepAliveBetweenFrames: the keepalive's pings go out between the
// frames of a message that NextWriter streams, plain and compressed, never
// inside a frame, and the message arrives whole.
func TestKeepAliveBetweenFrames(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		name := "plain"
		if compressed {
			name = "compressed"
		}
		t.Run(name, func(t *testing.T) {
			conn, p := newPairCompressedIf(t, compressed, "", Compression{}, WithKeepAlive(kaInterval, kaTimeout))
			s := serveKeepAlive(t, p, true)
			s.echo.Store(false)
			done := reading(conn, nil)
			data := noise(600<<10, 2)
			w, err := conn.NextWriter(BinaryMessage)
			if err != nil {
				t.Fatal(err)
			}
			// Pieces large enough that frames go out as they are written,
			// compressed too, with an idle spell of pings after each.
			const pieces = 4
			for i := range pieces {
				if _, err := w.Write(data[i*len(data)/pieces : (i+1)*len(data)/pieces]); err != nil {
					t.Fatal(err)
				}
				s.waitPings(t, 2)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			if err := <-done; !errors.Is(err, net.ErrClosed) {
				t.Errorf("the read ended with %v", err)
			}
			s.waitEnd(t)
			if s.err != nil {
				t.Fatalf("server: %v", s.err)
			}
			s.mu.Lock()
			msgs, inside := checkFramesWhole(t, s.frames)
			s.mu.Unlock()
			if len(msgs) != 1 || msgs[0].op != opBinary {
				t.Fatalf("%d messages arrived, want 1 binary", len(msgs))
			}
			if inside < pieces-1 {
				t.Errorf("%d pings came between the message's frames, want at least %d", inside, pieces-1)
			}
			checkSent(t, msgs[0].payload, msgs[0].rsv, compressed, data)
		})
	}
}

// TestKeepAliveGorillaDeadlinePattern: an application that sets a write
// deadline before each write, which then passes while the connection idles,
// still has its pings go out, and its next write succeeds.
func TestKeepAliveGorillaDeadlinePattern(t *testing.T) {
	conn, p := newPair(t, WithKeepAlive(kaInterval, kaTimeout))
	s := serveKeepAlive(t, p, true)
	for i := range 3 {
		conn.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
		echoCheck(t, conn, strings.Repeat("w", i+1))
		s.waitPings(t, 3) // each after the deadline above has passed
	}
	conn.SetWriteDeadline(time.Time{})
	echoCheck(t, conn, "after")
}

// checkNoKeepAlive waits for the goroutines to come back to base, and
// checks that no keepalive turn runs and conn's timer is not armed.
func checkNoKeepAlive(t *testing.T, conn *Conn, base int) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		n := runtime.NumGoroutine()
		if n <= base && !strings.Contains(stacks, "(*keepAlive)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d at the start:\n%s", n, base, stacks)
		}
		time.Sleep(10 * time.Millisecond) // polling for the goroutines to end, within the bound
	}
	if conn.ka.t.Stop() {
		t.Error("the keepalive's timer was still armed")
	}
}

// TestKeepAliveEndsWithConn: the keepalive ends with its connection: after
// Close, after the peer's close, and after its own verdict, the goroutines
// come back to their count before the dial, and its timer is not armed.
func TestKeepAliveEndsWithConn(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, conn *Conn, s *kaServer)
	}{
		{"Close", func(t *testing.T, conn *Conn, s *kaServer) {
			if err := conn.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}},
		{"Close with a read blocked", func(t *testing.T, conn *Conn, s *kaServer) {
			done := reading(conn, nil)
			s.waitPings(t, 2)
			conn.Close()
			<-done
		}},
		{"the peer's close", func(t *testing.T, conn *Conn, s *kaServer) {
			s.p.c.Write(frame(fin|opCls, closePayload(StatusNormalClosure, "")))
			if _, _, err := conn.ReadMessage(); err == nil {
				t.Error("a read after the peer's close succeeded")
			}
		}},
		{"the peer's FIN", func(t *testing.T, conn *Conn, s *kaServer) {
			s.p.c.Close()
			if _, _, err := conn.ReadMessage(); err == nil {
				t.Error("a read after the peer's FIN succeeded")
			}
		}},
		{"the keepalive's verdict", func(t *testing.T, conn *Conn, s *kaServer) {
			s.answer.Store(false)
			_, _, err := conn.ReadMessage()
			checkKeepAliveErr(t, "the read", err)
		}},
		{"the keepalive's verdict, no reader", func(t *testing.T, conn *Conn, s *kaServer) {
			s.answer.Store(false)
			s.waitEnd(t)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			conn, p := newPair(t, WithKeepAlive(kaInterval, kaTimeout))
			s := serveKeepAlive(t, p, true)
			s.waitPings(t, 2)
			tc.end(t, conn, s)
			p.c.Close()
			<-s.ended
			checkNoKeepAlive(t, conn, base)
		})
	}
}

// TestKeepAliveTLS: over TLS, the keepalive's looks read records in part
// when their deadline cuts them short, and leave TLS whole: with nobody
// reading, pongs come to the handler, a large echo waits in part in the
// buffer, and the next read gets all of it.
func TestKeepAliveTLS(t *testing.T) {
	srv := wsdialtest.NewTLSEchoServer()
	defer srv.Close()
	d := mustNew(t, WithoutProxy(), WithTLSConfig(srv.TLSConfig()), WithKeepAlive(kaInterval, kaTimeout))
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	conn, err := d.DialWebSocket(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pongs := make(chan struct{}, 1<<16)
	conn.SetPongHandler(func([]byte) { pongs <- struct{}{} })
	waitPongs := func(n int) {
		t.Helper()
		for i := range n {
			select {
			case <-pongs:
			case <-time.After(waitBound):
				t.Fatalf("%d of %d pongs came within %v", i, n, waitBound)
			}
		}
	}
	waitPongs(10)
	big := noise(300<<10, 3)
	if err := conn.WriteMessage(BinaryMessage, big); err != nil {
		t.Fatal(err)
	}
	// The pings go on while the echo waits unread, and the looks fill the
	// buffer with it; their pongs wait behind it.
	time.Sleep(10 * kaInterval) // nobody reads, on purpose, for some turns of the keepalive
	if _, msg, err := conn.ReadMessage(); err != nil || !bytes.Equal(msg, big) {
		t.Fatalf("the echo of %d bytes: %d bytes, %v", len(big), len(msg), err)
	}
	waitPongs(10)
	echoCheck(t, conn, "after")
}

// TestKeepAliveVerdictOverTLSWithPeerNotReading: over TLS to a peer that
// reads nothing, so that the pings themselves cannot go out, the verdict
// closes the stream beneath TLS at once: not TLS, whose close_notify waits
// five seconds of its own for a peer that does not read, all the while
// holding the blocked read.
func TestKeepAliveVerdictOverTLSWithPeerNotReading(t *testing.T) {
	conn, _ := tlsPipePair(t, WithKeepAlive(kaInterval, 300*time.Millisecond))
	start := time.Now()
	err := <-reading(conn, nil)
	checkKeepAliveErr(t, "the blocked read", err)
	// A ping waits the timeout to go out, then fails the connection: far
	// short of the five seconds that close_notify would add.
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the verdict took %v", took)
	}
}

// TestKeepAliveHTTP2: a WebSocket on an HTTP/2 stream keeps itself alive as
// one on its own connection does: with nobody reading, its pings go out on
// the stream and the pongs reach the handler, and it echoes afterwards.
func TestKeepAliveHTTP2(t *testing.T) {
	o := newH2Origin(t)
	d := newH2Dialer(t, o, WithKeepAlive(kaInterval, kaTimeout))
	c := dialOK(t, d, o.url("/echo"))
	if _, ok := c.NetConn().(*h2Stream); !ok {
		t.Fatalf("NetConn() is %T, want an HTTP/2 stream", c.NetConn())
	}
	pongs := make(chan struct{}, 1<<10)
	c.SetPongHandler(func([]byte) {
		select {
		case pongs <- struct{}{}:
		default:
		}
	})
	for i := range 5 {
		select {
		case <-pongs:
		case <-time.After(waitBound):
			t.Fatalf("%d of 5 pongs came within %v", i, waitBound)
		}
	}
	echoCheck(t, c, "over h2")
	c.Close()
}

// TestKeepAlivePingWaitsForAPeerThatStopsReading: a keepalive ping that a
// peer reading nothing holds up for over a second, well within the timeout,
// goes out once the peer reads again, and the connection lives on. Over TLS
// a ping whose write deadline passed would have failed every later write.
func TestKeepAlivePingWaitsForAPeerThatStopsReading(t *testing.T) {
	conn, p := tlsPipePair(t, WithKeepAlive(kaInterval, 10*time.Second))
	readDone := readUntilError(conn)
	// The silence of the peer is the case under test: a ping is stuck in
	// the pipe meanwhile.
	time.Sleep(controlTimeout + controlTimeout/2)
	expectFrame(t, p, opPing, "")
	if _, err := p.c.Write(frame(fin|opPog, nil)); err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() { written <- conn.WriteMessage(TextMessage, []byte("after")) }()
	for {
		p.c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a guard against hanging
		f, err := p.readFrame()
		if err != nil {
			t.Fatalf("server, waiting for the message: %v", err)
		}
		if f.op == opPing {
			continue // the keepalive's, while the message waited
		}
		if f.op != opText || string(f.payload) != "after" {
			t.Fatalf("server read opcode %#x %q, want the message", f.op, f.payload)
		}
		break
	}
	if err := <-written; err != nil {
		t.Fatalf("the write after the ping: %v", err)
	}
	p.c.Write(normalClose)
	if err := <-readDone; !errors.As(err, new(*CloseError)) {
		t.Fatalf("reader ended with %v", err)
	}
}

// TestKeepAliveDuringALongFrame: a message in one frame that takes several
// of the keepalive's timeouts to go out, to a peer that reads it all the
// while, holds the keepalive's ping up, since no ping may go inside a
// frame; but the peer takes what is written, so it is alive, and the
// connection lives on: the message goes out whole.
func TestKeepAliveDuringALongFrame(t *testing.T) {
	conn, server := pipePairOver(t, nil, WithKeepAlive(kaInterval, 200*time.Millisecond))
	data := noise(4<<20, 1)
	const header = 2 + 8 + 4
	read := make(chan int, 1)
	go func() {
		n := 0
		buf := make([]byte, 8<<10)
		for n < header+len(data) {
			m, err := server.Read(buf)
			n += m
			if err != nil {
				break
			}
			// A slow path, which the frame takes a while to cross: the case
			// under test, not a wait for something to happen.
			time.Sleep(time.Millisecond)
		}
		read <- n
	}()
	if err := conn.WriteMessage(BinaryMessage, data); err != nil {
		t.Fatalf("a long frame to a peer that reads it: %v", err)
	}
	if n := <-read; n < header+len(data) {
		t.Fatalf("the peer read %d bytes of the frame's %d", n, header+len(data))
	}
}

// TestKeepAliveParksCompressedFragments joins the keepalive, compression
// and fragmentation: with nobody reading, a compressed message comes in two
// frames with a ping between them. The looks leave all of it for the next
// read, which the pings the keepalive goes on sending do not disturb; the
// read decompresses the message whole and answers the ping on the way, and
// a compressed echo works afterwards.
func TestKeepAliveParksCompressedFragments(t *testing.T) {
	conn, p := newDeflatePair(t, "; server_no_context_takeover; client_no_context_takeover", Compression{},
		WithKeepAlive(kaInterval, time.Minute))
	s := serveKeepAlive(t, p, true)
	data := textLike(20<<10, 7)
	z := deflated(data)
	half := len(z) / 2
	if _, err := p.c.Write(join(frame(rsv1|opTxt, z[:half]), frame(fin|opPng, []byte("between")),
		frame(fin|opCont, z[half:]))); err != nil {
		t.Fatal(err)
	}
	s.waitPings(t, 3) // the keepalive looks and pings while the message waits unread
	typ, msg, err := conn.ReadMessage()
	if err != nil || typ != TextMessage || !bytes.Equal(msg, data) {
		t.Fatalf("ReadMessage: %v, %d bytes, %v; want the %d bytes sent", typ, len(msg), err, len(data))
	}
	deadline := time.After(waitBound)
	for answered := false; !answered; {
		s.mu.Lock()
		for _, f := range s.frames {
			answered = answered || f.op == opPog && string(f.payload) == "between"
		}
		s.mu.Unlock()
		if !answered {
			select {
			case <-s.pinged:
			case <-deadline:
				t.Fatal("the ping between the fragments got no pong")
			}
		}
	}
	echoCheck(t, conn, "after")
}

// TestKeepAliveLookTakesWholeControlFrames: a look acts on the control frames
// that came whole, with nobody reading: a ping, or a pong, of any payload a
// control frame may have, that came alone to an idle connection, is taken and
// acted on by the look that finds it, not left half read for a later turn,
// an interval on, by when the peer may have given up on its ping.
func TestKeepAliveLookTakesWholeControlFrames(t *testing.T) {
	// The keepalive's own turns never come: the test looks, as a turn does.
	conn, p := newPair(t, WithKeepAlive(time.Hour, time.Hour))
	ponged := make(chan []byte, 1)
	conn.SetPongHandler(func(b []byte) { ponged <- bytes.Clone(b) })
	look := func(what string) {
		t.Helper()
		if !conn.tryLockRead() {
			t.Fatal("the read side is taken")
		}
		res := conn.ka.look(monoNow() + int64(time.Minute))
		left := conn.rd.end - conn.rd.pos
		conn.unlockRead()
		if res != lookFound {
			t.Fatalf("%s: the look found %v, not the frame", what, res)
		}
		if left != 0 {
			t.Fatalf("%s: the look left %d bytes of it unread", what, left)
		}
	}
	for n := 0; n <= maxControl; n++ {
		payload := bytes.Repeat([]byte{'p'}, n)
		if _, err := p.c.Write(frame(fin|opPng, payload)); err != nil {
			t.Fatal(err)
		}
		look(fmt.Sprintf("a ping of %d bytes", n))
		expectFrame(t, p, opPong, string(payload))
		if _, err := p.c.Write(frame(fin|opPog, payload)); err != nil {
			t.Fatal(err)
		}
		look(fmt.Sprintf("a pong of %d bytes", n))
		if got := <-ponged; !bytes.Equal(got, payload) {
			t.Fatalf("the pong handler had %d bytes, not the pong's %d", len(got), n)
		}
	}
}

// TestKeepAliveLookTakesControlFramesThatCameTogether: control frames that
// came together, whole, to an idle connection, a pong and then a ping say,
// more than the buffer a parked read waits in, are all taken by the look
// that finds them, over TCP and TLS: the ping is answered then, not left
// half read for a later turn, an interval on.
func TestKeepAliveLookTakesControlFramesThatCameTogether(t *testing.T) {
	for _, kind := range []string{"tcp", "tls"} {
		t.Run(kind, func(t *testing.T) {
			// The keepalive's own turns never come: the test looks, as a
			// turn does.
			conn, p := pairOver(t, kind, testServer{}, WithKeepAlive(time.Hour, time.Hour))
			ponged := make(chan []byte, 1)
			conn.SetPongHandler(func(b []byte) { ponged <- bytes.Clone(b) })
			for _, sizes := range [][2]int{{60, 100}, {parkBufSize - 4, 1}, {maxControl, maxControl}} {
				pong, ping := bytes.Repeat([]byte{'o'}, sizes[0]), bytes.Repeat([]byte{'i'}, sizes[1])
				if _, err := p.c.Write(join(frame(fin|opPog, pong), frame(fin|opPng, ping))); err != nil {
					t.Fatal(err)
				}
				if !conn.tryLockRead() {
					t.Fatal("the read side is taken")
				}
				res := conn.ka.look(monoNow() + int64(time.Minute))
				left := conn.rd.end - conn.rd.pos
				conn.unlockRead()
				what := fmt.Sprintf("a pong of %d bytes and a ping of %d", sizes[0], sizes[1])
				if res != lookFound || left != 0 {
					t.Fatalf("%s: the look found %v and left %d bytes unread", what, res, left)
				}
				if got := <-ponged; !bytes.Equal(got, pong) {
					t.Fatalf("%s: the pong handler had %d bytes", what, len(got))
				}
				expectFrame(t, p, opPong, string(ping))
			}
		})
	}
}
