package wsdial

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// h2ProxyDialer dials through p with WithHTTP2, trusting both p and the
// target's certificate pool.
func h2ProxyDialer(t testing.TB, p *h2Proxy, proxyURL string, target *tls.Config, opts ...Option) *Dialer {
	t.Helper()
	d := mustNew(t, append([]Option{WithProxy(proxyURL), WithHTTP2(), WithProxyTLSConfig(&tls.Config{RootCAs: p.pool}),
		WithTLSConfig(target)}, opts...)...)
	t.Cleanup(d.CloseIdleConnections)
	return d
}

func TestH2ProxyTunnels(t *testing.T) {
	checkGoroutines(t)
	p := newH2Proxy(t)
	// An HTTP/1.1 origin: each WebSocket is a tunnel of its own, with TLS
	// to the target inside it.
	cert, pool := newCert(t, "localhost", "127.0.0.1")
	addr, seen := serveTLSUpgrade(t, cert, []string{"http/1.1"})
	var log syncBuffer
	d := h2ProxyDialer(t, p, p.url(), &tls.Config{RootCAs: pool}, WithLogger(debugLogger(&log)))
	for range 3 {
		c := dialOK(t, d, "wss://"+addr+"/")
		if c.Response().ProtoMajor != 1 {
			t.Errorf("the WebSocket inside the tunnel answered %s, want HTTP/1.1", c.Response().Proto)
		}
		if st := <-seen; st.ServerName != "127.0.0.1" && st.ServerName != "" {
			t.Errorf("SNI %q: it must be the target's", st.ServerName)
		}
		c.Close()
	}
	tunnels, _ := p.seen()
	if got := p.conns.Load(); got != 1 || len(tunnels) != 3 {
		t.Errorf("3 tunnels took %d TCP connections and %d CONNECT streams, want 1 and 3", got, len(tunnels))
	}
	for _, tn := range tunnels {
		if tn != addr {
			t.Errorf("CONNECT :authority %q, want %q", tn, addr)
		}
	}
	if n := strings.Count(log.String(), "stream on a kept HTTP/2 connection"); n != 2 {
		t.Errorf("the trace shows %d tunnels on the kept connection, want 2:\n%s", n, log.String())
	}
}

func TestH2ProxyToH2Origin(t *testing.T) {
	checkGoroutines(t)
	p := newH2Proxy(t)
	o := newH2Origin(t)
	d := h2ProxyDialer(t, p, p.url(), o.tlsConfig())
	var conns []*Conn
	for range 2 {
		// By address: the test proxy reaches loopback addresses only.
		c := dialOK(t, d, "wss://"+o.addr+"/")
		conns = append(conns, c)
		if c.Response().ProtoMajor != 2 {
			t.Errorf("%s, want HTTP/2.0 inside the tunnel", c.Response().Proto)
		}
		echoBack(t, c, TextMessage, []byte("nested"))
	}
	// One tunnel carries the origin's HTTP/2 connection, which carries both.
	tunnels, _ := p.seen()
	if len(tunnels) != 1 || o.conns.Load() != 1 {
		t.Errorf("2 WebSockets took %d tunnels and %d origin connections, want 1 and 1", len(tunnels), o.conns.Load())
	}
	for _, c := range conns {
		c.Close()
	}
}

func TestH2ProxyPlainWebSocketAndDialContext(t *testing.T) {
	checkGoroutines(t)
	p := newH2Proxy(t)
	addr := serveUpgrade(t, "")
	d := h2ProxyDialer(t, p, p.url(), nil)
	c := dialOK(t, d, "ws://"+addr+"/")
	if _, ok := c.NetConn().(*h2Stream); !ok || c.Response().ProtoMajor != 1 {
		t.Errorf("ws:// through an h2 proxy: NetConn %T, %s; want HTTP/1.1 on a tunnel stream", c.NetConn(), c.Response().Proto)
	}
	c.Close()

	echo := serveRaw(t, "tcp", func(c net.Conn) { io.Copy(c, c) })
	nc, err := d.DialContext(testCtx(t), "tcp", echo)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.Write([]byte("raw bytes")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 9)
	if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != "raw bytes" {
		t.Errorf("raw tunnel echoed %q, %v", buf, err)
	}
	if got := p.conns.Load(); got != 1 {
		t.Errorf("took %d proxy connections, want 1", got)
	}
}

func TestH2ProxyAuth(t *testing.T) {
	checkGoroutines(t)
	p := newH2Proxy(t, func(p *h2Proxy) { p.user, p.pass = "alice", "s3cret" })
	addr := serveUpgrade(t, "")

	// Credentials in the URL go with every CONNECT.
	d := h2ProxyDialer(t, p, "https://alice:s3cret@"+p.addr, nil)
	c := dialOK(t, d, "ws://"+addr+"/")
	c.Close()

	// Without them, the 407 comes back as a ProxyError.
	d = h2ProxyDialer(t, p, p.url(), nil)
	_, err := d.DialWebSocket(testCtx(t), "ws://"+addr+"/")
	checkClass(t, err, ErrProxy)
	var pe *ProxyError
	if !errors.As(err, &pe) || pe.StatusCode != http.StatusProxyAuthRequired || !errors.Is(err, ErrProxyAuthRequired) {
		t.Fatalf("error %v, want a 407 ProxyError", err)
	}
	if pe.Response.ProtoMajor != 2 || pe.Response.Header.Get("Proxy-Authenticate") == "" {
		t.Errorf("407 response: %s, Proxy-Authenticate %q", pe.Response.Proto, pe.Response.Header.Get("Proxy-Authenticate"))
	}

	// An authenticator answers the challenge on a new stream of the same
	// connection.
	a := &countingAuth{user: "alice", pass: "s3cret"}
	d = h2ProxyDialer(t, p, p.url(), nil, WithProxyAuthenticator(a))
	c, err = d.DialWebSocket(testCtx(t), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if a.challenges != 1 || !a.sameConn {
		t.Errorf("the authenticator saw %d challenges (same connection: %v), want 1 on the same", a.challenges, a.sameConn)
	}
	if got := p.conns.Load(); got != 3 {
		t.Errorf("three Dialers took %d proxy connections, want 3", got)
	}
	_, auths := p.seen()
	if want := []string{"Basic YWxpY2U6czNjcmV0", "", "", "Basic YWxpY2U6czNjcmV0"}; strings.Join(auths, "|") != strings.Join(want, "|") {
		t.Errorf("Proxy-Authorization of each CONNECT: %q, want %q", auths, want)
	}
}

// countingAuth answers a Basic challenge, and notes what it was told.
type countingAuth struct {
	user, pass string
	challenges int
	sameConn   bool
}

func (a *countingAuth) Start(ctx context.Context, proxy *url.URL) (ProxyAuthSession, error) {
	return a, nil
}

func (a *countingAuth) Next(ctx context.Context, challenge *http.Response) (string, error) {
	if challenge == nil {
		return "", nil
	}
	a.challenges++
	a.sameConn = !challenge.Close
	r := http.Request{Header: http.Header{}}
	r.SetBasicAuth(a.user, a.pass)
	return r.Header.Get("Authorization"), nil
}

func TestH2ProxyFallsBackToHTTP1(t *testing.T) {
	checkGoroutines(t)
	p := newH2Proxy(t, func(p *h2Proxy) { p.h1 = true })
	addr := serveUpgrade(t, "")
	var log syncBuffer
	d := h2ProxyDialer(t, p, p.url(), nil, WithLogger(debugLogger(&log)))
	for range 2 {
		c := dialOK(t, d, "ws://"+addr+"/")
		if _, ok := c.NetConn().(*h2Stream); ok {
			t.Error("an HTTP/1.1 proxy's tunnel is a stream")
		}
		c.Close()
	}
	// The first CONNECT went on the connection that offered h2.
	if got := p.conns.Load(); got != 2 {
		t.Errorf("two tunnels took %d proxy connections, want 2", got)
	}
	if n := strings.Count(log.String(), "the proxy chose http/1.1 by ALPN"); n != 1 {
		t.Errorf("the trace shows the fallback %d times, want once:\n%s", n, log.String())
	}
}

// TestH2ProxyTunnelBeforeSettings has a proxy that sends its SETTINGS only
// once the first CONNECT has come: the tunnel must not wait for them (RFC
// 9113 §3.4), which saves the first tunnel a round trip.
func TestH2ProxyTunnelBeforeSettings(t *testing.T) {
	checkGoroutines(t)
	got := make(chan string, 1)
	addr, pool := serveH2Script(t, func(s *h2Script) {
		// Read up to the CONNECT as it comes, acknowledging nothing: the
		// server's preface, SETTINGS, must be its first frame.
		var h *http2.MetaHeadersFrame
		for h == nil {
			f, err := s.fr.ReadFrame()
			if err != nil {
				return
			}
			h, _ = f.(*http2.MetaHeadersFrame)
		}
		got <- h.PseudoValue("authority")
		s.settings()
		s.fr.WriteSettingsAck()
		s.respond(h.StreamID, "200", false)
		f, err := s.waitFor(h.StreamID, func(f http2.Frame) bool { _, ok := f.(*http2.DataFrame); return ok })
		if err == nil {
			s.fr.WriteData(h.StreamID, false, f.(*http2.DataFrame).Data())
		}
		io.Copy(io.Discard, s.c)
	})
	d := mustNew(t, WithProxy("https://"+addr), WithHTTP2(), WithProxyTLSConfig(&tls.Config{RootCAs: pool}))
	defer d.CloseIdleConnections()
	c, err := d.DialContext(testCtx(t), "tcp", "target.example:443")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if a := <-got; a != "target.example:443" {
		t.Errorf("CONNECT :authority %q", a)
	}
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Errorf("tunnel read %q, %v", buf, err)
	}
}

// TestH2ProxyHTTP1ClosesAtOnce has an https:// proxy pick http/1.1 by ALPN,
// then close without a reply: the CONNECT that went on the connection that
// offered h2 fails with the proxy's error, as on any new connection.
func TestH2ProxyHTTP1ClosesAtOnce(t *testing.T) {
	checkGoroutines(t)
	cert, pool := newCert(t, "localhost", "127.0.0.1")
	cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"http/1.1"}}
	addr, _ := serve(t, func(ln net.Listener) net.Listener { return tls.NewListener(ln, cfg) }, func(c net.Conn) {
		readUpgrade(c) // the CONNECT, unanswered
	})
	d := mustNew(t, WithProxy("https://"+addr), WithHTTP2(), WithProxyTLSConfig(&tls.Config{RootCAs: pool}))
	defer d.CloseIdleConnections()
	_, err := d.DialWebSocket(testCtx(t), "ws://target.example/")
	checkClass(t, err, ErrProxy)
	if !strings.Contains(err.Error(), "connect") {
		t.Errorf("error %v does not name the CONNECT", err)
	}
}

// TestH2IDNHost dials an internationalized name through an HTTP/2 proxy to
// an HTTP/2 origin: the CONNECT's :authority, SNI and the extended
// CONNECT's :authority all carry its A-label, as over HTTP/1.1.
func TestH2IDNHost(t *testing.T) {
	checkGoroutines(t)
	o := newH2Origin(t, func(o *h2Origin) { o.names = []string{idnALabel} })
	p := newH2Proxy(t, func(p *h2Proxy) { p.routes = hosts{idnALabel + ":" + o.port: o.addr} })
	d := h2ProxyDialer(t, p, p.url(), o.tlsConfig())
	c := dialOK(t, d, "wss://"+idnHost+":"+o.port+"/")
	defer c.Close()
	if c.Response().ProtoMajor != 2 {
		t.Errorf("%s, want HTTP/2.0", c.Response().Proto)
	}
	want := idnALabel + ":" + o.port
	if tunnels, _ := p.seen(); len(tunnels) != 1 || tunnels[0] != want {
		t.Errorf("CONNECT :authority %q, want %q", tunnels, want)
	}
	if got := o.requests()[0].Host; got != want {
		t.Errorf("extended CONNECT :authority %q, want %q", got, want)
	}
}
