package wsdial

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// peer is the server end of a test connection: it writes crafted frames and
// reads, unmasking, what the client sends.
type peer struct {
	c   net.Conn
	br  *bufio.Reader
	req *http.Request // the client's upgrade request
}

// acceptPeer accepts one connection on ln, answers its upgrade request with 101
// and extra bytes behind the response, and returns the server end.
func acceptPeer(ln net.Listener, extra []byte) (*peer, error) {
	return acceptPeerWith(ln, "", extra)
}

// acceptPeerWith is acceptPeer with header, whole "Name: value\r\n" lines,
// added to the 101 response: the way to have the server accept an extension.
func acceptPeerWith(ln net.Listener, header string, extra []byte) (*peer, error) {
	c, err := ln.Accept()
	if err != nil {
		return nil, err
	}
	// A test that goes wrong fails on this deadline rather than hanging.
	c.SetDeadline(time.Now().Add(time.Minute))
	p := &peer{c: c, br: bufio.NewReader(c)}
	req, err := http.ReadRequest(p.br)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("reading upgrade request: %w", err)
	}
	p.req = req
	var accept [28]byte
	acceptKey(&accept, []byte(req.Header.Get("Sec-WebSocket-Key")))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + string(accept[:]) + "\r\n" + header + "\r\n"
	if _, err := c.Write(append([]byte(resp), extra...)); err != nil {
		c.Close()
		return nil, err
	}
	return p, nil
}

// newPair dials a loopback test server with DialWebSocket, the whole path a
// user takes, and returns both ends. Both close when the test ends.
func newPair(tb testing.TB, opts ...Option) (*Conn, *peer) {
	tb.Helper()
	return dialPair(tb, testServer{}, opts...)
}

// newPairWith is newPair with header added to the server's 101 response, as
// acceptPeerWith adds it.
func newPairWith(tb testing.TB, header string, opts ...Option) (*Conn, *peer) {
	tb.Helper()
	return dialPair(tb, testServer{header: header}, opts...)
}

// testServer is the loopback server that dialPair has a Conn dial.
type testServer struct {
	tls    *tls.Config                     // it speaks TLS, and the client dials wss://, when not nil
	header string                          // added to its 101 response, as acceptPeerWith adds it
	extra  []byte                          // sent right behind its 101 response
	wrap   func(net.Listener) net.Listener // wraps its TCP listener, beneath any TLS, when not nil
}

// dialPair is newPair with the server s; opts must have the client trust
// s.tls, if any.
func dialPair(tb testing.TB, s testServer, opts ...Option) (*Conn, *peer) {
	tb.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer tcp.Close()
	var ln net.Listener = tcp
	if s.wrap != nil {
		ln = s.wrap(ln)
	}
	scheme := "ws"
	if s.tls != nil {
		ln, scheme = tls.NewListener(ln, s.tls), "wss"
	}
	type result struct {
		p   *peer
		err error
	}
	ch := make(chan result, 1)
	go func() {
		p, err := acceptPeerWith(ln, s.header, s.extra)
		ch <- result{p, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := mustNew(tb, append([]Option{WithoutProxy()}, opts...)...)
	conn, err := d.DialWebSocket(ctx, scheme+"://"+tcp.Addr().String()+"/test")
	if err != nil {
		ln.Close() // ends the accept, should the dial have failed before it
		<-ch
		tb.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		tb.Fatal(r.err)
	}
	tb.Cleanup(func() {
		conn.closeStream()
		r.p.c.Close()
	})
	return conn, r.p
}

// pairOver returns a Conn and its server's end over a stream of kind:
// "tcp" and "tls" as a dial makes them, whose reads wait in a buffer on
// the stack, from dialPair with s, made to speak TLS with a certificate
// the test makes for "tls"; or "pipe", whose reads wait in one lent from
// waitBufs, from Handshake over net.Pipe, whose server takes nothing of s.
func pairOver(t *testing.T, kind string, s testServer, opts ...Option) (*Conn, *peer) {
	t.Helper()
	switch kind {
	case "pipe":
		if s.tls != nil || s.header != "" || s.extra != nil || s.wrap != nil {
			t.Fatal("a pipe's server takes no settings")
		}
		conn, server := pipePairOver(t, nil, opts...)
		return conn, &peer{c: server, br: bufio.NewReader(server)}
	case "tls":
		cert, pool := newCert(t, "127.0.0.1")
		s.tls = &tls.Config{Certificates: []tls.Certificate{*cert}}
		opts = append([]Option{WithTLSConfig(&tls.Config{RootCAs: pool})}, opts...)
	}
	return dialPair(t, s, opts...)
}

// frame builds an unmasked frame, as a server sends it, with first byte b0
// (FIN, RSV bits and opcode).
func frame(b0 byte, payload []byte) []byte {
	return appendFrame(nil, b0, payload)
}

func appendFrame(b []byte, b0 byte, payload []byte) []byte {
	b = append(b, b0)
	switch n := len(payload); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// closePayload builds the payload of a close frame.
func closePayload(code StatusCode, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), reason...)
}

// clientFrame is a frame as the client sent it, unmasked.
type clientFrame struct {
	fin     bool
	rsv     byte
	op      byte
	masked  bool
	key     [4]byte
	payload []byte
}

// readFrame reads and unmasks one frame from the client.
func (p *peer) readFrame() (clientFrame, error) {
	var f clientFrame
	var h [14]byte
	if _, err := io.ReadFull(p.br, h[:2]); err != nil {
		return f, err
	}
	f.fin, f.rsv, f.op, f.masked = h[0]&0x80 != 0, h[0]&0x70, h[0]&0x0F, h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		if _, err := io.ReadFull(p.br, h[:2]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if _, err := io.ReadFull(p.br, h[:8]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(h[:8])
	}
	if n > 64<<20 {
		return f, fmt.Errorf("client frame of %d bytes", n)
	}
	if f.masked {
		if _, err := io.ReadFull(p.br, f.key[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(p.br, f.payload); err != nil {
		return f, err
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= f.key[i%4]
		}
	}
	return f, nil
}

// clientEnd is how the client ended the connection, as the server saw it.
type clientEnd struct {
	pongs     [][]byte
	closeCode StatusCode // 0: no close frame; StatusNoStatusReceived: one without a code
	closeText string
	err       error // a malformed frame, or something other than EOF
}

// readUntilClose reads the client's frames until its close frame or the end
// of the stream, keeping pongs and the close.
func (p *peer) readUntilClose() clientEnd {
	var end clientEnd
	for {
		f, err := p.readFrame()
		if err != nil {
			if !errors.Is(err, io.EOF) && !isReset(err) {
				end.err = err
			}
			return end
		}
		if !f.masked {
			end.err = errors.New("client sent an unmasked frame")
			return end
		}
		switch f.op {
		case opPong:
			end.pongs = append(end.pongs, f.payload)
		case opClose:
			end.closeCode = StatusNoStatusReceived
			if len(f.payload) >= 2 {
				end.closeCode = StatusCode(binary.BigEndian.Uint16(f.payload))
				end.closeText = string(f.payload[2:])
			}
			return end
		default:
			end.err = fmt.Errorf("client sent opcode %#x", f.op)
			return end
		}
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// mustNew is New for a test whose options are valid.
func mustNew(tb testing.TB, opts ...Option) *Dialer {
	tb.Helper()
	d, err := New(opts...)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return d
}

// classes lists the classes of failure that err matches, by name.
func classes(err error) []string {
	var got []string
	for _, c := range []struct {
		name  string
		class error
	}{{"ErrInvalid", ErrInvalid}, {"ErrProxy", ErrProxy}, {"ErrDial", ErrDial}, {"ErrTLS", ErrTLS}, {"ErrHandshake", ErrHandshake}} {
		if errors.Is(err, c.class) {
			got = append(got, c.name)
		}
	}
	return got
}

// checkClass fails tb unless err matches class and no other class.
func checkClass(tb testing.TB, err, class error) {
	tb.Helper()
	got := classes(err)
	if len(got) != 1 || !errors.Is(err, class) {
		tb.Errorf("error %v matches classes %v, want only %v", err, got, class)
	}
}

// dialOnce runs New with opts and one DialWebSocket to url, closes the
// connection if one was made, and returns the error of either.
func dialOnce(ctx context.Context, url string, opts ...Option) error {
	d, err := New(opts...)
	if err != nil {
		return err
	}
	c, err := d.DialWebSocket(ctx, url)
	if err == nil {
		c.Close()
	}
	return err
}

// dialAtOnce dials url through d from n goroutines at once, each dials
// times in a row, and fails t with every error.
func dialAtOnce(t *testing.T, d *Dialer, url string, n, dials int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			for range dials {
				c, err := d.DialWebSocket(context.Background(), url)
				if err != nil {
					errs <- err
					return
				}
				c.Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// boundSocket returns a TCP socket bound to a free port on 127.0.0.1, not
// listening, and its address; it is closed when the test ends. Until it
// listens, every connect to it is refused.
func boundSocket(tb testing.TB) (fd int, addr string) {
	tb.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		tb.Fatal(err)
	}
	return fd, (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
}

// handshakeOver runs Handshake with opts over a stream the test dials to a
// loopback server itself, which answers with extra behind its 101, wrapped
// by wrap unless it is nil, and returns both ends; they close when the test
// ends.
func handshakeOver(t *testing.T, extra []byte, wrap func(net.Conn) net.Conn, opts ...Option) (*Conn, *peer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peers := make(chan *peer, 1)
	go func() {
		p, _ := acceptPeer(ln, extra)
		peers <- p
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	var c net.Conn = nc
	if wrap != nil {
		c = wrap(nc)
	}
	conn, err := Handshake(t.Context(), c, "h.example", "/", opts...)
	if err != nil {
		t.Fatal(err)
	}
	p := <-peers
	if p == nil {
		t.Fatal("the server did not accept")
	}
	t.Cleanup(func() { p.c.Close() })
	return conn, p
}
