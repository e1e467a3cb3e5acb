package wsdial

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// syncBuffer is a buffer that a logger may write from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// debugLogger logs every dial stage to w.
func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newH2Dialer dials with WithHTTP2 and the origin's trust, and closes the
// Dialer's idle connections when the test ends.
func newH2Dialer(t testing.TB, o *h2Origin, opts ...Option) *Dialer {
	t.Helper()
	d := mustNew(t, append([]Option{WithoutProxy(), WithHTTP2(), WithTLSConfig(o.tlsConfig())}, opts...)...)
	t.Cleanup(d.CloseIdleConnections)
	return d
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dialOK dials url with d, failing t if it cannot.
func dialOK(t testing.TB, d *Dialer, url string) *Conn {
	t.Helper()
	c, err := d.DialWebSocket(testCtx(t), url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// echoBack sends msg and checks that it comes back.
func echoBack(t testing.TB, c *Conn, typ MessageType, msg []byte) {
	t.Helper()
	if err := c.WriteMessage(typ, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	gotType, got, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if gotType != typ || !bytes.Equal(got, msg) {
		t.Fatalf("echo came back as %v of %d bytes, want %v of %d", gotType, len(got), typ, len(msg))
	}
}

func TestH2WebSocket(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	d := newH2Dialer(t, o, WithSubprotocols("chat", "v2"), WithOrigin("https://app.example"),
		WithHeader(http.Header{"X-Trace": {"abc"}}))
	c := dialOK(t, d, o.url("/chat?room=1"))
	resp := c.Response()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
		t.Errorf("response is %s %d, want HTTP/2.0 200", resp.Proto, resp.StatusCode)
	}
	if c.Subprotocol() != "chat" {
		t.Errorf("subprotocol %q, want chat", c.Subprotocol())
	}
	if _, ok := c.NetConn().(*h2Stream); !ok {
		t.Errorf("NetConn() is %T, want the stream", c.NetConn())
	}
	echoBack(t, c, TextMessage, []byte("hello"))
	echoBack(t, c, BinaryMessage, bytes.Repeat([]byte{1, 2, 3}, 1<<20/3))
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}

	reqs := o.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	for _, check := range []struct{ name, got, want string }{
		{":method", r.Method, "CONNECT"},
		{":protocol", r.Header.Get(":protocol"), "websocket"},
		{":path", r.URL.RequestURI(), "/chat?room=1"},
		{":authority", r.Host, "localhost:" + o.port},
		{"proto", r.Proto, "HTTP/2.0"},
		{"sec-websocket-version", r.Header.Get("Sec-Websocket-Version"), "13"},
		{"sec-websocket-protocol", r.Header.Get("Sec-Websocket-Protocol"), "chat, v2"},
		{"origin", r.Header.Get("Origin"), "https://app.example"},
		{"x-trace", r.Header.Get("X-Trace"), "abc"},
		{"sec-websocket-key (none in RFC 8441)", r.Header.Get("Sec-Websocket-Key"), ""},
	} {
		if check.got != check.want {
			t.Errorf("%s = %q, want %q", check.name, check.got, check.want)
		}
	}
}

func TestH2SharesConnection(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	var log syncBuffer
	d := newH2Dialer(t, o, WithLogger(debugLogger(&log)))
	var conns []*Conn
	for range 3 {
		c := dialOK(t, d, o.url("/"))
		conns = append(conns, c)
	}
	for i, c := range conns {
		echoBack(t, c, TextMessage, []byte{byte('a' + i)})
	}
	if n := o.conns.Load(); n != 1 {
		t.Errorf("3 WebSockets took %d TCP connections, want 1", n)
	}
	kept := strings.Count(log.String(), "stream on a kept HTTP/2 connection")
	if kept != 2 {
		t.Errorf("the trace shows %d dials on a kept connection, want 2:\n%s", kept, log.String())
	}
	for _, c := range conns {
		c.Close()
	}
}

// waitUntil polls cond until it holds, failing t after five seconds: for
// state that a connection reaches on its own goroutines, such as a stream
// released once the server's END_STREAM has come.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keptConns returns the connections the Dialer keeps, for every key.
func keptConns(d *Dialer) []*h2Conn {
	d.h2.mu.Lock()
	defer d.h2.mu.Unlock()
	var all []*h2Conn
	for _, e := range d.h2.entries {
		all = append(all, e.conns...)
	}
	return all
}

// streamCount is how many streams cc's table holds.
func (cc *h2Conn) streamCount() int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return len(cc.streams)
}

func TestH2ConcurrentDialsShareOneConnection(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	d := newH2Dialer(t, o)
	const n = 20
	conns := make([]*Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { conns[i], errs[i] = d.DialWebSocket(testCtx(t), o.url("/")) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		defer conns[i].Close()
	}
	for i, c := range conns {
		echoBack(t, c, TextMessage, []byte{byte(i)})
	}
	if got := o.conns.Load(); got != 1 {
		t.Errorf("%d concurrent dials took %d TCP connections, want 1", n, got)
	}
}

func TestH2StreamsReleased(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t, func(o *h2Origin) { o.maxStreams = 2 })
	d := newH2Dialer(t, o)
	held := dialOK(t, d, o.url("/"))
	defer held.Close()
	// With room for two streams and one held, each of these needs the
	// stream before it to have been given back.
	for i := range 5 {
		c, err := d.DialWebSocket(testCtx(t), o.url("/"))
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		echoBack(t, c, TextMessage, []byte("x"))
		c.Close()
		cc := keptConns(d)[0]
		waitUntil(t, "the stream is released", func() bool { return cc.streamCount() == 1 })
	}
	if got := o.conns.Load(); got != 1 {
		t.Errorf("took %d TCP connections, want 1", got)
	}
	echoBack(t, held, TextMessage, []byte("still here"))
}

func TestH2FullConnectionOpensAnother(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t, func(o *h2Origin) { o.maxStreams = 1 })
	d := newH2Dialer(t, o)
	a := dialOK(t, d, o.url("/"))
	defer a.Close()
	b := dialOK(t, d, o.url("/"))
	defer b.Close()
	echoBack(t, a, TextMessage, []byte("a"))
	echoBack(t, b, TextMessage, []byte("b"))
	if got := o.conns.Load(); got != 2 {
		t.Errorf("two WebSockets with room for one stream a connection took %d connections, want 2", got)
	}
}

func TestH2RoutesKeptApart(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	d := newH2Dialer(t, o)
	byName := dialOK(t, d, o.url("/"))
	defer byName.Close()
	byAddr := dialOK(t, d, "wss://"+o.addr+"/")
	defer byAddr.Close()
	other, err := newH2Dialer(t, o).DialWebSocket(testCtx(t), o.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got := o.conns.Load(); got != 3 {
		t.Errorf("another authority and another Dialer took %d connections in all, want 3", got)
	}
}

func TestH2GoAway(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	d := newH2Dialer(t, o)
	first := dialOK(t, d, o.url("/"))
	cc := keptConns(d)[0]
	o.goAway(0)
	waitUntil(t, "the client has the GOAWAY", func() bool { return !cc.usable() })
	// The stream that the GOAWAY covers goes on (RFC 9113 §6.8)...
	echoBack(t, first, TextMessage, []byte("after GOAWAY"))
	// ...and a new WebSocket takes a new connection.
	second := dialOK(t, d, o.url("/"))
	defer second.Close()
	echoBack(t, second, TextMessage, []byte("new"))
	if got := o.conns.Load(); got != 2 {
		t.Errorf("took %d connections, want 2", got)
	}
	if err := first.Close(); err != nil {
		t.Errorf("close after GOAWAY: %v", err)
	}
	// Its last stream ended, the connection that GOAWAY ended closes.
	select {
	case <-cc.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection that GOAWAY ended is still open after its last stream")
	}
}

// TestH2GoAwayRace opens a stream that a GOAWAY crossed on the wire: the
// server never processed it, so the dial opens it again on a new connection.
// On a connection that is new, such a refusal is final.
func TestH2GoAwayRace(t *testing.T) {
	checkGoroutines(t)
	var n atomic.Int32
	addr, pool := serveH2Script(t, func(s *h2Script) {
		conn := n.Add(1)
		s.settings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
		h, err := s.request()
		if err != nil {
			return
		}
		switch conn {
		case 1: // takes one stream, then refuses the next with GOAWAY
			s.respond(h.StreamID, "200", false)
			if h, err = s.request(); err != nil {
				return
			}
			s.fr.WriteGoAway(h.StreamID-2, http2.ErrCodeNo, []byte("restarting"))
		case 2:
			s.respond(h.StreamID, "200", false)
		case 3: // refuses the first stream of a new connection
			s.fr.WriteGoAway(0, http2.ErrCodeNo, []byte("going away"))
		}
		io.Copy(io.Discard, s.c)
	})
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}))
	defer d.CloseIdleConnections()
	url := "wss://" + addr + "/"
	first := dialOK(t, d, url)
	defer first.closeStream()
	second, err := d.DialWebSocket(testCtx(t), url)
	if err != nil {
		t.Fatalf("dial that a GOAWAY refused on a kept connection: %v", err)
	}
	defer second.closeStream()
	if got := n.Load(); got != 2 {
		t.Errorf("took %d connections, want 2", got)
	}
	if err := first.WriteMessage(TextMessage, []byte("still open")); err != nil {
		t.Errorf("the stream below the GOAWAY's last ID: %v", err)
	}

	// Every kept connection is gone or full now? The second one is kept:
	// make it unusable, so that the next dial takes a new connection.
	for _, cc := range keptConns(d) {
		cc.shutdown(errors.New("test"), false)
	}
	_, err = d.DialWebSocket(testCtx(t), url)
	if !errors.As(err, new(*h2Unprocessed)) {
		t.Fatalf("dial on a new connection that GOAWAY refused: %v, want the refusal", err)
	}
	checkClass(t, err, ErrHandshake)
	if !strings.Contains(err.Error(), "going away") {
		t.Errorf("error %q lacks the GOAWAY's debug data", err)
	}
}

// serveNoXConnect is an origin that picks h2 by ALPN without enabling
// extended CONNECT, as nginx with "http2" on its listener does, and takes
// the HTTP/1.1 upgrade from clients that offer http/1.1 alone.
func serveNoXConnect(t testing.TB) (addr string, pool *x509.CertPool, conns *atomic.Int32, offers chan []string) {
	cert, pool := newCert(t, "localhost", "127.0.0.1")
	conns = new(atomic.Int32)
	offers = make(chan []string, 8)
	cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"h2", "http/1.1"},
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			offers <- hello.SupportedProtos
			return nil, nil
		}}
	addr, _ = serve(t, nil, func(c net.Conn) {
		conns.Add(1)
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			// x/net's server would advertise extended CONNECT in this test
			// binary, so the server's SETTINGS are written by hand.
			fr := http2.NewFramer(tc, tc)
			fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
			io.Copy(io.Discard, tc)
			return
		}
		serveH1Echo(tc)
	})
	return addr, pool, conns, offers
}

func TestH2FallbackWithoutExtendedConnect(t *testing.T) {
	checkGoroutines(t)
	addr, pool, conns, offers := serveNoXConnect(t)
	var log syncBuffer
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}), WithLogger(debugLogger(&log)))
	defer d.CloseIdleConnections()
	url := "wss://" + addr + "/"
	for i := range 2 {
		c, err := d.DialWebSocket(testCtx(t), url)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if c.Response().ProtoMajor != 1 {
			t.Errorf("dial %d: %s, want HTTP/1.1", i, c.Response().Proto)
		}
		echoBack(t, c, TextMessage, []byte("over HTTP/1.1"))
		c.Close()
	}
	// The fallback cost one connection, once: h2 without extended CONNECT,
	// then HTTP/1.1 for both dials, offering http/1.1 alone.
	if got := conns.Load(); got != 3 {
		t.Errorf("took %d connections, want 3", got)
	}
	want := []string{"h2,http/1.1", "http/1.1", "http/1.1"}
	for i, w := range want {
		if got := strings.Join(<-offers, ","); got != w {
			t.Errorf("connection %d offered %q, want %q", i, got, w)
		}
	}
	if n := strings.Count(log.String(), "does not enable extended CONNECT"); n != 1 {
		t.Errorf("the trace shows the fallback %d times, want once:\n%s", n, log.String())
	}
}

func TestH2ServerChoosesHTTP1(t *testing.T) {
	checkGoroutines(t)
	cert, pool := newCert(t, "localhost", "127.0.0.1")
	addr, seen := serveTLSUpgrade(t, cert, []string{"http/1.1"})
	var log syncBuffer
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}), WithLogger(debugLogger(&log)))
	for range 2 {
		c := dialOK(t, d, "wss://"+addr+"/")
		if c.Response().ProtoMajor != 1 {
			t.Errorf("%s, want HTTP/1.1", c.Response().Proto)
		}
		c.Close()
		if st := <-seen; st.NegotiatedProtocol != "http/1.1" {
			t.Errorf("ALPN chose %q", st.NegotiatedProtocol)
		}
	}
	if n := strings.Count(log.String(), "chose http/1.1 by ALPN"); n != 1 {
		t.Errorf("the trace shows the ALPN choice %d times, want once (then it is remembered):\n%s", n, log.String())
	}
}

func TestH2PlainWebSocketStaysHTTP1(t *testing.T) {
	checkGoroutines(t)
	var proto atomic.Value
	addr := serveRaw(t, "tcp", func(c net.Conn) {
		req, br, err := readUpgrade(c)
		if err != nil {
			return
		}
		proto.Store(req.Proto)
		c.Write([]byte(upgradeResponse(req, "")))
		answerClose(c, br)
	})
	c, err := mustNew(t, WithoutProxy(), WithHTTP2()).DialWebSocket(testCtx(t), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if proto.Load() != "HTTP/1.1" || c.Response().ProtoMajor != 1 {
		t.Errorf("ws:// went as %v, answered as %s; want HTTP/1.1", proto.Load(), c.Response().Proto)
	}
}

func TestH2Refused(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	o.handler = func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/deny":
			w.Header().Set("X-Why", "not you")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, "go away")
		case "/subprotocol":
			acceptH2(w, r, "Sec-WebSocket-Protocol: other\r\n")
		case "/extension":
			acceptH2(w, r, "Sec-WebSocket-Extensions: x-unknown\r\n")
		default:
			o.echo(w, r)
		}
	}
	d := newH2Dialer(t, o, WithSubprotocols("chat"))
	_, err := d.DialWebSocket(testCtx(t), o.url("/deny"))
	checkClass(t, err, ErrHandshake)
	var he *HandshakeError
	if !errors.As(err, &he) || !errors.Is(err, ErrUpgradeDeclined) {
		t.Fatalf("error %v, want a *HandshakeError for the declined upgrade", err)
	}
	body, _ := io.ReadAll(he.Response.Body)
	if he.StatusCode != http.StatusForbidden || he.Response.ProtoMajor != 2 ||
		he.Response.Header.Get("X-Why") != "not you" || string(body) != "go away" {
		t.Errorf("refusal: status %d, %s, X-Why %q, body %q", he.StatusCode, he.Response.Proto, he.Response.Header.Get("X-Why"), body)
	}
	if !strings.Contains(err.Error(), "403 Forbidden") {
		t.Errorf("error %q does not name the status", err)
	}
	_, err = d.DialWebSocket(testCtx(t), o.url("/subprotocol"))
	if checkClass(t, err, ErrHandshake); !errors.Is(err, ErrBadSubprotocol) {
		t.Errorf("unoffered subprotocol: %v", err)
	}
	_, err = d.DialWebSocket(testCtx(t), o.url("/extension"))
	if checkClass(t, err, ErrHandshake); !errors.Is(err, ErrBadExtension) {
		t.Errorf("unoffered extension: %v", err)
	}
	// A refusal ends a stream, not the connection.
	c := dialOK(t, d, o.url("/"))
	defer c.Close()
	if got := o.conns.Load(); got != 1 {
		t.Errorf("took %d connections, want 1", got)
	}
}

func TestH2ResetBeforeResponse(t *testing.T) {
	checkGoroutines(t)
	addr, pool := serveH2Script(t, func(s *h2Script) {
		s.settings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
		h, err := s.request()
		if err != nil {
			return
		}
		s.fr.WriteRSTStream(h.StreamID, http2.ErrCodeInternal)
		io.Copy(io.Discard, s.c)
	})
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}))
	defer d.CloseIdleConnections()
	_, err := d.DialWebSocket(testCtx(t), "wss://"+addr+"/")
	checkClass(t, err, ErrHandshake)
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 0 || !strings.Contains(err.Error(), "reset by the server: INTERNAL_ERROR") {
		t.Errorf("error %v, want a *HandshakeError naming the reset", err)
	}
}

func TestH2Cancel(t *testing.T) {
	checkGoroutines(t)
	resets := make(chan http2.ErrCode, 1)
	addr, pool := serveH2Script(t, func(s *h2Script) {
		s.settings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
		h, err := s.request()
		if err != nil {
			return
		}
		// No answer: the dial waits until its context is cancelled.
		f, err := s.waitFor(h.StreamID, isRST)
		if err != nil {
			return
		}
		resets <- f.(*http2.RSTStreamFrame).ErrCode
		// The connection goes on: the next stream is answered.
		if h, err = s.request(); err == nil {
			s.respond(h.StreamID, "200", false)
		}
		io.Copy(io.Discard, s.c)
	})
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}))
	defer d.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	wrote := make(chan struct{})
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaders: func() { close(wrote) }})
	go func() {
		<-wrote
		cancel()
	}()
	_, err := d.DialWebSocket(ctx, "wss://"+addr+"/")
	if checkClass(t, err, ErrHandshake); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial cancelled while waiting on its stream: %v", err)
	}
	if code := <-resets; code != http2.ErrCodeCancel {
		t.Errorf("the server got RST_STREAM %v, want CANCEL", code)
	}
	c, err := d.DialWebSocket(testCtx(t), "wss://"+addr+"/")
	if err != nil {
		t.Fatalf("dial after a cancelled one: %v", err)
	}
	c.closeStream()
}

func TestH2ResetMidMessage(t *testing.T) {
	checkGoroutines(t)
	addr, pool := serveH2Script(t, func(s *h2Script) {
		s.settings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
		a, err := s.request()
		if err != nil {
			return
		}
		s.respond(a.StreamID, "200", false)
		b, err := s.request()
		if err != nil {
			return
		}
		s.respond(b.StreamID, "200", false)
		// Half a frame on a, then a reset; b goes on.
		msg := frame(fin|opBin, bytes.Repeat([]byte("m"), 100))
		s.fr.WriteData(a.StreamID, false, msg[:50])
		s.fr.WriteRSTStream(a.StreamID, http2.ErrCodeInternal)
		s.fr.WriteData(b.StreamID, false, frame(fin|opTxt, []byte("b lives")))
		io.Copy(io.Discard, s.c)
	})
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}))
	defer d.CloseIdleConnections()
	a := dialOK(t, d, "wss://"+addr+"/")
	defer a.closeStream()
	b := dialOK(t, d, "wss://"+addr+"/")
	defer b.closeStream()
	_, _, err := a.ReadMessage()
	if err == nil || !strings.Contains(err.Error(), "reset by the server: INTERNAL_ERROR") {
		t.Errorf("read of a message cut by RST_STREAM: %v", err)
	}
	if _, msg, err := b.ReadMessage(); err != nil || string(msg) != "b lives" {
		t.Errorf("the other stream read %q, %v", msg, err)
	}
}

func TestH2ConnectionLost(t *testing.T) {
	checkGoroutines(t)
	addr, pool := serveH2Script(t, func(s *h2Script) {
		s.settings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
		h, err := s.request()
		if err != nil {
			return
		}
		s.respond(h.StreamID, "200", false)
		s.fr.WriteData(h.StreamID, false, frame(fin|opTxt, []byte("last words")))
		// The handler returns, and the connection closes.
	})
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}))
	defer d.CloseIdleConnections()
	c := dialOK(t, d, "wss://"+addr+"/")
	defer c.Close()
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "last words" {
		t.Fatalf("read %q, %v", msg, err)
	}
	_, _, err := c.ReadMessage()
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != StatusAbnormalClosure {
		t.Errorf("read after the connection ended: %v, want 1006", err)
	}
	if n := len(keptConns(d)); n != 0 {
		waitUntil(t, "the dead connection leaves the pool", func() bool { return len(keptConns(d)) == 0 })
	}
}

func TestH2Deadlines(t *testing.T) {
	checkGoroutines(t)
	release := make(chan struct{})
	o := newH2Origin(t)
	o.handler = func(w http.ResponseWriter, r *http.Request) {
		ws := acceptH2(w, r, "")
		if ws == nil {
			return
		}
		if r.URL.Path == "/quiet" {
			echoFrames(ws)
			return
		}
		<-release // neither reads nor writes until the test says
		ws.c.Write(frame(fin|opTxt, []byte("late")))
		echoFrames(ws)
	}
	d := newH2Dialer(t, o)
	c := dialOK(t, d, o.url("/"))
	defer c.Close()
	nc := c.NetConn()

	// A blocked Read returns at its deadline, and the stream stays usable.
	nc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := nc.Read(make([]byte, 10))
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %d, %v", n, err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%v is not a timeout", err)
	}
	// A blocked Write returns at its deadline: the server reads nothing, so
	// its window, then the stream's buffer, fill up.
	nc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	big := make([]byte, 8<<20)
	n, err = nc.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 || n == len(big) {
		t.Fatalf("Write past its deadline: %d of %d, %v", n, len(big), err)
	}
	nc.SetDeadline(time.Time{})
	close(release)
	buf := make([]byte, 64)
	if n, err := io.ReadAtLeast(nc, buf, 6); err != nil || !bytes.Contains(buf[:n], []byte("late")) {
		t.Errorf("Read after its deadline was lifted: %q, %v", buf[:n], err)
	}

	// Through the Conn, a read deadline ends ReadMessage.
	c2 := dialOK(t, d, o.url("/quiet"))
	defer c2.closeStream()
	c2.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := c2.ReadMessage(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("ReadMessage past its deadline: %v", err)
	}
}

func TestH2ReadLimit(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	d := newH2Dialer(t, o, WithReadLimit(10))
	c := dialOK(t, d, o.url("/"))
	defer c.Close()
	echoBack(t, c, TextMessage, []byte("0123456789"))
	if err := c.WriteMessage(TextMessage, []byte("0123456789a")); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ReadMessage()
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Code != StatusMessageTooBig {
		t.Errorf("read of a message past the limit: %v, want 1009", err)
	}
}

func TestH2Compression(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	var compressed atomic.Int32
	o.handler = func(w http.ResponseWriter, r *http.Request) {
		ws := acceptH2(w, r, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n")
		if ws == nil {
			return
		}
		// Echoing each compressed frame as it is works, since each message
		// was compressed on its own.
		for {
			f, err := ws.readFrame()
			if err != nil {
				return
			}
			if f.rsv&rsv1 != 0 {
				compressed.Add(1)
			}
			if f.op == opCls {
				ws.c.Write(frame(fin|opCls, f.payload))
				return
			}
			ws.c.Write(frame(fin|f.rsv|f.op, f.payload))
		}
	}
	d := newH2Dialer(t, o, WithCompression(Compression{}))
	c := dialOK(t, d, o.url("/"))
	if ext := c.Response().Header.Get("Sec-Websocket-Extensions"); !strings.HasPrefix(ext, "permessage-deflate") {
		t.Errorf("extensions %q", ext)
	}
	if r := o.requests()[0]; !strings.HasPrefix(r.Header.Get("Sec-Websocket-Extensions"), "permessage-deflate") {
		t.Errorf("the request offered %q", r.Header.Get("Sec-Websocket-Extensions"))
	}
	echoBack(t, c, TextMessage, bytes.Repeat([]byte("compress me "), 1000))
	c.Close()
	if compressed.Load() == 0 {
		t.Error("no message went compressed")
	}
}

func TestH2ConcurrentWrites(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	d := newH2Dialer(t, o)
	c := dialOK(t, d, o.url("/"))
	defer c.Close()
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				msg := fmt.Sprintf("%d:%d:%s", w, i, strings.Repeat("x", 1000*w))
				if err := c.WriteMessage(TextMessage, []byte(msg)); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		})
	}
	next := make([]int, writers)
	for range writers * each {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var w, i int
		if _, err := fmt.Sscanf(string(msg), "%d:%d:", &w, &i); err != nil || i != next[w] {
			t.Fatalf("message %.20q out of order or mangled", msg)
		}
		next[w]++
	}
	wg.Wait()
}

// TestH2FlowControl holds one WebSocket of a connection still, each way in
// turn, and checks that another WebSocket of the same connection goes on.
func TestH2FlowControl(t *testing.T) {
	checkGoroutines(t)
	unblock := make(chan struct{})
	o := newH2Origin(t, func(o *h2Origin) {
		// The server's connection window holds more than a stream's, so that
		// one stream that the server does not read cannot use it all up.
		o.uploadConn, o.uploadStream = 8<<20, 1<<20
	})
	const flood = 4 << 20
	o.handler = func(w http.ResponseWriter, r *http.Request) {
		ws := acceptH2(w, r, "")
		if ws == nil {
			return
		}
		switch r.URL.Path {
		case "/unread": // reads nothing until the test ends
			<-unblock
			io.Copy(io.Discard, ws.br)
		case "/flood": // sends more than the client's stream window
			for range flood / (64 << 10) {
				if _, err := ws.c.Write(frame(fin|opBin, make([]byte, 64<<10))); err != nil {
					return
				}
			}
			echoFrames(ws)
		default:
			echoFrames(ws)
		}
	}
	defer close(unblock)
	d := newH2Dialer(t, o)
	dial := func(path string) *Conn {
		c := dialOK(t, d, o.url(path))
		return c
	}
	unread, flooded, other := dial("/unread"), dial("/flood"), dial("/")
	defer unread.closeStream()
	defer flooded.Close()
	defer other.Close()

	// Client to server: unread's writes stall on its window...
	unread.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	var err error
	for err == nil {
		err = unread.WriteMessage(BinaryMessage, make([]byte, 256<<10))
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("writes to a server that reads nothing: %v, want the deadline", err)
	}
	// ...while the other WebSocket echoes both ways, the flood waiting
	// unread in the client's buffer.
	for i := range 20 {
		echoBack(t, other, BinaryMessage, bytes.Repeat([]byte{byte(i)}, 100<<10))
	}
	// The flood, read at last, arrives whole.
	got := 0
	for got < flood {
		_, msg, err := flooded.ReadMessage()
		if err != nil {
			t.Fatalf("after %d bytes of the flood: %v", got, err)
		}
		got += len(msg)
	}
	echoBack(t, flooded, TextMessage, []byte("after the flood"))
	if got := o.conns.Load(); got != 1 {
		t.Errorf("took %d connections, want 1", got)
	}
}

// TestH2ReadWhileWriting has one goroutine write a WebSocket while another
// reads its echo: flow control must never leave both waiting.
func TestH2ReadWhileWriting(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	d := newH2Dialer(t, o)
	c := dialOK(t, d, o.url("/"))
	defer c.Close()
	const count, size = 64, 256 << 10
	done := make(chan error, 1)
	go func() {
		for i := range count {
			if err := c.WriteMessage(BinaryMessage, bytes.Repeat([]byte{byte(i)}, size)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range count {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if len(msg) != size || msg[0] != byte(i) || msg[size-1] != byte(i) {
			t.Fatalf("message %d came back mangled", i)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestH2Cookies(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	o.handler = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=new; Path=/")
		o.echo(w, r)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("https://localhost:" + o.port + "/")
	jar.SetCookies(u, []*http.Cookie{{Name: "id", Value: "42"}})
	d := newH2Dialer(t, o, WithCookieJar(jar))
	c := dialOK(t, d, o.url("/"))
	c.Close()
	if got := o.requests()[0].Header.Get("Cookie"); got != "id=42" {
		t.Errorf("the request's cookie %q, want id=42", got)
	}
	found := false
	for _, ck := range jar.Cookies(u) {
		found = found || ck.Name == "session" && ck.Value == "new"
	}
	if !found {
		t.Errorf("the jar did not get the response's cookie: %v", jar.Cookies(u))
	}
}

// TestH2ServerEndsFirst closes WebSockets as RFC 6455 §7.1.1 asks, mapped by
// RFC 8441 §5: after the close handshake the server ends the stream first,
// and the client's END_STREAM follows; a server that never ends it (hypercorn
// 0.13, which fails its whole connection on any frame for such a stream) has
// it reset instead, once h2Linger has passed.
func TestH2ServerEndsFirst(t *testing.T) {
	checkGoroutines(t)
	got := make(chan string, 2)
	addr, pool := serveH2Script(t, func(s *h2Script) {
		s.settings(xconnectOn)
		for _, ends := range []bool{true, false} {
			h, err := s.request()
			if err != nil {
				return
			}
			s.respond(h.StreamID, "200", false)
			// Answer the client's close frame, then end the stream or not.
			f, err := s.waitFor(h.StreamID, func(f http2.Frame) bool { _, ok := f.(*http2.DataFrame); return ok })
			if err != nil {
				return
			}
			if !bytes.Contains(f.(*http2.DataFrame).Data(), []byte{fin | opCls}) {
				got <- "a frame other than the close"
				return
			}
			s.fr.WriteData(h.StreamID, ends, frame(fin|opCls, closePayload(1000, "")))
			f, err = s.waitFor(h.StreamID, func(http2.Frame) bool { return true })
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.DataFrame:
				got <- fmt.Sprintf("DATA end=%v len=%d", f.StreamEnded(), len(f.Data()))
			case *http2.RSTStreamFrame:
				got <- "RST_STREAM " + f.ErrCode.String()
			default:
				got <- fmt.Sprint(f.Header())
			}
		}
		io.Copy(io.Discard, s.c)
	})
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}))
	defer d.CloseIdleConnections()
	for _, want := range []string{"DATA end=true len=0", "RST_STREAM CANCEL"} {
		c := dialOK(t, d, "wss://"+addr+"/")
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if g := <-got; g != want {
			t.Errorf("after the close handshake the server got %s, want %s", g, want)
		}
	}
}

// TestH2ErrorClasses fails WithHTTP2 dials at each stage they add, and
// checks that each error has that stage's class alone.
func TestH2ErrorClasses(t *testing.T) {
	checkGoroutines(t)
	hold := make(chan struct{})
	defer close(hold)
	silent, pool := serveH2Script(t, func(s *h2Script) { <-hold }) // h2 by ALPN, then no SETTINGS
	untrusted := newH2Origin(t)
	p := newH2Proxy(t, func(p *h2Proxy) {})

	trusting := func(opts ...Option) *Dialer {
		d := mustNew(t, append([]Option{WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool})}, opts...)...)
		t.Cleanup(d.CloseIdleConnections)
		return d
	}
	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}

	// The server picks h2 and never sends its SETTINGS: the dial times out
	// in the handshake stage...
	d := trusting()
	_, err := d.DialWebSocket(short(), "wss://"+silent+"/")
	if checkClass(t, err, ErrHandshake); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for SETTINGS: %v, want the deadline", err)
	}
	// ...and a dial that waits for another's connection times out in the
	// dial stage.
	leadCtx, cancelLead := context.WithCancel(context.Background())
	lead := make(chan error, 1)
	wrote := make(chan struct{})
	go func() {
		ctx := httptrace.WithClientTrace(leadCtx, &httptrace.ClientTrace{TLSHandshakeDone: func(tls.ConnectionState, error) { close(wrote) }})
		_, err := d.DialWebSocket(ctx, "wss://"+silent+"/")
		lead <- err
	}()
	<-wrote
	_, err = d.DialWebSocket(short(), "wss://"+silent+"/")
	if checkClass(t, err, ErrDial); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for another dial") {
		t.Errorf("waiting for another dial's connection: %v", err)
	}
	cancelLead()
	if err := <-lead; !errors.Is(err, context.Canceled) {
		t.Errorf("the lead dial: %v, want its cancellation", err)
	}

	for _, tc := range []struct {
		name  string
		err   error
		class error
	}{
		{"closed port", dialErr(trusting(), "wss://"+closedAddr(t)+"/"), ErrDial},
		{"untrusted origin", dialErr(trusting(), untrusted.url("/")), ErrTLS},
		{"untrusted h2 proxy", dialErr(mustNew(t, WithProxy(p.url()), WithHTTP2()), "wss://"+untrusted.addr+"/"), ErrProxy},
		{"h2 proxy refuses", dialErr(h2ProxyDialer(t, p, p.url(), nil), "wss://"+closedAddr(t)+"/"), ErrProxy},
		{"invalid Host for :authority", dialErr(trusting(WithHeader(http.Header{"Host": {"a b"}})), "wss://"+silent+"/"), ErrInvalid},
	} {
		checkClass(t, tc.err, tc.class)
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// dialErr is the error of a dial of url with d, which must fail.
func dialErr(d *Dialer, url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialWebSocket(ctx, url)
	if err == nil {
		c.Close()
	}
	d.CloseIdleConnections()
	return err
}

// TestH2SilentConnectionRetired has a kept connection go silent, as one that
// a NAT dropped does: the dial that waits on it in vain times out, and the
// next goes to a new connection rather than waiting on it too.
func TestH2SilentConnectionRetired(t *testing.T) {
	checkGoroutines(t)
	var n atomic.Int32
	hold := make(chan struct{})
	addr, pool := serveH2Script(t, func(s *h2Script) {
		first := n.Add(1) == 1
		s.settings(xconnectOn)
		h, err := s.request()
		if err != nil {
			return
		}
		s.respond(h.StreamID, "200", false)
		if first {
			<-hold // then silence, on a connection that stays open
			return
		}
		io.Copy(io.Discard, s.c)
	})
	defer close(hold)
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}))
	defer d.CloseIdleConnections()
	url := "wss://" + addr + "/"
	c := dialOK(t, d, url)
	defer c.closeStream()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := d.DialWebSocket(ctx, url); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial on the silent connection: %v, want its deadline", err)
	}
	c2 := dialOK(t, d, url)
	defer c2.closeStream()
	if got := n.Load(); got != 2 {
		t.Errorf("took %d connections, want 2: the silent one must not take the third dial", got)
	}
}

// TestH2Ping pings over a stream and gets the pong, while a message goes the
// other way.
func TestH2Ping(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	c := dialOK(t, newH2Dialer(t, o), o.url("/"))
	defer c.Close()
	pongs := make(chan string, 1)
	c.SetPongHandler(func(p []byte) { pongs <- string(p) })
	if err := c.Ping([]byte("are you there")); err != nil {
		t.Fatal(err)
	}
	echoBack(t, c, TextMessage, []byte("after the ping")) // the read that takes in the pong
	if p := <-pongs; p != "are you there" {
		t.Errorf("pong %q", p)
	}
}
