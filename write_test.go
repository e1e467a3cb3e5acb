package wsdial

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// TestWriteMasked unmasks everything the client sends and checks the
// payloads, the headers, and that every frame has a key of its own.
func TestWriteMasked(t *testing.T) {
	conn, p := newPair(t)
	type sent struct {
		fin     bool
		op      byte
		payload []byte
	}
	var want []sent
	sizes := []int{0, 1, 7, 8, 125, 126, 65535, 65536, 100003}
	for _, n := range sizes {
		want = append(want, sent{true, opBin, pattern(n)})
	}
	want = append(want, sent{true, opTxt, []byte("héllo")}, sent{true, opPing, []byte("are you there")})
	// NextWriter: small writes gather into one buffer-sized frame; a large
	// write with nothing buffered goes out as a frame of its own.
	room := writeBufSize - maxHeader
	streamed := pattern(room + 10)
	big := pattern(3 * writeBufSize)
	want = append(want,
		sent{false, opTxt, text(room)},
		sent{false, opCont, big},
		sent{true, opCont, text(10)},
		sent{true, opBin, streamed[:5]},
	)

	errc := make(chan error, 1)
	go func() {
		for _, n := range sizes {
			if err := conn.WriteMessage(BinaryMessage, pattern(n)); err != nil {
				errc <- err
				return
			}
		}
		if err := conn.WriteMessage(TextMessage, []byte("héllo")); err != nil {
			errc <- err
			return
		}
		if err := conn.Ping([]byte("are you there")); err != nil {
			errc <- err
			return
		}
		w, err := conn.NextWriter(TextMessage)
		if err != nil {
			errc <- err
			return
		}
		for range room / 100 {
			w.Write(text(100))
		}
		w.Write(text(room % 100))
		w.Write(big)
		w.Write(text(10))
		w.Write(nil)
		if err := w.Close(); err != nil {
			errc <- err
			return
		}
		if err := w.Close(); err == nil {
			errc <- errors.New("closing a message writer twice succeeded")
			return
		}
		if _, err := w.Write([]byte("x")); err == nil {
			errc <- errors.New("writing to a closed message writer succeeded")
			return
		}
		w, _ = conn.NextWriter(BinaryMessage)
		w.Write(streamed[:5])
		errc <- w.Close()
	}()

	keys := make(map[[4]byte]int)
	for i, w := range want {
		f, err := p.readFrame()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !f.masked || f.rsv != 0 || f.fin != w.fin || f.op != w.op {
			t.Errorf("frame %d: masked=%v rsv=%#x fin=%v op=%#x, want masked, no rsv, fin=%v op=%#x",
				i, f.masked, f.rsv, f.fin, f.op, w.fin, w.op)
		}
		if !bytes.Equal(f.payload, w.payload) {
			t.Errorf("frame %d: payload of %d bytes differs from the %d sent", i, len(f.payload), len(w.payload))
		}
		if j, ok := keys[f.key]; ok {
			t.Errorf("frames %d and %d share the masking key % x", j, i, f.key)
		}
		keys[f.key] = i
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestWriteRefusals(t *testing.T) {
	conn, _ := newPair(t)
	if err := conn.WriteMessage(MessageType(8), nil); err == nil {
		t.Error("WriteMessage with a close opcode succeeded")
	}
	if _, err := conn.NextWriter(MessageType(0)); err == nil {
		t.Error("NextWriter with a continuation opcode succeeded")
	}
	if err := conn.Ping(make([]byte, 126)); err == nil {
		t.Error("Ping of 126 bytes succeeded")
	}
	for _, c := range []struct {
		code   StatusCode
		reason string
	}{{1005, ""}, {1006, ""}, {1015, ""}, {999, ""}, {5000, ""}, {1000, string(text(124))}, {1000, "\xFF"}} {
		if err := conn.CloseWithStatus(c.code, c.reason); err == nil || errors.Is(err, errClosed) {
			t.Errorf("CloseWithStatus(%d, %d bytes): %v, want a refusal", c.code, len(c.reason), err)
		}
	}
	// None of the refusals touched the connection.
	if err := conn.WriteMessage(TextMessage, []byte("still open")); err != nil {
		t.Fatal(err)
	}
}

// TestWriteTimeoutWithNothingSent: a message whose first frame times out on
// the application's write deadline before any byte of it went out fails,
// and so does the rest of that message's writer, but the connection's next
// message, under a fresh deadline, goes out whole, as the write deadline's
// documentation says, and as a ping that times out leaves it.
func TestWriteTimeoutWithNothingSent(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "compressed"}[compressed], func(t *testing.T) {
			conn, p := newPairCompressedIf(t, compressed, "; client_no_context_takeover", Compression{ClientContextTakeover: true})
			conn.SetWriteDeadline(time.Now().Add(-time.Second))
			if err := conn.WriteMessage(TextMessage, textLike(1000, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("WriteMessage past the deadline: %v, want a timeout", err)
			}
			w, err := conn.NextWriter(BinaryMessage)
			if err != nil {
				t.Fatalf("NextWriter after a message that timed out: %v", err)
			}
			if _, err := w.Write(noise(200<<10, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the writer's first frame past the deadline: %v, want a timeout", err)
			}
			conn.SetWriteDeadline(time.Time{})
			// The writer's message is broken: nothing more of it may go out,
			// not even its last frame, which would continue a message the
			// server never saw begin.
			if _, err := w.Write([]byte("more")); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("the writer after its frame timed out: %v, want the timeout again", err)
			}
			if err := w.Close(); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("closing the writer after its frame timed out: %v, want the timeout again", err)
			}
			want := textLike(2000, 2)
			if err := conn.WriteMessage(TextMessage, want); err != nil {
				t.Fatalf("WriteMessage under no deadline, after the timeouts: %v", err)
			}
			m, err := p.readMessage()
			if err != nil {
				t.Fatal(err)
			}
			got := m.payload
			if compressed {
				if got, err = (&serverInflater{noContext: true}).inflate(got); err != nil {
					t.Fatal(err)
				}
			}
			if m.op != opText || !bytes.Equal(got, want) {
				t.Fatalf("server read opcode %#x, %d bytes; want the text message of %d bytes", m.op, len(got), len(want))
			}
		})
	}
}

// TestWriteDeadlineWhileWriterOpen: a message waits for another goroutine's
// writer from NextWriter to be closed, but no later than the write
// deadline, which SetWriteDeadline says covers WriteMessage and NextWriter.
// Nothing of it went out, so once the writer is closed the next write works.
func TestWriteDeadlineWhileWriterOpen(t *testing.T) {
	conn, p := newPair(t)
	w, err := conn.NextWriter(BinaryMessage)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	for name, write := range map[string]func() error{
		"WriteMessage": func() error { return conn.WriteMessage(TextMessage, []byte("late")) },
		"NextWriter":   func() error { _, err := conn.NextWriter(TextMessage); return err },
	} {
		written := make(chan error, 1)
		go func() { written <- write() }()
		wantTimeout(t, name, "an open writer", written)
	}
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	w.Write([]byte("first"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := conn.WriteMessage(TextMessage, []byte("after")); err != nil {
		t.Fatalf("the write after the writer closed: %v", err)
	}
	expectFrame(t, p, opBinary, "first")
	expectFrame(t, p, opText, "after")
}

// TestCloseEndsWritesWaitingForALock: Close from another goroutine ends a
// WriteMessage, without a write deadline, that waits behind a writer its
// owner never closes: the write returns an error that matches
// net.ErrClosed rather than waiting on without end, as one waiting in a
// net.Conn's Write would.
func TestCloseEndsWritesWaitingForALock(t *testing.T) {
	conn, p := newPair(t)
	go io.Copy(io.Discard, p.c)
	if _, err := conn.NextWriter(TextMessage); err != nil { // leaked, on purpose
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() { written <- conn.WriteMessage(TextMessage, []byte("behind the open writer")) }()
	waitQueued(&conn.msgSem)
	conn.Close()
	select {
	case err := <-written:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("the waiting write returned %v, want an error that matches net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second): // a guard against hanging
		t.Fatal("the write waited on after Close")
	}
}
