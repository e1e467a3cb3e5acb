package wsdial

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCloseUnderExpiredWriteDeadline: the application's write deadline has
// passed, yet Close sends its close frame, waits for the server's answer and
// reports the handshake done.
func TestCloseUnderExpiredWriteDeadline(t *testing.T) {
	for _, answered := range []bool{true, false} {
		t.Run(map[bool]string{true: "answered", false: "unanswered"}[answered], func(t *testing.T) {
			conn, p := newPair(t)
			conn.SetWriteDeadline(time.Now().Add(-time.Second))
			var reply []byte
			if answered {
				reply = frame(fin|opCls, closePayload(1000, "bye"))
			}
			ended := p.serveClose(reply)
			if err := conn.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			end := <-ended
			if end.closeCode != StatusNormalClosure || end.err != io.EOF {
				t.Fatalf("server saw close %d then %v, want 1000 then EOF", end.closeCode, end.err)
			}
			_, _, err := conn.ReadMessage()
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("read after Close: %v, want net.ErrClosed", err)
			}
			if ce := (*CloseError)(nil); answered && (!errors.As(err, &ce) || ce.Text != "bye") {
				t.Errorf("read after Close: %v, want the server's close in it", err)
			}
		})
	}
}

// TestPeerCloseAnsweredUnderExpiredWriteDeadline: a read that receives the
// server's close answers it, whatever the application's write deadline.
func TestPeerCloseAnsweredUnderExpiredWriteDeadline(t *testing.T) {
	conn, p := newPair(t)
	conn.SetWriteDeadline(time.Now().Add(-time.Second))
	go p.c.Write(frame(fin|opCls, closePayload(StatusGoingAway, "restart")))
	_, _, err := conn.ReadMessage()
	if ce := (*CloseError)(nil); !errors.As(err, &ce) || ce.Code != StatusGoingAway {
		t.Fatalf("read: %v, want the server's close", err)
	}
	if end := p.readUntilClose(); end.closeCode != StatusGoingAway {
		t.Fatalf("client answered with close %d, want 1001", end.closeCode)
	}
}

// TestFailureSendsCloseUnderExpiredWriteDeadline: a read that fails the
// connection for the peer's fault tells the peer why, with the close frame
// of RFC 6455 §7.1.7, whatever the application's write deadline.
func TestFailureSendsCloseUnderExpiredWriteDeadline(t *testing.T) {
	cases := []struct {
		name string
		send []byte
		code StatusCode
	}{
		{"masked frame", []byte{fin | opTxt, 0x80, 1, 2, 3, 4}, StatusProtocolError},
		{"invalid UTF-8", frame(fin|opTxt, []byte("\xff")), StatusInvalidFramePayloadData},
		{"over the read limit", []byte{fin | opBin, 126, 0x03, 0xE9}, StatusMessageTooBig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, p := newPair(t, WithReadLimit(1000))
			conn.SetWriteDeadline(time.Now().Add(-time.Second))
			go p.c.Write(tc.send)
			_, _, err := conn.ReadMessage()
			if pe := (*ProtocolError)(nil); !errors.As(err, &pe) || pe.Code != tc.code {
				t.Fatalf("read: %v, want a protocol error with %d", err, tc.code)
			}
			if end := p.readUntilClose(); end.closeCode != tc.code {
				t.Fatalf("client sent close %d, want %d", end.closeCode, tc.code)
			}
		})
	}
}

// TestCloseWithBlockedReader has another goroutine blocked in a read when
// Close runs: the read ends with an error that matches net.ErrClosed, as
// the application closed the connection, and still carries the server's
// close. When the server never answers, because its frame is stuck half
// sent, Close still returns and the read still ends.
func TestCloseWithBlockedReader(t *testing.T) {
	for _, answered := range []bool{true, false} {
		t.Run(map[bool]string{true: "answered", false: "stuck inside a frame"}[answered], func(t *testing.T) {
			conn, p := newPair(t)
			if !answered {
				p.c.Write([]byte{fin | opBin, 10, 'h', 'a'}) // 8 bytes short
			}
			readErr := readUntilError(conn)
			go func() {
				if end := p.readUntilClose(); answered && end.closeCode != 0 {
					p.c.Write(frame(fin|opCls, closePayload(4001, "")))
				}
			}()
			if err := conn.Close(); err != nil && answered {
				t.Fatalf("Close: %v", err)
			}
			err := <-readErr
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("the blocked read returned %v, want net.ErrClosed", err)
			}
			if ce := (*CloseError)(nil); answered && (!errors.As(err, &ce) || ce.Code != 4001) {
				t.Errorf("the blocked read returned %v, want the server's close 4001 in it", err)
			}
		})
	}
}

// TestClosedMeansErrClosed: after the application's own Close, every read
// and every write returns an error that matches net.ErrClosed, the server's
// close still reachable with errors.As, and none of them says a thing twice.
func TestClosedMeansErrClosed(t *testing.T) {
	conn, p := newPair(t)
	go p.c.Write(join(frame(fin|opTxt, []byte("first")), frame(fin|opTxt, []byte("second"))))
	_, held, err := conn.NextReader()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		if end := p.readUntilClose(); end.closeCode != 0 {
			p.c.Write(frame(fin|opCls, closePayload(1000, "done")))
		}
	}()
	if err := conn.CloseWithStatus(StatusGoingAway, "leaving"); err != nil {
		t.Fatalf("CloseWithStatus: %v", err)
	}
	checks := map[string]func() error{
		"ReadMessage":          func() error { _, _, err := conn.ReadMessage(); return err },
		"NextReader":           func() error { _, _, err := conn.NextReader(); return err },
		"a reader from before": func() error { _, err := held.Read(make([]byte, 10)); return err },
		"WriteMessage":         func() error { return conn.WriteMessage(TextMessage, []byte("x")) },
		"NextWriter":           func() error { _, err := conn.NextWriter(BinaryMessage); return err },
		"Ping":                 func() error { return conn.Ping(nil) },
		"CloseWrite":           func() error { return conn.CloseWrite() },
		"Close":                func() error { return conn.Close() },
	}
	for name, call := range checks {
		for range 2 {
			err := call()
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("%s after Close: %v, want net.ErrClosed", name, err)
			}
			if repeats(err) {
				t.Errorf("%s after Close: %q says a thing twice", name, err)
			}
		}
	}
	_, _, err = conn.ReadMessage()
	if ce := (*CloseError)(nil); !errors.As(err, &ce) || ce.Code != StatusNormalClosure || ce.Text != "done" {
		t.Errorf("read after Close: %v, want the server's close 1000 \"done\" in it", err)
	}
}

// repeats reports whether err's text says the same thing twice in a row:
// two adjacent parts of "a: b: c" that start with the same word, as in
// "read: read tcp" or "tls: tls:".
func repeats(err error) bool {
	if err == nil {
		return false
	}
	parts := strings.FieldsFunc(err.Error(), func(r rune) bool { return r == ':' || r == ';' })
	for i := 1; i < len(parts); i++ {
		a, b := strings.Fields(parts[i-1]), strings.Fields(parts[i])
		if len(a) > 0 && len(b) > 0 && strings.EqualFold(a[0], b[0]) {
			return true
		}
	}
	return false
}

// TestIOErrorsSayItOnce: the errors of a stream that fails under a read or
// a write name the operation once.
func TestIOErrorsSayItOnce(t *testing.T) {
	conn, _ := newPair(t)
	conn.SetReadDeadline(time.Now().Add(-time.Second))
	_, _, rerr := conn.ReadMessage()
	conn.SetWriteDeadline(time.Now().Add(-time.Second))
	werr := conn.WriteMessage(TextMessage, []byte("x"))
	for _, err := range []error{rerr, werr} {
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("got %v, want a timeout", err)
		}
		if repeats(err) {
			t.Errorf("%q says a thing twice", err)
		}
	}
}

// TestCloseRacingTimedOutRead: a read of a compressed message fails on its
// deadline in the middle of a frame, another goroutine waits to read, and
// Close runs. Nothing may pick the read up again, in the middle of that
// frame and with the decompressor given back: every read after it fails.
func TestCloseRacingTimedOutRead(t *testing.T) {
	for i := range 20 {
		conn, p := newDeflatePair(t, "", Compression{})
		// A first frame whose data the decompressor can give out whole,
		// then half a frame: the rest never comes.
		s := newServerDeflater(flate.BestSpeed)
		first := frame(rsv1|opTxt, append(s.compress(textLike(1000, uint64(i))), syncMarker...))
		second := frame(fin|opCont, s.compress(textLike(5000, uint64(i)+1)))
		p.c.Write(join(first, second[:len(second)/2]))
		_, r, err := conn.NextReader()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Read(make([]byte, 100)); err != nil {
			t.Fatalf("first read of the message: %v", err)
		}
		conn.SetReadDeadline(time.Now().Add(-time.Second))
		if _, err := io.ReadAll(r); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read past the deadline: %v", err)
		}
		// Another goroutine reads on, getting the timeout until Close has
		// run, while Close runs.
		reading := make(chan struct{})
		readErrs := make(chan error, 1)
		go func() {
			close(reading)
			for {
				_, _, err := conn.ReadMessage()
				switch {
				case err == nil:
					readErrs <- errors.New("a read after the timeout returned a message")
					return
				case errors.Is(err, net.ErrClosed):
					readErrs <- nil
					return
				case !errors.Is(err, os.ErrDeadlineExceeded):
					readErrs <- fmt.Errorf("a read after the timeout failed with %v", err)
					return
				}
			}
		}()
		<-reading
		go p.readUntilClose()
		conn.Close()
		if err := <-readErrs; err != nil {
			t.Fatal(err)
		}
		// Close must not have wiped the failure: the frame is still half read.
		conn.lockRead()
		failure := conn.rd.err
		conn.unlockRead()
		if failure == nil {
			t.Fatal("Close cleared the read failure")
		}
		p.c.Close()
	}
}

// TestCloseWithConcurrentSetWriteDeadline races Close with the application
// moving its write deadline; the close frame goes out regardless.
func TestCloseWithConcurrentSetWriteDeadline(t *testing.T) {
	conn, p := newPair(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	setting := make(chan struct{})
	wg.Go(func() {
		conn.SetWriteDeadline(time.Now().Add(-time.Second))
		close(setting)
		for {
			select {
			case <-stop:
				return
			default:
				conn.SetWriteDeadline(time.Now().Add(-time.Second))
			}
		}
	})
	<-setting
	ended := p.serveClose(normalClose)
	err := conn.Close()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if end := <-ended; end.closeCode != StatusNormalClosure {
		t.Fatalf("server saw close %d", end.closeCode)
	}
}

// TestStaleReader: a reader from an earlier NextReader reads nothing of a
// later message, however many came between, through NextReader or
// ReadMessage.
func TestStaleReader(t *testing.T) {
	conn, p := newPair(t)
	go p.c.Write(join(
		frame(fin|opTxt, []byte("first message")),
		frame(fin|opTxt, []byte("second")),
		frame(fin|opTxt, []byte("third")),
		frame(opTxt, []byte("fou")), frame(fin|opCont, []byte("rth")),
		frame(fin|opTxt, []byte("fifth")),
		frame(fin|opTxt, []byte("sixth")),
		[]byte{fin | opTxt, 0x80, 1, 2, 3, 4}, // masked: the connection fails
	))
	buf := make([]byte, 64)
	stale := func(name string, r io.Reader) {
		t.Helper()
		if n, err := r.Read(buf); n != 0 || err != io.EOF {
			t.Fatalf("%s: stale reader read %q, %v; want 0, EOF", name, buf[:n], err)
		}
	}
	_, r1, err := conn.NextReader()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r1.Read(buf[:5]); err != nil || string(buf[:n]) != "first" {
		t.Fatalf("first read: %q, %v", buf[:n], err)
	}
	_, r2, err := conn.NextReader()
	if err != nil {
		t.Fatal(err)
	}
	stale("message 1 during message 2", r1)
	if got, err := io.ReadAll(r2); err != nil || string(got) != "second" {
		t.Fatalf("second message: %q, %v", got, err)
	}
	stale("message 2 after its end", r2)
	if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "third" {
		t.Fatalf("ReadMessage: %q, %v", msg, err)
	}
	_, r4, err := conn.NextReader()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []io.Reader{r1, r2} {
		stale("an older reader during message 4", r)
	}
	if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "fifth" {
		t.Fatalf("ReadMessage after a message left unread: %q, %v", msg, err)
	}
	for _, r := range []io.Reader{r1, r2, r4} {
		stale("a reader after ReadMessage", r)
	}

	// Once the connection has failed, a stale reader reports the failure.
	_, r6, err := conn.NextReader()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r6.Read(buf[:2]); err != nil || string(buf[:n]) != "si" {
		t.Fatalf("sixth message: %q, %v", buf[:n], err)
	}
	if _, _, err := conn.ReadMessage(); !errors.As(err, new(*ProtocolError)) {
		t.Fatalf("ReadMessage of a masked frame: %v, want a protocol error", err)
	}
	for _, r := range []io.Reader{r1, r6} {
		if n, err := r.Read(buf); n != 0 || !errors.As(err, new(*ProtocolError)) {
			t.Fatalf("a stale reader after the connection failed: %q, %v; want the protocol error", buf[:n], err)
		}
	}
}

// TestReaderHeldAcrossClose: a message half read through NextReader when
// Close runs is cut short, as Close reads the peer's answer. The reader must say so with an error that matches
// net.ErrClosed: an io.EOF would pass the half message off as whole.
func TestReaderHeldAcrossClose(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "compressed"}[compressed], func(t *testing.T) {
			conn, p := newPairCompressedIf(t, compressed, "", Compression{})
			payload := textLike(20000, 3)
			send := join(frame(opTxt, payload[:10000]), frame(fin|opCont, payload[10000:]))
			if compressed {
				c := deflated(payload)
				send = join(frame(rsv1|opTxt, c[:len(c)/2]), frame(fin|opCont, c[len(c)/2:]))
			}
			go p.c.Write(send)
			_, r, err := conn.NextReader()
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100)
			if _, err := io.ReadFull(r, buf); err != nil {
				t.Fatal(err)
			}
			ended := p.serveClose(normalClose)
			if err := conn.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			<-ended
			rest, err := io.ReadAll(r)
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("the reader of a message that Close cut short read %d more bytes, then %v; want net.ErrClosed", len(rest), err)
			}
		})
	}
}

// TestCloseWithBlockedReaderAndWriter: the peer neither reads nor sends, so
// one goroutine is blocked in a read and another in the write of a large
// message, when a third closes. Close returns, both calls end with errors
// that match net.ErrClosed, and no goroutine is left behind.
func TestCloseWithBlockedReaderAndWriter(t *testing.T) {
	checkGoroutines(t)
	conn, _ := pipePair(t)
	readErr := readUntilError(conn)
	writeErr := make(chan error, 1)
	writing := make(chan struct{})
	go func() {
		close(writing)
		writeErr <- conn.WriteMessage(BinaryMessage, make([]byte, 1<<20))
	}()
	<-writing
	closed := make(chan error, 1)
	go func() { closed <- conn.Close() }()
	for name, ch := range map[string]<-chan error{"read": readErr, "write": writeErr} {
		select {
		case err := <-ch:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("the blocked %s returned %v, want net.ErrClosed", name, err)
			}
		case <-time.After(30 * time.Second): // a guard against hanging, far above Close's bound
			t.Fatalf("the blocked %s never returned", name)
		}
	}
	if err := <-closed; errors.Is(err, net.ErrClosed) {
		t.Errorf("Close: %v, as if the connection had been closed before", err)
	}
}

// TestNoGoroutinesLeftBehind: however a connection ends, by the
// application's Close, the peer's close, a failed read or a timed-out one,
// it leaves no goroutine running.
func TestNoGoroutinesLeftBehind(t *testing.T) {
	cases := map[string]func(t *testing.T, conn *Conn, p *peer){
		"Close": func(t *testing.T, conn *Conn, p *peer) {
			ended := p.serveClose(normalClose)
			if err := conn.Close(); err != nil {
				t.Fatal(err)
			}
			<-ended
		},
		"peer's close": func(t *testing.T, conn *Conn, p *peer) {
			go p.c.Write(frame(fin|opCls, closePayload(StatusGoingAway, "")))
			if _, _, err := conn.ReadMessage(); !errors.As(err, new(*CloseError)) {
				t.Fatalf("read: %v, want the server's close", err)
			}
			p.readUntilClose()
		},
		"failed read": func(t *testing.T, conn *Conn, p *peer) {
			go p.c.Write([]byte{fin | opTxt, 0x80, 1, 2, 3, 4})
			if _, _, err := conn.ReadMessage(); !errors.As(err, new(*ProtocolError)) {
				t.Fatalf("read: %v, want a protocol error", err)
			}
			p.readUntilClose()
		},
		"timed-out read, then Close": func(t *testing.T, conn *Conn, p *peer) {
			conn.SetReadDeadline(time.Now().Add(-time.Second))
			if _, _, err := conn.ReadMessage(); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read: %v, want a timeout", err)
			}
			ended := p.serveClose(normalClose)
			conn.Close()
			<-ended
		},
	}
	for name, run := range cases {
		for _, compressed := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compressed=%v", name, compressed), func(t *testing.T) {
				checkGoroutines(t)
				conn, p := newPairCompressedIf(t, compressed, "", Compression{ClientContextTakeover: true})
				// A message each way first, so that the compressors are in use.
				go p.c.Write(frame(fin|opTxt, []byte("hello")))
				if _, _, err := conn.ReadMessage(); err != nil {
					t.Fatal(err)
				}
				if err := conn.WriteMessage(TextMessage, textLike(1000, 1)); err != nil {
					t.Fatal(err)
				}
				if _, err := p.readMessage(); err != nil {
					t.Fatal(err)
				}
				run(t, conn, p)
			})
		}
	}
}

// TestCloseBoundedDespitePongHandler: Close reads the peer's answer itself,
// and a pong that arrives meanwhile runs a handler that pushes the read
// deadline an hour on, as keepalive handlers do. Close still ends within its
// own bound, since its wait is not the application's to move.
func TestCloseBoundedDespitePongHandler(t *testing.T) {
	conn, p := newPair(t)
	conn.SetPongHandler(func([]byte) { conn.SetReadDeadline(time.Now().Add(time.Hour)) })
	go func() {
		if end := p.readUntilClose(); end.closeCode != 0 {
			p.c.Write(frame(fin|opPog, nil)) // and then nothing, never a close
		}
	}()
	closed := make(chan error, 1)
	go func() { closed <- conn.Close() }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second): // a guard against hanging, far above Close's bound
		t.Fatal("Close waited on past its bound, on the pong handler's read deadline")
	}
}

// readUntilError reads messages from conn, on a goroutine of its own, until
// a read fails, and delivers that error.
func readUntilError(conn *Conn) <-chan error {
	done := make(chan error, 1)
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				done <- err
				return
			}
		}
	}()
	return done
}

// serveClose reads the client's frames until its close, answers with reply
// unless it is nil, then reads on to what follows: the EOF of a client that
// has closed the stream, in end.err.
func (p *peer) serveClose(reply []byte) <-chan clientEnd {
	ended := make(chan clientEnd, 1)
	go func() {
		end := p.readUntilClose()
		if reply != nil {
			p.c.Write(reply)
		}
		_, end.err = p.br.ReadByte()
		ended <- end
	}()
	return ended
}
