package wsdial

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
	"unicode/utf8"
)

// memConn is a net.Conn that reads from a fixed input and keeps what is
// written. The fuzz target uses it to reach the frame reader with no
// network in the way, at fuzzing speed.
type memConn struct {
	r   *bytes.Reader
	out bytes.Buffer
}

func (m *memConn) Read(p []byte) (int, error)       { return m.r.Read(p) }
func (m *memConn) Write(p []byte) (int, error)      { return m.out.Write(p) }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzReadFrames feeds arbitrary server bytes to the reader, through
// ReadMessage or through NextReader in small reads, under a small read limit.
// Whatever arrives, reads must end in an error of the documented kinds,
// never panic; messages must respect the limit and, as text, be UTF-8; and
// what the client sends back must be well-formed, masked frames ending in
// at most one close frame with a code that may travel.
func FuzzReadFrames(f *testing.F) {
	f.Add(join(frame(fin|opTxt, []byte("hello")), normalClose), uint16(1000), false)
	f.Add(join(frame(opTxt, []byte("\xE2\x82")), frame(fin|opPng, []byte("p")), frame(fin|opCont, []byte("\xAC"))), uint16(100), true)
	f.Add(frame(fin|opBin, pattern(300)), uint16(299), false)
	f.Add(join(frame(opBin, pattern(130)), frame(fin|opCont, pattern(70000))), uint16(0), true)
	f.Add(frame(fin|opCls, closePayload(1002, "x")), uint16(10), false)
	f.Add([]byte{fin | opTxt, 127, 0, 0, 0, 0, 0, 0, 0, 3, 'a', 'b', 'c'}, uint16(5), true)
	f.Add([]byte{fin | rsv1 | opTxt, 0x81, 1, 2, 3, 4, 'x'}, uint16(5), false)

	f.Fuzz(func(t *testing.T, data []byte, limit uint16, stream bool) {
		mc := &memConn{r: bytes.NewReader(data)}
		conn := newConn(mc, "", "", &config{readLimit: int64(limit)})
		buf := make([]byte, 7)
		var err error
		for range 1000 {
			var mt MessageType
			var msg []byte
			if stream {
				var r io.Reader
				if mt, r, err = conn.NextReader(); err == nil {
					for {
						n, rerr := r.Read(buf)
						msg = append(msg, buf[:n]...)
						if rerr != nil {
							if rerr != io.EOF {
								err = rerr
							}
							break
						}
					}
				}
			} else {
				mt, msg, err = conn.ReadMessage()
			}
			if err != nil {
				break
			}
			if limit > 0 && len(msg) > int(limit) {
				t.Fatalf("message of %d bytes passed a limit of %d", len(msg), limit)
			}
			if mt == TextMessage && !utf8.Valid(msg) {
				t.Fatalf("invalid UTF-8 text passed: %q", msg)
			}
		}
		var ce *CloseError
		var pe *ProtocolError
		if err != nil && !errors.As(err, &ce) && !errors.As(err, &pe) && !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read ended with %v", err)
		}

		// Pongs go out from goroutines of their own: once the stream is
		// closed none starts writing, and taking the frame lock waits for
		// one under way.
		conn.closeStream()
		conn.frameSem.lock()
		conn.frameSem.unlock()
		out := mc.out.Bytes()
		for closes := 0; len(out) > 0; {
			if len(out) < 2 {
				t.Fatalf("client wrote a truncated header % x", out)
			}
			hl := headerLen(out[0], out[1])
			if len(out) < hl || out[1]&bitMask == 0 {
				t.Fatalf("client wrote a bad header % x", out[:min(len(out), 14)])
			}
			h, perr := parseHeader(out[:hl])
			if perr != nil || !h.fin || h.rsv != 0 || !isControl(h.op) || h.length > maxControl || int64(len(out)-hl) < h.length {
				t.Fatalf("client wrote a bad frame %+v, %v", h, perr)
			}
			p := append([]byte(nil), out[hl:hl+int(h.length)]...)
			maskCopy(p, p, [4]byte(out[hl-4:hl]), 0)
			out = out[hl+int(h.length):]
			if h.op == opClose {
				if closes++; closes > 1 || len(out) > 0 {
					t.Fatal("client wrote after its close frame")
				}
				if len(p) == 1 || len(p) >= 2 && !StatusCode(binary.BigEndian.Uint16(p)).onWire() {
					t.Fatalf("client sent a bad close payload % x", p)
				}
			}
		}
	})
}
