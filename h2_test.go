package wsdial

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
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

// echoOnce sends msg and checks that it comes back.
func echoOnce(t testing.TB, c *Conn, typ MessageType, msg []byte) {
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
		WithHeader(http.Header{"X-Trace": {"abc"}, "Keep-Alive": {"300"}}))
	c, err := d.DialWebSocket(testCtx(t), o.url("/chat?room=1"))
	if err != nil {
		t.Fatal(err)
	}
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
	echoOnce(t, c, TextMessage, []byte("hello"))
	echoOnce(t, c, BinaryMessage, bytes.Repeat([]byte{1, 2, 3}, 1<<20/3))
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
		{"keep-alive (forbidden in HTTP/2)", r.Header.Get("Keep-Alive"), ""},
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
		c, err := d.DialWebSocket(testCtx(t), o.url("/"))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		echoOnce(t, c, TextMessage, []byte{byte('a' + i)})
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
		echoOnce(t, c, TextMessage, []byte{byte(i)})
	}
	if got := o.conns.Load(); got != 1 {
		t.Errorf("%d concurrent dials took %d TCP connections, want 1", n, got)
	}
}

func TestH2StreamsReleased(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t, func(o *h2Origin) { o.maxStreams = 2 })
	d := newH2Dialer(t, o)
	held, err := d.DialWebSocket(testCtx(t), o.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	// With room for two streams and one held, each of these needs the
	// stream before it to have been given back.
	for i := range 5 {
		c, err := d.DialWebSocket(testCtx(t), o.url("/"))
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		echoOnce(t, c, TextMessage, []byte("x"))
		c.Close()
		cc := keptConns(d)[0]
		waitUntil(t, "the stream is released", func() bool { return cc.streamCount() == 1 })
	}
	if got := o.conns.Load(); got != 1 {
		t.Errorf("took %d TCP connections, want 1", got)
	}
	echoOnce(t, held, TextMessage, []byte("still here"))
}

func TestH2FullConnectionOpensAnother(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t, func(o *h2Origin) { o.maxStreams = 1 })
	d := newH2Dialer(t, o)
	a, err := d.DialWebSocket(testCtx(t), o.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := d.DialWebSocket(testCtx(t), o.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	echoOnce(t, a, TextMessage, []byte("a"))
	echoOnce(t, b, TextMessage, []byte("b"))
	if got := o.conns.Load(); got != 2 {
		t.Errorf("two WebSockets with room for one stream a connection took %d connections, want 2", got)
	}
}

func TestH2RoutesKeptApart(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t)
	d := newH2Dialer(t, o)
	byName, err := d.DialWebSocket(testCtx(t), o.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	defer byName.Close()
	byAddr, err := d.DialWebSocket(testCtx(t), "wss://"+o.addr+"/")
	if err != nil {
		t.Fatal(err)
	}
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
	first, err := d.DialWebSocket(testCtx(t), o.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	cc := keptConns(d)[0]
	o.goAway(0)
	waitUntil(t, "the client has the GOAWAY", func() bool { return !cc.usable() })
	// The stream that the GOAWAY covers goes on (RFC 9113 §6.8)...
	echoOnce(t, first, TextMessage, []byte("after GOAWAY"))
	// ...and a new WebSocket takes a new connection.
	second, err := d.DialWebSocket(testCtx(t), o.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	echoOnce(t, second, TextMessage, []byte("new"))
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
	first, err := d.DialWebSocket(testCtx(t), url)
	if err != nil {
		t.Fatal(err)
	}
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
