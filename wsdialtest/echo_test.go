package wsdialtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsdial/wsdial"
)

// The tests dial with wsdial where a well-behaved client will do, and with
// raw frames where the client must misbehave.

func dialer(t *testing.T, opts ...wsdial.Option) *wsdial.Dialer {
	t.Helper()
	d, err := wsdial.New(append([]wsdial.Option{wsdial.WithoutProxy(), wsdial.WithHandshakeTimeout(10 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestEcho(t *testing.T) {
	for _, tls := range []bool{false, true} {
		srv := NewEchoServer()
		if tls {
			srv = NewTLSEchoServer()
		}
		defer srv.Close()
		d := dialer(t, wsdial.WithTLSConfig(srv.TLSConfig()), wsdial.WithSubprotocols("chat.v2", "chat.v1"))
		c, err := d.DialWebSocket(context.Background(), srv.URL+"any/path?q=1")
		if err != nil {
			t.Fatal(err)
		}
		if c.Subprotocol() != "chat.v2" {
			t.Errorf("subprotocol %q, want the first offered", c.Subprotocol())
		}
		pongs := make(chan string, 1)
		c.SetPongHandler(func(p []byte) { pongs <- string(p) })
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, a 64-bit length
		for _, m := range []struct {
			typ  wsdial.MessageType
			data []byte
		}{{wsdial.TextMessage, []byte("héllo")}, {wsdial.BinaryMessage, []byte{0, 1, 2, 255}}, {wsdial.BinaryMessage, big}, {wsdial.TextMessage, nil}} {
			if err := c.WriteMessage(m.typ, m.data); err != nil {
				t.Fatal(err)
			}
			typ, got, err := c.ReadMessage()
			if err != nil || typ != m.typ || !bytes.Equal(got, m.data) {
				t.Fatalf("echo of %v of %d bytes: %v, %d bytes, %v", m.typ, len(m.data), typ, len(got), err)
			}
		}
		// A message in fragments comes back whole, and a ping in between is answered.
		w, err := c.NextWriter(wsdial.TextMessage)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{"frag", "men", "ted"} {
			w.Write([]byte(part))
		}
		w.Close()
		if err := c.Ping([]byte("are you there")); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != "fragmented" {
			t.Fatalf("fragmented echo: %q, %v", got, err)
		}
		if err := c.WriteMessage(wsdial.TextMessage, []byte("after the ping")); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != "after the ping" {
			t.Fatalf("echo after the ping: %q, %v", got, err)
		}
		if p := <-pongs; p != "are you there" {
			t.Errorf("pong %q", p)
		}
		if err := c.CloseWithStatus(4000, "done"); err != nil {
			t.Errorf("close: %v", err)
		}
	}
}

// rawClient is the client end of an upgraded connection that writes frames
// as it is told, however wrong.
type rawClient struct {
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, srv *Server) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(srv.URL, "ws://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(time.Minute)) // a wrong server fails the test rather than hanging it
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The accept value of RFC 6455 §1.3's own example key.
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("upgrade answered %s, accept %q", resp.Status, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	return &rawClient{c: c, br: br}
}

// send writes a frame with first byte b0, masked if masked is set, with a
// payload length field of n, taken as unsigned (len(payload) when n is -1).
func (r *rawClient) send(b0 byte, payload []byte, masked bool, n int64) {
	if n == -1 {
		n = int64(len(payload))
	}
	b := []byte{b0, 0}
	switch u := uint64(n); {
	case u <= 125:
		b[1] = byte(u)
	case u <= 0xFFFF:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(u))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, u)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	p := append([]byte(nil), payload...)
	if masked {
		b[1] |= 0x80
		b = append(b, key[:]...)
		for i := range p {
			p[i] ^= key[i%4]
		}
	}
	r.c.Write(append(b, p...))
}

// next reads one frame from the server, which must not be masked.
func (r *rawClient) next() (op byte, payload []byte, err error) {
	var h [8]byte
	if _, err := io.ReadFull(r.br, h[:2]); err != nil {
		return 0, nil, err
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("the server masked a frame")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		io.ReadFull(r.br, h[:2])
		n = uint64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		io.ReadFull(r.br, h[:8])
		n = binary.BigEndian.Uint64(h[:8])
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(r.br, payload)
	return h[0] & 0x0F, payload, err
}

// TestClientThatBreaksTheProtocol sends what RFC 6455 forbids a client, and
// checks that the server answers with the close code the RFC names and
// ends the connection.
func TestClientThatBreaksTheProtocol(t *testing.T) {
	srv := NewEchoServer()
	defer srv.Close()
	tests := []struct {
		name string
		send func(r *rawClient)
		code uint16
	}{
		{"unmasked", func(r *rawClient) { r.send(0x81, []byte("hi"), false, -1) }, 1002},
		{"reserved bit", func(r *rawClient) { r.send(0xC1, []byte("hi"), true, -1) }, 1002},
		{"unknown opcode", func(r *rawClient) { r.send(0x83, nil, true, -1) }, 1002},
		{"unknown control opcode", func(r *rawClient) { r.send(0x8B, nil, true, -1) }, 1002},
		{"fragmented ping", func(r *rawClient) { r.send(0x09, nil, true, -1) }, 1002},
		{"ping of 126 bytes", func(r *rawClient) { r.send(0x89, make([]byte, 126), true, -1) }, 1002},
		{"continuation first", func(r *rawClient) { r.send(0x80, []byte("x"), true, -1) }, 1002},
		{"message inside a message", func(r *rawClient) {
			r.send(0x01, []byte("a"), true, -1)
			r.send(0x81, []byte("b"), true, -1)
		}, 1002},
		{"text not UTF-8", func(r *rawClient) { r.send(0x81, []byte{0xff, 0xfe}, true, -1) }, 1007},
		{"text split inside a character is fine, then broken", func(r *rawClient) {
			r.send(0x01, []byte{0xc3}, true, -1)
			r.send(0x80, []byte{0x28}, true, -1)
		}, 1007},
		{"claims 1 TiB", func(r *rawClient) { r.send(0x82, nil, true, 1<<40) }, 1009},
		{"top length bit", func(r *rawClient) { r.send(0x82, nil, true, -1<<63) }, 1002},
		{"fragments past 32 MiB", func(r *rawClient) {
			r.send(0x02, make([]byte, 16<<20), true, -1)
			r.send(0x80, make([]byte, 16<<20+1), true, -1)
		}, 1009},
		{"close of one byte", func(r *rawClient) { r.send(0x88, []byte{3}, true, -1) }, 1002},
		{"close with 1005", func(r *rawClient) { r.send(0x88, []byte{0x03, 0xED}, true, -1) }, 1002},
		{"close with 999", func(r *rawClient) { r.send(0x88, []byte{0x03, 0xE7}, true, -1) }, 1002},
		{"close reason not UTF-8", func(r *rawClient) { r.send(0x88, []byte{0x03, 0xE8, 0xff}, true, -1) }, 1007},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := dialRaw(t, srv)
			tt.send(r)
			op, payload, err := r.next()
			if err != nil || op != opClose || len(payload) < 2 {
				t.Fatalf("got opcode %#x %q, %v; want a close frame", op, payload, err)
			}
			if code := binary.BigEndian.Uint16(payload); code != tt.code {
				t.Errorf("close code %d (%s), want %d", code, payload[2:], tt.code)
			}
			if _, err := r.br.ReadByte(); err != io.EOF {
				t.Errorf("after the close frame: %v, want the end of the stream", err)
			}
		})
	}
}

// TestCloseAnswered checks the close handshake from the server's side: the
// client's code comes back, and a close without a code gets one without.
func TestCloseAnswered(t *testing.T) {
	srv := NewEchoServer()
	defer srv.Close()
	for _, p := range [][]byte{{0x03, 0xE8}, {0x0F, 0xA0, 'b', 'y', 'e'}, nil} {
		r := dialRaw(t, srv)
		r.send(0x88, p, true, -1)
		op, payload, err := r.next()
		if err != nil || op != opClose {
			t.Fatalf("close %x: got %#x %x, %v", p, op, payload, err)
		}
		if len(p) >= 2 && !bytes.Equal(payload, p[:2]) || len(p) == 0 && len(payload) != 0 {
			t.Errorf("close %x answered with %x", p, payload)
		}
		if _, err := r.br.ReadByte(); err != io.EOF {
			t.Errorf("after the close: %v, want the end of the stream", err)
		}
	}
}

// TestGarbageBeforeTheHandshake sends what is not HTTP, or not an upgrade.
func TestGarbageBeforeTheHandshake(t *testing.T) {
	srv := NewEchoServer()
	defer srv.Close()
	addr := strings.TrimSuffix(strings.TrimPrefix(srv.URL, "ws://"), "/")
	for _, tt := range []struct {
		name, send string
		status     int
	}{
		{"not HTTP", "\x16\x03\x01\x00\xa5garbage\r\n\r\n", 400},
		{"plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 426},
		{"POST upgrade", "POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 405},
		{"no Connection upgrade", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", 400},
		{"version 8", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 426},
		{"short key", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2hvcnQ=\r\n\r\n", 400},
		{"head past 64 KiB", "GET / HTTP/1.1\r\nX-Big: " + strings.Repeat("b", 70<<10) + "\r\n\r\n", 431},
		{"subprotocol that would break the head", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: a\tb\r\n\r\n", 101},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute))
			go io.WriteString(c, tt.send) // the server may answer before it has read it all
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status %s, want %d", resp.Status, tt.status)
			}
			if tt.status == 101 {
				if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" {
					t.Errorf("subprotocol %q accepted", p)
				}
				return
			}
			io.Copy(io.Discard, resp.Body)
			// A server that closes with the client's bytes unread resets
			// the connection, which ends it as surely.
			if _, err := br.ReadByte(); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("after the refusal: %v, want the end of the stream", err)
			}
		})
	}
}

// TestCloseEndsEverything leaves connections in every state (idle before
// the handshake, upgraded, tunnelled, mid-SOCKS5), closes the servers, and
// checks that every goroutine they started has ended and every connection
// is closed.
func TestCloseEndsEverything(t *testing.T) {
	base := runtime.NumGoroutine()
	echo, tlsEcho := NewEchoServer(), NewTLSEchoServer()
	px, socks := NewProxy(), NewSOCKS5Proxy(WithBasicAuth("u", "p"))
	var conns []net.Conn
	for _, s := range []string{echo.URL, tlsEcho.URL, px.URL, socks.URL} {
		u := s[strings.Index(s, "//")+2:]
		c, err := net.Dial("tcp", strings.TrimSuffix(u, "/"))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte{5}) // half a SOCKS greeting; half a request line elsewhere
		conns = append(conns, c)
	}
	d := dialer(t, wsdial.WithProxy(px.URL))
	tunnelled, err := d.DialWebSocket(context.Background(), echo.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer tunnelled.NetConn().Close()
	direct, err := dialer(t, wsdial.WithTLSConfig(tlsEcho.TLSConfig())).DialWebSocket(context.Background(), tlsEcho.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.NetConn().Close()

	for _, s := range []interface{ Close() }{echo, tlsEcho, px, socks, echo} { // echo twice: Close may repeat
		s.Close()
	}
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Errorf("a connection left open at Close: %v", err)
		}
		c.Close()
	}
	for _, c := range []*wsdial.Conn{tunnelled, direct} {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, _, err := c.ReadMessage(); !errors.Is(err, io.ErrUnexpectedEOF) {
			var ce *wsdial.CloseError
			if !errors.As(err, &ce) || ce.Code != wsdial.StatusAbnormalClosure {
				t.Errorf("read after Close: %v, want the stream's end", err)
			}
		}
	}
	// Goroutines that have ended may take a moment to leave the count.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(px.URL, "http://"), time.Second); err == nil {
		t.Error("the proxy still accepts after Close")
	}
}

func TestTLSConfig(t *testing.T) {
	plain := NewEchoServer()
	defer plain.Close()
	if plain.TLSConfig() != nil || plain.Certificate() != nil {
		t.Error("a ws:// server has a TLS configuration")
	}
	srv := NewTLSEchoServer()
	defer srv.Close()
	host := strings.TrimSuffix(strings.TrimPrefix(srv.URL, "wss://"), "/")
	for _, name := range []string{"127.0.0.1", "localhost", "echo.test", "chat.test"} {
		cfg := srv.TLSConfig()
		cfg.ServerName = name
		c, err := tls.Dial("tcp", host, cfg)
		if err != nil {
			t.Errorf("as %s: %v", name, err)
			continue
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != "" {
			t.Errorf("ALPN %q with no offer", p)
		}
		c.Close()
	}
	cfg := srv.TLSConfig()
	cfg.ServerName = "a.b.test"
	if c, err := tls.Dial("tcp", host, cfg); err == nil {
		c.Close()
		t.Error("the certificate is valid for a.b.test, two labels under .test")
	}
	if c, err := tls.Dial("tcp", host, &tls.Config{ServerName: "127.0.0.1"}); err == nil {
		c.Close()
		t.Error("the system roots trust the server")
	}
}

func TestUnmask(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for n := range 40 {
		p := make([]byte, n)
		want := make([]byte, n)
		for i := range p {
			p[i] = byte(i * 7)
			want[i] = p[i] ^ key[i%4]
		}
		unmask(p, key)
		if !bytes.Equal(p, want) {
			t.Fatalf("%d bytes: %x, want %x", n, p, want)
		}
	}
}

// TestZeroValues checks that the methods of values not made by the
// constructors do not panic.
func TestZeroValues(t *testing.T) {
	var s Server
	var p Proxy
	if s.TLSConfig() != nil || s.Certificate() != nil || p.Tunnels() != 0 {
		t.Error("zero values claim a certificate or tunnels")
	}
	s.Close()
	p.Close()
}
