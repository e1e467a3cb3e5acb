package wsdial

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// TestCloseHandshake has the client start the close with no read under
// way: Close must send 1000, read the server's answer itself, and close.
func TestCloseHandshake(t *testing.T) {
	conn, p := newPair(t)
	go p.c.Write(frame(fin|opTxt, []byte("unread"))) // Close discards it
	ended := make(chan clientEnd, 1)
	go func() {
		end := p.readUntilClose()
		p.c.Write(frame(fin|opCls, closePayload(1000, "ok")))
		_, end.err = p.br.ReadByte() // then the client closes the stream
		ended <- end
	}()
	if err := conn.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	end := <-ended
	if end.closeCode != StatusNormalClosure {
		t.Errorf("client sent close %d, want 1000", end.closeCode)
	}
	if end.err != io.EOF {
		t.Errorf("after the close handshake the server read %v, want EOF", end.err)
	}
	_, _, err := conn.ReadMessage()
	if ce := (*CloseError)(nil); !errors.As(err, &ce) || ce.Code != StatusNormalClosure || ce.Text != "ok" {
		t.Errorf("read after Close: %v, want the server's close", err)
	}
	if err := conn.WriteMessage(TextMessage, nil); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: %v", err)
	}
	if err := conn.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

// TestCloseWhileReading has another goroutine blocked in a read when Close
// runs: that read must receive the server's close, and Close must return.
func TestCloseWhileReading(t *testing.T) {
	conn, p := newPair(t)
	readErr := readUntilError(conn)
	ended := make(chan clientEnd, 1)
	go func() {
		end := p.readUntilClose()
		p.c.Write(frame(fin|opCls, closePayload(4001, "")))
		ended <- end
	}()
	if err := conn.CloseWithStatus(4000, "bye now"); err != nil {
		t.Fatalf("CloseWithStatus: %v", err)
	}
	if end := <-ended; end.closeCode != 4000 || end.closeText != "bye now" {
		t.Errorf("client sent close %d %q, want 4000 %q", end.closeCode, end.closeText, "bye now")
	}
	// Whether the read was under way when Close began or not, the server's
	// close is what it reports.
	err := <-readErr
	if ce := (*CloseError)(nil); !errors.As(err, &ce) || ce.Code != 4001 {
		t.Errorf("the read returned %v, want the server's close 4001", err)
	}
}

// TestCloseUnanswered has a server that never answers the close: Close must
// still return, within its bound (here the write deadline), and close.
func TestCloseUnanswered(t *testing.T) {
	conn, p := newPair(t)
	conn.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	ended := make(chan clientEnd, 1)
	go func() {
		end := p.readUntilClose()
		_, end.err = p.br.ReadByte()
		ended <- end
	}()
	if err := conn.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	end := <-ended
	if end.closeCode != StatusNormalClosure || end.err != io.EOF {
		t.Fatalf("server saw close %d then %v, want 1000 then EOF", end.closeCode, end.err)
	}
	if _, _, err := conn.ReadMessage(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after Close: %v", err)
	}
}

// TestCloseWithWriterHeld has a message writer that is never closed: Close
// cuts its message short, and says so, but still runs the closing handshake
// (RFC 6455 §7.1.2), its frame going out between the message's frames as
// RFC 6455 §5.4 allows, and ends the connection.
func TestCloseWithWriterHeld(t *testing.T) {
	conn, p := newPair(t)
	w, err := conn.NextWriter(BinaryMessage)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	ended := p.serveClose(nil)
	if err := conn.Close(); err == nil {
		t.Error("Close with a writer held reported success")
	}
	if end := <-ended; end.closeCode != StatusNormalClosure || end.err != io.EOF {
		t.Errorf("server saw close %d, then %v; want 1000, then EOF", end.closeCode, end.err)
	}
	if _, err := w.Write(make([]byte, 2*writeBufSize)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("writer after Close: %v", err)
	}
	if err := w.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("closing the writer after Close: %v", err)
	}
}

// TestCloseWithStatusCutsMessageShort: the goroutine that streams a message
// through NextWriter closes the connection before the writer. The close
// frame follows the frames already sent, the server's answer completes the
// handshake, and the writer then refuses to write.
func TestCloseWithStatusCutsMessageShort(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "compressed"}[compressed], func(t *testing.T) {
			conn, p := newPairCompressedIf(t, compressed, "", Compression{})
			w, err := conn.NextWriter(BinaryMessage)
			if err != nil {
				t.Fatal(err)
			}
			// Enough that frames go out before the close, even compressed.
			if _, err := w.Write(noise(150<<10, 2)); err != nil {
				t.Fatal(err)
			}
			type seen struct {
				frames int
				end    clientEnd
			}
			served := make(chan seen, 1)
			go func() {
				var s seen
				for {
					f, err := p.readFrame()
					if err != nil {
						s.end.err = err
						break
					}
					if f.op == opClose {
						s.end.closeCode = StatusCode(binary.BigEndian.Uint16(f.payload))
						s.end.closeText = string(f.payload[2:])
						p.c.Write(frame(fin|opCls, closePayload(4001, "")))
						_, s.end.err = p.br.ReadByte()
						break
					}
					if f.fin {
						s.end.err = errors.New("the message ended before its writer was closed")
						break
					}
					s.frames++
				}
				served <- s
			}()
			if err := conn.CloseWithStatus(4000, "bye"); err == nil {
				t.Error("CloseWithStatus that cut a message short reported success")
			}
			s := <-served
			if s.frames == 0 || s.end.closeCode != 4000 || s.end.closeText != "bye" || s.end.err != io.EOF {
				t.Fatalf("server read %d frames of the message, then close %d %q, then %v; want some, then 4000 \"bye\", then EOF",
					s.frames, s.end.closeCode, s.end.closeText, s.end.err)
			}
			if _, err := w.Write([]byte("more")); err != nil && !errors.Is(err, net.ErrClosed) {
				t.Errorf("writer after Close: %v", err)
			}
			if err := w.Close(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("closing the writer after Close: %v, want net.ErrClosed", err)
			}
			_, _, err = conn.ReadMessage()
			if ce := (*CloseError)(nil); !errors.As(err, &ce) || ce.Code != 4001 {
				t.Errorf("read after Close: %v, want the server's close 4001 in it", err)
			}
		})
	}
}

func TestPongHandler(t *testing.T) {
	conn, p := newPair(t)
	pongs := make(chan string, 1)
	conn.SetPongHandler(func(b []byte) { pongs <- string(b) })
	if err := conn.Ping([]byte("tick")); err != nil {
		t.Fatal(err)
	}
	f, err := p.readFrame()
	if err != nil || f.op != opPing {
		t.Fatalf("server read %+v, %v", f, err)
	}
	go p.c.Write(join(frame(fin|opPog, f.payload), frame(fin|opTxt, []byte("after"))))
	if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "after" {
		t.Fatalf("ReadMessage: %q, %v", msg, err)
	}
	if got := <-pongs; got != "tick" {
		t.Fatalf("pong handler got %q", got)
	}
}

// TestConcurrentWrites has 8 goroutines write 1,000 messages each, through
// WriteMessage, NextWriter and Ping, while the server pings: every frame must
// arrive whole and in each goroutine's order, and every ping be answered.
func TestConcurrentWrites(t *testing.T) {
	const writers, perWriter, pings = 8, 1000, 200
	conn, p := newPair(t)

	var readErr error
	readDone := make(chan struct{})
	go func() { // answers the server's pings, as reads do
		defer close(readDone)
		for {
			if _, _, readErr = conn.ReadMessage(); readErr != nil {
				return
			}
		}
	}()

	pingErr := make(chan error, 1)
	go func() {
		for i := range pings {
			if _, err := p.c.Write(frame(fin|opPng, binary.BigEndian.AppendUint32(nil, uint32(i)))); err != nil {
				pingErr <- err
				return
			}
		}
		pingErr <- nil
	}()

	var wg sync.WaitGroup
	writeErrs := make(chan error, writers)
	for g := range writers {
		wg.Go(func() {
			for i := range perWriter {
				payload := fmt.Appendf(nil, "%d:%d:", g, i)
				payload = append(payload, pattern(i%300)...)
				var err error
				switch i % 10 {
				case 0:
					var w io.WriteCloser
					if w, err = conn.NextWriter(BinaryMessage); err == nil {
						w.Write(payload[:3])
						w.Write(payload[3:])
						err = w.Close()
					}
				case 5:
					if err = conn.Ping(payload[:min(len(payload), maxControl)]); err == nil {
						err = conn.WriteMessage(BinaryMessage, payload)
					}
				default:
					err = conn.WriteMessage(BinaryMessage, payload)
				}
				if err != nil {
					writeErrs <- err
					return
				}
			}
		})
	}

	next := make([]int, writers)
	var msg []byte
	lastPong, got := -1, 0
	for got < writers*perWriter || lastPong != pings-1 {
		f, err := p.readFrame()
		if err != nil {
			t.Fatalf("after %d messages: %v", got, err)
		}
		if !f.masked || f.rsv != 0 {
			t.Fatalf("bad frame %+v", f)
		}
		switch f.op {
		case opPong:
			n := int(binary.BigEndian.Uint32(f.payload))
			if n <= lastPong {
				t.Fatalf("pong %d after pong %d", n, lastPong)
			}
			lastPong = n
			continue
		case opPing:
			continue
		case opBin:
			msg = append(msg[:0], f.payload...)
		case opCont:
			msg = append(msg, f.payload...)
		default:
			t.Fatalf("unexpected opcode %#x", f.op)
		}
		if !f.fin {
			continue
		}
		var g, i int
		if _, err := fmt.Sscanf(string(msg), "%d:%d:", &g, &i); err != nil {
			t.Fatalf("message %q: %v", msg[:min(len(msg), 20)], err)
		}
		if i != next[g] {
			t.Fatalf("writer %d: message %d arrived, want %d", g, i, next[g])
		}
		prefix := fmt.Appendf(nil, "%d:%d:", g, i)
		if !bytes.Equal(msg[len(prefix):], pattern(i%300)) {
			t.Fatalf("writer %d message %d: payload corrupt", g, i)
		}
		next[g]++
		got++
	}
	wg.Wait()
	close(writeErrs)
	for err := range writeErrs {
		t.Errorf("write: %v", err)
	}
	if err := <-pingErr; err != nil {
		t.Fatal(err)
	}

	p.c.Write(frame(fin|opCls, closePayload(1000, "")))
	<-readDone
	if ce := (*CloseError)(nil); !errors.As(readErr, &ce) || ce.Code != StatusNormalClosure {
		t.Fatalf("reader ended with %v", readErr)
	}
	if end := p.readUntilClose(); end.closeCode != StatusNormalClosure {
		t.Fatalf("client echoed close %d", end.closeCode)
	}
}

// TestConcurrentClose races Close against writers and a reader: nothing may
// panic or hang, and every call after the close fails cleanly.
func TestConcurrentClose(t *testing.T) {
	conn, p := newPair(t)
	go func() {
		for {
			f, err := p.readFrame()
			if err != nil {
				return
			}
			if f.op == opClose {
				p.c.Write(frame(fin|opCls, closePayload(1000, "")))
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for conn.WriteMessage(TextMessage, []byte("x")) == nil {
			}
		})
	}
	wg.Go(func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	})
	closeErrs := make(chan error, 3)
	for range 3 {
		wg.Go(func() { closeErrs <- conn.Close() })
	}
	wg.Wait()
	close(closeErrs)
	for err := range closeErrs {
		if err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	}
	if err := conn.WriteMessage(TextMessage, nil); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after Close: %v", err)
	}
}

// TestCloseWrite half-closes: the replies to what was sent before the close
// still reach the reader, then the server's close.
func TestCloseWrite(t *testing.T) {
	conn, p := newPair(t)
	for _, m := range []string{"one", "two", "three"} {
		if err := conn.WriteMessage(TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	if err := conn.WriteMessage(TextMessage, []byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after CloseWrite: %v, want net.ErrClosed", err)
	}
	// The server echoes each message, then answers the close.
	served := make(chan error, 1)
	go func() {
		for {
			f, err := p.readFrame()
			if err != nil {
				served <- err
				return
			}
			if f.op == opCls {
				_, err = p.c.Write(frame(fin|opCls, f.payload))
				served <- err
				return
			}
			if _, err := p.c.Write(frame(fin|f.op, f.payload)); err != nil {
				served <- err
				return
			}
		}
	}()
	for _, want := range []string{"one", "two", "three"} {
		_, got, err := conn.ReadMessage()
		if err != nil || string(got) != want {
			t.Fatalf("ReadMessage = %q, %v; want %q", got, err, want)
		}
	}
	_, _, err := conn.ReadMessage()
	if ce := (*CloseError)(nil); !errors.As(err, &ce) || ce.Code != StatusNormalClosure {
		t.Errorf("after the replies the read returned %v, want the server's close 1000", err)
	}
	if err := <-served; err != nil {
		t.Errorf("server: %v", err)
	}
	if err := conn.CloseWrite(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("CloseWrite after the handshake: %v, want net.ErrClosed", err)
	}
}

// failingClose is a stream whose Close reports an error after closing, as a
// TLS tunnel does when the proxy has already dropped it.
type failingClose struct{ net.Conn }

func (f failingClose) Close() error {
	f.Conn.Close()
	return errors.New("tls: failed to send closeNotify alert: broken pipe")
}

// TestCloseIgnoresTeardownAfterHandshake: once the server's close frame has
// come, Close succeeds, whatever closing the stream says.
func TestCloseIgnoresTeardownAfterHandshake(t *testing.T) {
	conn, p := handshakeOver(t, nil, func(nc net.Conn) net.Conn { return failingClose{nc} })
	go func() {
		p.readUntilClose()
		p.c.Write(frame(fin|opCls, closePayload(1000, "")))
	}()
	if err := conn.Close(); err != nil {
		t.Errorf("Close after a complete handshake: %v", err)
	}
}

// pipePair runs the handshake over net.Pipe, whose writes block until the
// other end reads: a peer that stops reading, at will.
func pipePair(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	return pipePairOver(t, nil)
}

// pipePairOver is pipePair with the client's end of the pipe wrapped by
// wrap, unless it is nil, and opts for the handshake.
func pipePairOver(t *testing.T, wrap func(net.Conn) net.Conn, opts ...Option) (*Conn, net.Conn) {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	go func() {
		req, _, err := readUpgrade(server)
		if err == nil {
			server.Write([]byte(upgradeResponse(req, "")))
		}
	}()
	var nc net.Conn = client
	if wrap != nil {
		nc = wrap(client)
	}
	conn, err := Handshake(context.Background(), nc, "pipe.example", "/", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return conn, server
}

// TestCloseBoundedWhenPeerStopsReading: the close frame's write is bounded,
// so Close returns although the peer never reads it.
func TestCloseBoundedWhenPeerStopsReading(t *testing.T) {
	conn, _ := pipePair(t)
	start := time.Now()
	conn.Close()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %v against a peer that does not read", took)
	}
}

// tlsPipePair is pipePair over TLS: the handshake, TLS's and then
// WebSocket's, runs over net.Pipe, and the server end returned is the TLS
// one, which the test drives as it likes, or leaves unread.
func tlsPipePair(t *testing.T, opts ...Option) (*Conn, *peer) {
	t.Helper()
	cert, pool := newCert(t, "pipe.example")
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close(); server.Close() })
	peers := make(chan *peer, 1)
	go func() {
		tc := tls.Server(server, &tls.Config{Certificates: []tls.Certificate{*cert}})
		br := bufio.NewReader(tc)
		req, err := http.ReadRequest(br)
		if err != nil {
			close(peers)
			return
		}
		tc.Write([]byte(upgradeResponse(req, "")))
		peers <- &peer{c: tc, br: br, req: req}
	}()
	tc := tls.Client(client, &tls.Config{RootCAs: pool, ServerName: "pipe.example"})
	conn, err := Handshake(context.Background(), tc, "pipe.example", "/", opts...)
	if err != nil {
		t.Fatal(err)
	}
	p := <-peers
	if p == nil {
		t.Fatal("the server's handshake failed")
	}
	return conn, p
}

// TestCloseBoundedOverTLSWhenPeerStopsReading: over TLS, ending the
// connection must not wait on crypto/tls's close_notify, which a *tls.Conn
// sends under five seconds of its own, when the peer did not even read the
// close frame: neither Close, nor a read that answers the peer's close, nor
// one that fails the connection.
func TestCloseBoundedOverTLSWhenPeerStopsReading(t *testing.T) {
	cases := map[string]func(conn *Conn, p *peer) error{
		"Close": func(conn *Conn, p *peer) error {
			conn.Close() // fails: its frame cannot go out
			return nil
		},
		"the peer's close answered": func(conn *Conn, p *peer) error {
			go p.c.Write(frame(fin|opCls, closePayload(StatusGoingAway, "")))
			_, _, err := conn.ReadMessage()
			if !errors.As(err, new(*CloseError)) {
				return fmt.Errorf("read: %v, want the server's close", err)
			}
			return nil
		},
		"a protocol error": func(conn *Conn, p *peer) error {
			go p.c.Write([]byte{fin | opTxt, 0x80, 1, 2, 3, 4})
			_, _, err := conn.ReadMessage()
			if !errors.As(err, new(*ProtocolError)) {
				return fmt.Errorf("read: %v, want a protocol error", err)
			}
			return nil
		},
	}
	for name, end := range cases {
		t.Run(name, func(t *testing.T) {
			conn, p := tlsPipePair(t)
			start := time.Now()
			if err := end(conn, p); err != nil {
				t.Error(err)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("it took %v against a peer that does not read", took)
			}
		})
	}
}

// TestPongBoundedWhenPeerStopsReading: a read that answers a ping does not
// hang on the pong when the peer has stopped reading.
func TestPongBoundedWhenPeerStopsReading(t *testing.T) {
	conn, server := pipePair(t)
	go server.Write(frame(fin|opPng, []byte("are you there")))
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	start := time.Now()
	if _, _, err := conn.ReadMessage(); err == nil {
		t.Fatal("ReadMessage succeeded with nothing to read")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the read took %v, held by the pong to a peer that does not read", took)
	}
}

// TestSteadyStateAllocations holds the message layer to what its docs say:
// WriteMessage and a read through NextReader into the caller's buffer
// allocate nothing, and ReadMessage only the slice it returns.
func TestSteadyStateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts; .ci/run runs this test without it")
	}
	const size = 1 << 10
	conn, p := newPair(t)
	done := serveFrames(p, size)
	defer func() {
		conn.closeStream()
		p.c.Close()
		<-done
	}()
	buf := make([]byte, size)
	if n := testing.AllocsPerRun(200, func() {
		_, r, err := conn.NextReader()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("a read through NextReader allocates %v times", n)
	}
	if n := testing.AllocsPerRun(200, func() {
		if _, _, err := conn.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}); n != 1 {
		t.Errorf("ReadMessage allocates %v times, want 1", n)
	}

	wconn, wp := newPair(t)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		io.Copy(io.Discard, wp.br)
	}()
	msg := make([]byte, size)
	if n := testing.AllocsPerRun(200, func() {
		if err := wconn.WriteMessage(BinaryMessage, msg); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WriteMessage allocates %v times", n)
	}
	wconn.closeStream()
	wp.c.Close()
	<-drained
}
