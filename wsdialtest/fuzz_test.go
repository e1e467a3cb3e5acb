package wsdialtest

import (
	"bytes"
	"net"
	"strings"
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

// fuzzProxies returns the proxies the proxy fuzz targets feed, one open and
// one that demands credentials and routes a name, each with its
// connections to targets replaced by pipes that the far end has closed, so
// that no made-up address is ever dialled.
func fuzzProxies() []*Proxy {
	fake := func(c *proxyConfig) {
		c.connect = func(string) (net.Conn, error) {
			near, far := net.Pipe()
			far.Close()
			return near, nil
		}
	}
	var ps []*Proxy
	for _, opts := range [][]ProxyOption{
		{fake},
		{fake, WithBasicAuth("u", "p"), WithRoute("echo.test:443", "127.0.0.1:443")},
	} {
		p := newProxy(opts)
		p.g.conns = map[net.Conn]struct{}{} // as serve would make it
		ps = append(ps, p)
	}
	return ps
}

// fuzzProxy runs serve on in, a client's whole stream, for each of ps: the
// proxy must answer in bounded time and memory and never panic.
func fuzzProxy(t *testing.T, in []byte, ps []*Proxy, serve func(*Proxy, net.Conn)) {
	for _, p := range ps {
		c := &streamConn{r: bytes.NewReader(in)}
		serve(p, c)
		// The answers are short: a refusal or reply to each of at most
		// maxRequests requests, and nothing relayed, as the target is gone.
		if c.written > len(in)+(maxRequests+1)*512 {
			t.Errorf("wrote %d bytes for %d in", c.written, len(in))
		}
	}
}

// FuzzSOCKS5Proxy feeds the SOCKS5 proxy a client's stream: greeting,
// RFC 1929 authentication, request and whatever follows.
func FuzzSOCKS5Proxy(f *testing.F) {
	for _, seed := range []string{
		"\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50",
		"\x05\x01\x02\x01\x01u\x01p\x05\x01\x00\x03\x09echo.test\x01\xbb",
		"\x05\xff" + strings.Repeat("\x00", 255),
		"\x05\x01\x00\x05\x01\x00\x04" + strings.Repeat("\x00", 15) + "\x01\x00\x50",
		"\x05\x01\x00\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50",
	} {
		f.Add([]byte(seed))
	}
	ps := fuzzProxies()
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzProxy(t, in, ps, (*Proxy).serveSOCKS5)
	})
}

// FuzzConnectProxy feeds the HTTP CONNECT proxy a client's stream: request
// heads, Basic credentials, and the tunnel's bytes.
func FuzzConnectProxy(f *testing.F) {
	for _, seed := range []string{
		"CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\nhello",
		"CONNECT echo.test:443 HTTP/1.1\r\nHost: echo.test:443\r\nProxy-Authorization: Basic dTpw\r\n\r\n",
		"CONNECT a:1 HTTP/1.1\r\n\r\nCONNECT a:1 HTTP/1.1\r\nProxy-Authorization: Basic x\r\n\r\n",
		"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT 127.0.0.1:80 HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcde",
	} {
		f.Add([]byte(seed))
	}
	ps := fuzzProxies()
	f.Fuzz(func(t *testing.T, in []byte) {
		fuzzProxy(t, in, ps, (*Proxy).serveConnect)
	})
}
