package wsdialtest

import (
	"bytes"
	"net"
	"testing"
	"time"
)

// streamConn is a net.Conn that reads a fixed input and drops what is
// written: a client for the fuzz target, with no socket behind it.
type streamConn struct {
	r       *bytes.Reader
	written int
}

func (s *streamConn) Read(p []byte) (int, error)       { return s.r.Read(p) }
func (s *streamConn) Write(p []byte) (int, error)      { s.written += len(p); return len(p), nil }
func (s *streamConn) Close() error                     { return nil }
func (s *streamConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (s *streamConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (s *streamConn) SetDeadline(time.Time) error      { return nil }
func (s *streamConn) SetReadDeadline(time.Time) error  { return nil }
func (s *streamConn) SetWriteDeadline(time.Time) error { return nil }
func (s *streamConn) CloseWrite() error                { return nil }

// upgradeRequest is a valid opening handshake, for the seeds.
const upgradeRequest = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// FuzzEchoServer feeds the echo server a client's whole stream, handshake
// and frames: whatever it holds, the server must answer in bounded time and
// memory and never panic. The stream ends at the input's end, as a client's
// would.
func FuzzEchoServer(f *testing.F) {
	masked := func(b0 byte, payload string) string {
		b := []byte{b0, 0x80 | byte(len(payload)), 1, 2, 3, 4}
		for i := range len(payload) {
			b = append(b, payload[i]^b[2+i%4])
		}
		return string(b)
	}
	for _, seed := range []string{
		upgradeRequest,
		upgradeRequest + masked(0x81, "hello") + masked(0x89, "ping") + masked(0x88, "\x03\xe8"),
		upgradeRequest + masked(0x01, "frag") + masked(0x80, "ment"),
		upgradeRequest + "\x82\x7f\x00\x00\x01\x00\x00\x00\x00\x00",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &streamConn{r: bytes.NewReader(in)}
		s := &Server{}
		s.handle(c)
		// Every echo, pong or close is a frame of at most what came in, plus
		// its header; the HTTP answers are short.
		if c.written > 2*len(in)+1024 {
			t.Errorf("wrote %d bytes for %d in", c.written, len(in))
		}
	})
}
