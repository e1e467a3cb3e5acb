package server

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// masked is a frame as a client sends it, masked, of opcode op with payload
// p, the last of its message when fin.
func masked(op ws.OpCode, fin bool, p string) []byte {
	var b bytes.Buffer
	m := [4]byte{1, 2, 3, 4}
	ws.WriteHeader(&b, ws.Header{Fin: fin, OpCode: op, Masked: true, Mask: m, Length: int64(len(p))})
	q := []byte(p)
	ws.Cipher(q, m, 0)
	b.Write(q)
	return b.Bytes()
}

// FuzzLeanStream feeds the lean server's WebSocket endpoints arbitrary
// stream bytes, in pieces of split bytes: they must not panic, and a
// stream's output queue must stay within its bound whatever comes in.
func FuzzLeanStream(f *testing.F) {
	f.Add(masked(ws.OpText, true, "hello"), uint16(3), uint8(0))
	f.Add(append(masked(ws.OpBinary, false, "ab"), masked(ws.OpContinuation, true, "cd")...), uint16(1), uint8(1))
	f.Add(masked(ws.OpText, true, wire.SourceRequest(3, 100)), uint16(100), uint8(2))
	f.Add(append(masked(ws.OpPing, true, "p"), masked(ws.OpClose, true, "\x03\xe8")...), uint16(2), uint8(0))
	f.Add([]byte{0x82, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, uint16(7), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, split uint16, path uint8) {
		paths := []string{wire.PathEcho, wire.PathSink, wire.PathSource}
		c := &leanConn{cfg: LeanH2{StreamWindow: defaultWindow, ConnWindow: defaultWindow}}
		s := &leanStream{id: 1, path: paths[int(path)%len(paths)], every: 1}
		step := max(int(split), 1)
		for len(data) > 0 {
			k := min(step, len(data))
			s.in = append(s.in, data[:k]...)
			data = data[k:]
			// Drain as a client with endless windows would, a bounded
			// number of times: a source may ask for more than a test runs.
			for range 64 {
				ate, made := c.consume(s), c.generate(s)
				if q := len(s.out) - s.off; q > 2*leanOutLimit+leanMsgLimit+2*ws.MaxHeaderSize {
					t.Fatalf("%d bytes queued", q)
				}
				s.out, s.off, s.zeros = s.out[:0], 0, 0
				if !ate && !made {
					break
				}
			}
		}
	})
}

// FuzzLeanHeader checks the lean server's frame header parser against
// gobwas/ws's on what both accept.
func FuzzLeanHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4})
	f.Add([]byte{0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4})
	f.Add([]byte{0x02, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Add([]byte{0x88, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, p []byte) {
		h, n, ok := parseHeader(p)
		if !ok {
			return
		}
		if n > len(p) || h.Length < 0 {
			t.Fatalf("header of %d bytes, length %d, from %d bytes", n, h.Length, len(p))
		}
		r := bytes.NewReader(p)
		want, err := ws.ReadHeader(r)
		if err != nil {
			return // gobwas refuses a top bit that parseHeader reads as too long
		}
		if h != want || n != len(p)-r.Len() {
			t.Fatalf("parseHeader = %+v (%d bytes), gobwas %+v (%d bytes)", h, n, want, len(p)-r.Len())
		}
	})
}
