package wsdial

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
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
