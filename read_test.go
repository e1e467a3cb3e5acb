package wsdial

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

type message struct {
	t MessageType
	p []byte
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func text(n int) []byte { return bytes.Repeat([]byte("a"), n) }

func join(frames ...[]byte) []byte { return slices.Concat(frames...) }

const (
	fin    = 0x80
	rsv1   = 0x40
	rsv2   = 0x20
	rsv3   = 0x10
	opTxt  = 0x1
	opBin  = 0x2
	opCont = 0x0
	opCls  = 0x8
	opPng  = 0x9
	opPog  = 0xA
)

var normalClose = frame(fin|opCls, closePayload(1000, ""))

// readCase is one crafted exchange: the server sends send, and the client's
// reads must return msgs and then fail with a *ProtocolError or *CloseError
// of code, while the server sees pongs and then a close frame of sentCode.
type readCase struct {
	name     string
	limit    int64
	send     []byte
	msgs     []message
	pongs    [][]byte
	protocol bool // the final error is a *ProtocolError, not a *CloseError
	code     StatusCode
	text     string     // the *CloseError's Text
	sentCode StatusCode // the client's close frame: 0 for none, 1005 for one without a code
}

// peerClosed is the end of a case where the server closes with 1000.
func closedBy(c readCase) readCase {
	c.send = append(c.send, normalClose...)
	c.code, c.sentCode = StatusNormalClosure, StatusNormalClosure
	return c
}

func failedWith(code StatusCode, c readCase) readCase {
	c.protocol, c.code, c.sentCode = true, code, code
	return c
}

func readCases() []readCase {
	var cases []readCase

	// Framing: payload lengths at every boundary of the length encodings.
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 65537, 3<<20 + 5} {
		cases = append(cases,
			closedBy(readCase{name: fmt.Sprintf("binary/%d", n), send: frame(fin|opBin, pattern(n)),
				msgs: []message{{BinaryMessage, pattern(n)}}}),
			closedBy(readCase{name: fmt.Sprintf("text/%d", n), send: frame(fin|opTxt, text(n)),
				msgs: []message{{TextMessage, text(n)}}}))
	}
	cases = append(cases,
		closedBy(readCase{name: "many small messages in one write",
			send: join(frame(fin|opTxt, []byte("a")), frame(fin|opBin, []byte{0, 1}), frame(fin|opTxt, nil)),
			msgs: []message{{TextMessage, []byte("a")}, {BinaryMessage, []byte{0, 1}}, {TextMessage, []byte{}}}}),
		failedWith(StatusProtocolError, readCase{name: "masked server frame",
			send: []byte{fin | opTxt, 0x80, 1, 2, 3, 4}}),
		failedWith(StatusProtocolError, readCase{name: "64-bit length with the top bit set",
			send: []byte{fin | opBin, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}}),
	)

	// The examples of RFC 6455 §5.7, byte for byte. The masked one is what
	// a client sends; from a server it is refused (§5.1).
	hello := []byte("Hello")
	cases = append(cases,
		closedBy(readCase{name: "RFC 6455 5.7 single-frame unmasked text",
			send: []byte{0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}, msgs: []message{{TextMessage, hello}}}),
		failedWith(StatusProtocolError, readCase{name: "RFC 6455 5.7 single-frame masked text",
			send: []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}}),
		closedBy(readCase{name: "RFC 6455 5.7 fragmented unmasked text",
			send: []byte{0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f}, msgs: []message{{TextMessage, hello}}}),
		closedBy(readCase{name: "RFC 6455 5.7 unmasked ping",
			send: []byte{0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}, pongs: [][]byte{hello}}),
		closedBy(readCase{name: "RFC 6455 5.7 256 bytes binary in a single unmasked frame",
			send: append([]byte{0x82, 0x7E, 0x01, 0x00}, pattern(256)...), msgs: []message{{BinaryMessage, pattern(256)}}}),
		closedBy(readCase{name: "RFC 6455 5.7 64 KiB binary in a single unmasked frame",
			send: append([]byte{0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}, pattern(65536)...), msgs: []message{{BinaryMessage, pattern(65536)}}}),
	)

	// Pings and pongs.
	cases = append(cases,
		closedBy(readCase{name: "ping empty", send: frame(fin|opPng, nil), pongs: [][]byte{{}}}),
		closedBy(readCase{name: "ping 125 binary bytes", send: frame(fin|opPng, pattern(125)), pongs: [][]byte{pattern(125)}}),
		closedBy(readCase{name: "ten pings", send: bytes.Repeat(frame(fin|opPng, []byte("ping")), 10),
			pongs: slices.Repeat([][]byte{[]byte("ping")}, 10)}),
		closedBy(readCase{name: "unsolicited pong",
			send: join(frame(fin|opPog, []byte("hi")), frame(fin|opTxt, []byte("after"))),
			msgs: []message{{TextMessage, []byte("after")}}}),
		closedBy(readCase{name: "ping then message",
			send:  join(frame(fin|opPng, []byte("p")), frame(fin|opTxt, []byte("m"))),
			msgs:  []message{{TextMessage, []byte("m")}},
			pongs: [][]byte{[]byte("p")}}),
		failedWith(StatusProtocolError, readCase{name: "ping of 126 bytes",
			send: []byte{fin | opPng, 126, 0, 126}}),
		failedWith(StatusProtocolError, readCase{name: "fragmented ping",
			send: frame(opPng, []byte("a"))}),
		failedWith(StatusProtocolError, readCase{name: "close of 126 bytes",
			send: []byte{fin | opCls, 126, 0, 126}}),
	)

	// Reserved bits and opcodes.
	for _, b0 := range []byte{fin | rsv1 | opTxt, fin | rsv2 | opBin, fin | rsv3 | opPng, fin | rsv1 | rsv2 | rsv3 | opTxt, rsv1 | opCont} {
		cases = append(cases, failedWith(StatusProtocolError, readCase{name: fmt.Sprintf("reserved bits %#x", b0),
			send: join(frame(fin|opTxt, []byte("ok")), frame(b0, nil)),
			msgs: []message{{TextMessage, []byte("ok")}}}))
	}
	for _, op := range []byte{3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF} {
		cases = append(cases, failedWith(StatusProtocolError, readCase{name: fmt.Sprintf("opcode %#x", op),
			send: join(frame(fin|opTxt, []byte("ok")), frame(fin|op, nil)),
			msgs: []message{{TextMessage, []byte("ok")}}}))
	}

	// Fragmentation, with control frames between the fragments.
	cases = append(cases,
		closedBy(readCase{name: "two fragments",
			send: join(frame(opTxt, []byte("hello ")), frame(fin|opCont, []byte("world"))),
			msgs: []message{{TextMessage, []byte("hello world")}}}),
		closedBy(readCase{name: "empty fragments",
			send: join(frame(opBin, nil), frame(opCont, nil), frame(opCont, []byte{9}), frame(fin|opCont, nil)),
			msgs: []message{{BinaryMessage, []byte{9}}}}),
		closedBy(readCase{name: "one byte a fragment",
			send: join(frame(opBin, []byte{1}), frame(opCont, []byte{2}), frame(opCont, []byte{3}), frame(fin|opCont, []byte{4})),
			msgs: []message{{BinaryMessage, []byte{1, 2, 3, 4}}}}),
		closedBy(readCase{name: "ping and pong between fragments",
			send: join(frame(opTxt, []byte("a")), frame(fin|opPng, []byte("1")), frame(opCont, []byte("b")),
				frame(fin|opPog, []byte("x")), frame(fin|opPng, []byte("2")), frame(fin|opCont, []byte("c"))),
			msgs:  []message{{TextMessage, []byte("abc")}},
			pongs: [][]byte{[]byte("1"), []byte("2")}}),
		closedBy(readCase{name: "large fragments around a ping",
			send: join(frame(opBin, pattern(70000)), frame(fin|opPng, nil), frame(fin|opCont, pattern(70000))),
			msgs: []message{{BinaryMessage, append(pattern(70000), pattern(70000)...)}}, pongs: [][]byte{{}}}),
		failedWith(StatusProtocolError, readCase{name: "continuation without a start",
			send: frame(fin|opCont, []byte("x"))}),
		failedWith(StatusProtocolError, readCase{name: "new message inside a fragmented one",
			send: join(frame(opTxt, []byte("a")), frame(fin|opTxt, []byte("b")))}),
		failedWith(StatusProtocolError, readCase{name: "new binary message after a finished one and a stray continuation",
			send: join(frame(fin|opBin, []byte("a")), frame(opCont, []byte("b"))),
			msgs: []message{{BinaryMessage, []byte("a")}}}),
		readCase{name: "close between fragments",
			send: join(frame(opTxt, []byte("a")), frame(fin|opCls, closePayload(1001, "bye"))),
			code: StatusGoingAway, text: "bye", sentCode: StatusGoingAway},
	)

	// UTF-8, whole and split across fragments at every point.
	euro := []byte("€") // E2 82 AC
	kosme := []byte("κόσμε")
	cases = append(cases,
		closedBy(readCase{name: "utf8 whole", send: frame(fin|opTxt, kosme), msgs: []message{{TextMessage, kosme}}}),
		closedBy(readCase{name: "utf8 code point split over frames",
			send: join(frame(opTxt, euro[:1]), frame(opCont, euro[1:2]), frame(fin|opCont, euro[2:])),
			msgs: []message{{TextMessage, euro}}}),
		closedBy(readCase{name: "utf8 four-byte code point split 2+2",
			send: join(frame(opTxt, []byte("\xF0\x9F")), frame(fin|opCont, []byte("\x98\x80"))),
			msgs: []message{{TextMessage, []byte("😀")}}}),
		closedBy(readCase{name: "binary is not checked", send: frame(fin|opBin, []byte{0xFF, 0xC0}),
			msgs: []message{{BinaryMessage, []byte{0xFF, 0xC0}}}}),
		closedBy(readCase{name: "utf8 max code point", send: frame(fin|opTxt, []byte("\xF4\x8F\xBF\xBF")),
			msgs: []message{{TextMessage, []byte("\xF4\x8F\xBF\xBF")}}}),
	)
	for _, bad := range []string{"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80", "\xFF", "a\xE2\x82", "\xF8\x88\x80\x80\x80"} {
		cases = append(cases, failedWith(StatusInvalidFramePayloadData, readCase{name: fmt.Sprintf("invalid utf8 %q", bad),
			send: frame(fin|opTxt, []byte(bad))}))
	}
	cases = append(cases,
		failedWith(StatusInvalidFramePayloadData, readCase{name: "invalid utf8 across fragments",
			send: join(frame(opTxt, []byte("\xE0")), frame(fin|opCont, []byte("\x80\x80")))}),
		failedWith(StatusInvalidFramePayloadData, readCase{name: "text ends inside a code point",
			send: join(frame(opTxt, []byte("ok\xE2\x82")), frame(fin|opCont, nil))}),
		// The message never ends: only checking as bytes arrive can refuse it.
		failedWith(StatusInvalidFramePayloadData, readCase{name: "invalid utf8 refused before the message ends",
			send: frame(opTxt, []byte("fine, then \xED\xBF\xBF"))}),
	)

	// Close codes and payloads.
	cases = append(cases,
		readCase{name: "close without payload", send: frame(fin|opCls, nil),
			code: StatusNoStatusReceived, sentCode: StatusNoStatusReceived},
		readCase{name: "close with reason", send: frame(fin|opCls, closePayload(1000, "done")),
			code: StatusNormalClosure, text: "done", sentCode: StatusNormalClosure},
		readCase{name: "close with 123-byte reason", send: frame(fin|opCls, closePayload(1000, string(text(123)))),
			code: StatusNormalClosure, text: string(text(123)), sentCode: StatusNormalClosure},
		readCase{name: "data after close is ignored",
			send: join(frame(fin|opCls, closePayload(1000, "")), frame(fin|opTxt, []byte("late"))),
			code: StatusNormalClosure, sentCode: StatusNormalClosure},
		failedWith(StatusProtocolError, readCase{name: "close of 1 byte", send: frame(fin|opCls, []byte{3})}),
		failedWith(StatusInvalidFramePayloadData, readCase{name: "close reason not utf8",
			send: frame(fin|opCls, closePayload(1000, "\xCE\xBA\xE1\xBD"))}),
	)
	for _, code := range []StatusCode{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		cases = append(cases, readCase{name: fmt.Sprintf("close code %d", code),
			send: frame(fin|opCls, closePayload(code, "")), code: code, sentCode: code})
	}
	for _, code := range []StatusCode{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cases = append(cases, failedWith(StatusProtocolError, readCase{name: fmt.Sprintf("invalid close code %d", code),
			send: frame(fin|opCls, closePayload(code, ""))}))
	}

	// The read limit: a message of exactly the limit passes, one byte more
	// does not, whether in one frame or several.
	cases = append(cases,
		closedBy(readCase{name: "limit exact", limit: 1000, send: frame(fin|opBin, pattern(1000)),
			msgs: []message{{BinaryMessage, pattern(1000)}}}),
		closedBy(readCase{name: "limit exact fragmented", limit: 1000,
			send: join(frame(opBin, pattern(600)), frame(fin|opCont, pattern(400))),
			msgs: []message{{BinaryMessage, append(pattern(600), pattern(400)...)}}}),
		failedWith(StatusMessageTooBig, readCase{name: "limit plus one", limit: 1000,
			send: []byte{fin | opBin, 126, 0x03, 0xE9}}), // the header alone: 1001 bytes to come
		failedWith(StatusMessageTooBig, readCase{name: "limit plus one fragmented", limit: 1000,
			send: join(frame(opBin, pattern(600)), []byte{fin | opCont, 126, 0x01, 0x91}), // 401 bytes to come
		}),
		readCase{name: "stream ends without close", send: frame(fin|opTxt, []byte("last")),
			msgs: []message{{TextMessage, []byte("last")}}, code: StatusAbnormalClosure,
			text: "connection ended without a close frame"},
	)
	return cases
}

func TestReadCrafted(t *testing.T) {
	for _, tc := range readCases() {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.limit != 0 {
				opts = append(opts, WithReadLimit(tc.limit))
			}
			conn, p := newPair(t, opts...)
			ended := make(chan clientEnd, 1)
			go func() {
				if _, err := p.c.Write(tc.send); err != nil {
					ended <- clientEnd{err: err}
					return
				}
				if tc.code == StatusAbnormalClosure {
					p.c.(*net.TCPConn).CloseWrite()
				}
				ended <- p.readUntilClose()
			}()

			var got []message
			var err error
			for {
				var m message
				if m.t, m.p, err = conn.ReadMessage(); err != nil {
					break
				}
				got = append(got, m)
			}
			if len(got) != len(tc.msgs) {
				t.Errorf("got %d messages, want %d", len(got), len(tc.msgs))
			}
			for i := range min(len(got), len(tc.msgs)) {
				if got[i].t != tc.msgs[i].t || !bytes.Equal(got[i].p, tc.msgs[i].p) {
					t.Errorf("message %d: got %v of %d bytes, want %v of %d bytes", i, got[i].t, len(got[i].p), tc.msgs[i].t, len(tc.msgs[i].p))
				}
			}
			checkFinalError(t, err, tc.protocol, tc.code, tc.text)

			end := <-ended
			if end.err != nil {
				t.Errorf("server: %v", end.err)
			}
			if end.closeCode != tc.sentCode {
				t.Errorf("client sent close %d, want %d", end.closeCode, tc.sentCode)
			}
			if len(end.pongs) != len(tc.pongs) {
				t.Errorf("server got %d pongs, want %d", len(end.pongs), len(tc.pongs))
			}
			for i := range min(len(end.pongs), len(tc.pongs)) {
				if !bytes.Equal(end.pongs[i], tc.pongs[i]) {
					t.Errorf("pong %d: %q, want %q", i, end.pongs[i], tc.pongs[i])
				}
			}

			// After the end, every call fails clearly and the same way.
			if _, _, again := conn.ReadMessage(); again != err {
				t.Errorf("second read: %v, want the first error again: %v", again, err)
			}
			if _, _, nerr := conn.NextReader(); nerr != err {
				t.Errorf("NextReader: %v, want %v", nerr, err)
			}
			if werr := conn.WriteMessage(TextMessage, []byte("x")); !errors.Is(werr, net.ErrClosed) {
				t.Errorf("write after the end: %v, want net.ErrClosed", werr)
			}
			if perr := conn.Ping(nil); !errors.Is(perr, net.ErrClosed) {
				t.Errorf("ping after the end: %v, want net.ErrClosed", perr)
			}
			if _, nerr := conn.NextWriter(BinaryMessage); !errors.Is(nerr, net.ErrClosed) {
				t.Errorf("NextWriter after the end: %v, want net.ErrClosed", nerr)
			}
			if cerr := conn.Close(); !errors.Is(cerr, net.ErrClosed) {
				t.Errorf("Close after the end: %v, want net.ErrClosed", cerr)
			}
		})
	}
}

func checkFinalError(t *testing.T, err error, protocol bool, code StatusCode, text string) {
	t.Helper()
	if protocol {
		var pe *ProtocolError
		if !errors.As(err, &pe) || pe.Code != code {
			t.Errorf("read error %v, want a *ProtocolError with code %d", err, code)
		}
		return
	}
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != code || ce.Text != text {
		t.Errorf("read error %v, want *CloseError{%d, %q}", err, code, text)
	}
}

// TestNextReaderStreams reads messages in small pieces through NextReader,
// and leaves one half read to check that the next call skips the rest.
func TestNextReaderStreams(t *testing.T) {
	conn, p := newPair(t)
	big := pattern(100000)
	go p.c.Write(join(
		frame(opBin, big[:40000]), frame(fin|opPng, []byte("p")), frame(fin|opCont, big[40000:]),
		frame(fin|opTxt, []byte("skipped in part")),
		frame(fin|opTxt, []byte("last")),
	))

	mt, r, err := conn.NextReader()
	if err != nil || mt != BinaryMessage {
		t.Fatalf("NextReader: %v, %v", mt, err)
	}
	var got []byte
	buf := make([]byte, 777)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("streamed message differs: %d bytes, want %d", len(got), len(big))
	}
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("read past the end: %d, %v", n, err)
	}

	_, r, err = conn.NextReader()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(buf[:4]); n != 4 || err != nil || string(buf[:4]) != "skip" {
		t.Fatalf("partial read: %q, %v", buf[:n], err)
	}
	mt, msg, err := conn.ReadMessage()
	if err != nil || mt != TextMessage || string(msg) != "last" {
		t.Fatalf("after a half-read message: %v %q %v", mt, msg, err)
	}

	f, err := p.readFrame()
	if err != nil || f.op != opPong || string(f.payload) != "p" {
		t.Fatalf("pong: %+v, %v", f, err)
	}
}

// TestPendingBytesAfterHandshake sends a frame in the same write as the 101
// response, so that the handshake reads it ahead, and uses Handshake on a
// stream the test dialed itself.
func TestPendingBytesAfterHandshake(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan *peer, 1)
	go func() {
		p, _ := acceptPeer(ln, join(frame(fin|opTxt, []byte("early")), frame(fin|opPng, []byte("x"))))
		done <- p
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	conn, err := Handshake(t.Context(), nc, "example.test", "/")
	if err != nil {
		t.Fatal(err)
	}
	p := <-done
	if p == nil {
		t.Fatal("server failed")
	}
	defer p.c.Close()
	go p.c.Write(frame(fin|opBin, []byte("later")))

	for _, want := range []string{"early", "later"} {
		_, msg, err := conn.ReadMessage()
		if err != nil || string(msg) != want {
			t.Fatalf("ReadMessage: %q, %v; want %q", msg, err, want)
		}
	}
	if f, err := p.readFrame(); err != nil || f.op != opPong || string(f.payload) != "x" {
		t.Fatalf("pong: %+v, %v", f, err)
	}
}

func TestReadDeadline(t *testing.T) {
	conn, _ := newPair(t)
	conn.SetReadDeadline(time.Now().Add(-time.Second))
	_, _, err := conn.ReadMessage()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v", err)
	}
	conn.SetReadDeadline(time.Time{})
	if _, _, again := conn.ReadMessage(); again != err {
		t.Fatalf("read after a timeout: %v, want %v", again, err)
	}
}

func TestSetReadLimit(t *testing.T) {
	conn, p := newPair(t)
	conn.SetReadLimit(10)
	go p.c.Write(join(frame(fin|opBin, pattern(10)), []byte{fin | opBin, 11}))
	if _, msg, err := conn.ReadMessage(); err != nil || len(msg) != 10 {
		t.Fatalf("message at the limit: %d bytes, %v", len(msg), err)
	}
	_, _, err := conn.ReadMessage()
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != StatusMessageTooBig {
		t.Fatalf("message over the limit: %v", err)
	}
	if end := p.readUntilClose(); end.closeCode != StatusMessageTooBig {
		t.Fatalf("client sent close %d, want 1009", end.closeCode)
	}
	if !strings.Contains(err.Error(), "1009") {
		t.Errorf("error %q does not name the code", err)
	}
}
