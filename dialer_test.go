package wsdial

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		url  string
		want target
	}{
		{"ws://example.com/chat", target{false, "example.com", "example.com:80", "example.com", "/chat"}},
		{"wss://example.com", target{true, "example.com", "example.com:443", "example.com", "/"}},
		{"http://example.com:8080/a?b=c", target{false, "example.com", "example.com:8080", "example.com:8080", "/a?b=c"}},
		{"HTTPS://example.com/", target{true, "example.com", "example.com:443", "example.com", "/"}},
		{"ws://[::1]:9000/x?y", target{false, "::1", "[::1]:9000", "[::1]:9000", "/x?y"}},
		{"wss://[2001:db8::1]/", target{true, "2001:db8::1", "[2001:db8::1]:443", "[2001:db8::1]", "/"}},
		{"ws://example.com/a%20b?q=%2F", target{false, "example.com", "example.com:80", "example.com", "/a%20b?q=%2F"}},
		// An IPv6 zone is decoded for the dial, and sent to no peer.
		{"ws://[fe80::1%25eth0]:9000/", target{false, "fe80::1", "[fe80::1%eth0]:9000", "[fe80::1]:9000", "/"}},
		{"ws://Example.COM:81/", target{false, "Example.COM", "Example.COM:81", "Example.COM:81", "/"}},
	}
	for _, tt := range tests {
		got, err := parseTarget(tt.url)
		if err != nil {
			t.Errorf("parseTarget(%q): %v", tt.url, err)
			continue
		}
		if got != tt.want {
			t.Errorf("parseTarget(%q) = %+v, want %+v", tt.url, got, tt.want)
		}
	}
}

func TestDialWebSocketIPv6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	}
	ln.Close()
	hosts := make(chan string, 1)
	addr := serveRaw(t, "tcp6", func(c net.Conn) {
		req, _, err := readUpgrade(c)
		if err != nil {
			return
		}
		hosts <- req.Host
		c.Write([]byte(upgradeResponse(req, "")))
	})
	c, err := mustNew(t, WithoutProxy()).DialWebSocket(context.Background(), "ws://"+addr+"/v6")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if h := <-hosts; h != addr {
		t.Errorf("Host = %q, want %q", h, addr)
	}
}

// serveTLSUpgrade runs a TLS WebSocket endpoint that reports the SNI and ALPN
// protocol of each client.
func serveTLSUpgrade(t testing.TB, cert *tls.Certificate, nextProtos []string) (addr string, seen chan tls.ConnectionState) {
	seen = make(chan tls.ConnectionState, 4)
	cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: nextProtos}
	addr = serveRaw(t, "tcp", func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		select {
		case seen <- tc.ConnectionState():
		default: // a benchmark's dials, which nobody reads
		}
		req, br, err := readUpgrade(tc)
		if err != nil {
			return
		}
		tc.Write([]byte(upgradeResponse(req, "")))
		answerClose(tc, br)
	})
	return addr, seen
}

func TestDialWebSocketTLS(t *testing.T) {
	cert, pool := newCert(t, "localhost", "127.0.0.1", "::1")
	// The server prefers h2, as nginx with "http2" on its listener does.
	addr, seen := serveTLSUpgrade(t, cert, []string{"h2", "http/1.1"})
	_, port, _ := net.SplitHostPort(addr)
	callerCfg := &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}}
	d := mustNew(t, WithoutProxy(), WithTLSConfig(callerCfg))
	c, err := d.DialWebSocket(context.Background(), "wss://localhost:"+port+"/secure")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st := <-seen
	if st.ServerName != "localhost" {
		t.Errorf("SNI = %q, want localhost", st.ServerName)
	}
	if st.NegotiatedProtocol != "http/1.1" {
		t.Errorf("ALPN chose %q, want http/1.1", st.NegotiatedProtocol)
	}
	if _, ok := c.NetConn().(*tls.Conn); !ok {
		t.Errorf("NetConn() is %T, want *tls.Conn", c.NetConn())
	}
	if len(callerCfg.NextProtos) != 2 || callerCfg.ServerName != "" {
		t.Errorf("the caller's tls.Config was changed: %+v", callerCfg)
	}
}

// TestDialWebSocketTLSNoOffer dials a server that prefers h2 with a
// tls.Config that names no protocol: nothing is offered, so the server
// speaks HTTP/1.1, and neither h2 nor anything else is agreed.
func TestDialWebSocketTLSNoOffer(t *testing.T) {
	cert, pool := newCert(t, "localhost", "127.0.0.1", "::1")
	addr, seen := serveTLSUpgrade(t, cert, []string{"h2", "http/1.1"})
	c, err := mustNew(t, WithoutProxy(), WithTLSConfig(&tls.Config{RootCAs: pool})).DialWebSocket(context.Background(), "wss://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := <-seen; st.NegotiatedProtocol != "" || st.ServerName != "" {
		t.Errorf("the server agreed on ALPN %q, SNI %q; want neither (an IP address is not sent as SNI)", st.NegotiatedProtocol, st.ServerName)
	}
	if p := c.NetConn().(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "" {
		t.Errorf("the client agreed on ALPN %q", p)
	}
}

func TestDialWebSocketTLSVerifies(t *testing.T) {
	cert, _ := newCert(t, "localhost", "127.0.0.1", "::1")
	addr, _ := serveTLSUpgrade(t, cert, nil)
	_, err := mustNew(t, WithoutProxy()).DialWebSocket(context.Background(), "wss://"+addr+"/")
	if !errors.Is(err, ErrTLS) {
		t.Fatalf("DialWebSocket to an untrusted certificate = %v, want ErrTLS", err)
	}
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Errorf("error %v does not keep the certificate cause", err)
	}
	if errors.Is(err, ErrHandshake) || errors.Is(err, ErrProxy) {
		t.Errorf("error %v matches another class", err)
	}
}

func TestDialTLSContext(t *testing.T) {
	cert, pool := newCert(t, "localhost", "127.0.0.1", "::1")
	addr, seen := serveTLSUpgrade(t, cert, nil)
	_, port, _ := net.SplitHostPort(addr)
	d := mustNew(t, WithoutProxy(), WithTLSConfig(&tls.Config{RootCAs: pool}))
	c, err := d.DialTLSContext(context.Background(), "tcp", "localhost:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc, ok := c.(*tls.Conn)
	if !ok {
		t.Fatalf("DialTLSContext returned %T, want *tls.Conn", c)
	}
	if st := tc.ConnectionState(); !st.HandshakeComplete || st.ServerName != "localhost" {
		t.Errorf("state: complete %v, ServerName %q", st.HandshakeComplete, st.ServerName)
	}
	if st := <-seen; st.ServerName != "localhost" {
		t.Errorf("SNI = %q, want localhost", st.ServerName)
	}
}

// TestHTTPTransportDirect plugs the Dialer into http.Transport.
func TestHTTPTransportDirect(t *testing.T) {
	addr := serveRaw(t, "tcp", func(c net.Conn) {
		if _, _, err := readUpgrade(c); err != nil {
			return
		}
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"))
	})
	d := mustNew(t, WithoutProxy())
	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DialTLSContext: d.DialTLSContext}}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "hello" {
		t.Errorf("body %q", b)
	}
}

func TestDialContextNetworks(t *testing.T) {
	addr := serveRaw(t, "tcp", func(c net.Conn) {})
	d := mustNew(t, WithoutProxy())
	for _, network := range []string{"udp", "unix", "ip", ""} {
		if c, err := d.DialContext(context.Background(), network, addr); err == nil {
			c.Close()
			t.Errorf("DialContext(%q) succeeded", network)
		}
	}
	for _, network := range []string{"tcp", "tcp4"} {
		c, err := d.Dial(network, addr)
		if err != nil {
			t.Errorf("Dial(%q): %v", network, err)
			continue
		}
		c.Close()
	}
}

func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = mustNew(t, WithoutProxy()).DialWebSocket(context.Background(), "ws://"+addr+"/")
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v does not keep ECONNREFUSED", err)
	}
	if !strings.Contains(err.Error(), "dial") || errors.Is(err, ErrHandshake) || errors.Is(err, ErrTLS) {
		t.Errorf("error %q does not name the dial stage alone", err)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	stalled := serveRaw(t, "tcp", func(c net.Conn) { io.Copy(io.Discard, c) })
	start := time.Now()
	_, err := mustNew(t, WithoutProxy(), WithHandshakeTimeout(50*time.Millisecond)).DialWebSocket(context.Background(), "ws://"+stalled+"/")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrHandshake) {
		t.Fatalf("error %v, want ErrHandshake and context.DeadlineExceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the dial took %v, long past its timeout", time.Since(start))
	}
}

func TestConcurrentDials(t *testing.T) {
	addr := serveUpgrade(t, "")
	d := mustNew(t, WithoutProxy(), WithHeader(http.Header{"X-A": {"1"}}))
	dialAtOnce(t, d, "ws://"+addr+"/", 16, 1)
}

// TestCancelEachStage cancels a dial while a peer stalls it in each stage,
// and checks that it returns at once with the context's error and leaves no
// goroutine behind.
func TestCancelEachStage(t *testing.T) {
	tests := []struct {
		name  string
		class error
		url   func(t *testing.T, reached chan<- struct{}, dialed <-chan struct{}) string
		opts  []Option
	}{
		{
			name: "tcp dial", url: func(t *testing.T, reached chan<- struct{}, dialed <-chan struct{}) string {
				addr := fullBacklog(t)
				close(reached)
				return "ws://" + addr + "/"
			},
		},
		{
			name: "tls handshake", class: ErrTLS, url: func(t *testing.T, reached chan<- struct{}, dialed <-chan struct{}) string {
				return "wss://" + serveRaw(t, "tcp", func(c net.Conn) {
					c.Read(make([]byte, 1)) // the ClientHello has arrived
					close(reached)
					io.Copy(io.Discard, c)
				}) + "/"
			},
		},
		{
			name: "request write", class: ErrHandshake,
			// A header far larger than the socket buffers, to a server
			// that never reads, blocks the write.
			opts: []Option{WithHeader(http.Header{"X-Big": {strings.Repeat("b", 32<<20)}})},
			url: func(t *testing.T, reached chan<- struct{}, dialed <-chan struct{}) string {
				return "ws://" + serveRaw(t, "tcp", func(c net.Conn) {
					c.Read(make([]byte, 1)) // the write has begun
					close(reached)
					<-dialed
				}) + "/"
			},
		},
		{
			name: "response read", class: ErrHandshake, url: func(t *testing.T, reached chan<- struct{}, dialed <-chan struct{}) string {
				return "ws://" + serveRaw(t, "tcp", func(c net.Conn) {
					if _, _, err := readUpgrade(c); err == nil {
						close(reached)
					}
					io.Copy(io.Discard, c)
				}) + "/"
			},
		},
		{
			name: "response read, head half sent", class: ErrHandshake, url: func(t *testing.T, reached chan<- struct{}, dialed <-chan struct{}) string {
				return "ws://" + serveRaw(t, "tcp", func(c net.Conn) {
					if _, _, err := readUpgrade(c); err == nil {
						c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: webso"))
						close(reached)
					}
					io.Copy(io.Discard, c)
				}) + "/"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached, dialed := make(chan struct{}), make(chan struct{})
			u := tt.url(t, reached, dialed)
			base := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-reached
				cancel()
			}()
			start := time.Now()
			c, err := mustNew(t, append([]Option{WithoutProxy()}, tt.opts...)...).DialWebSocket(ctx, u)
			close(dialed)
			if err == nil {
				c.Close()
				t.Fatal("DialWebSocket succeeded")
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("cancelled dial returned after %v", time.Since(start))
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v does not match context.Canceled", err)
			}
			if tt.class != nil && !errors.Is(err, tt.class) {
				t.Errorf("error %v does not match %v", err, tt.class)
			}
			settleGoroutines(t, base)
		})
	}
}

// fullBacklog returns the address of a loopback listener whose accept queue
// is full, so that a further connect stalls in the TCP handshake.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, addr := boundSocket(t)
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	// Fill the queue: connects that complete, then one that cannot.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
		if i > 16 {
			t.Skip("this kernel accepts connections past a full backlog")
		}
	}
}

// BenchmarkDialWebSocket dials ws:// directly, with the default 30-second
// bound on the dial and with none, side by side: the difference is what the
// bound costs.
func BenchmarkDialWebSocket(b *testing.B) {
	addr := serveUpgrade(b, "")
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{"bound=30s", nil},
		{"bound=none", []Option{WithHandshakeTimeout(0)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchmarkDial(b, mustNew(b, append([]Option{WithoutProxy()}, bc.opts...)...), "ws://"+addr+"/")
		})
	}
}

// BenchmarkDialWebSocketTLS dials wss:// directly, to a server that prefers
// h2, with the ALPN offer of http/1.1 that a wss:// dial makes when the
// caller's tls.Config names protocols and, side by side, with none, as when
// it names none: the difference is what the offer costs.
func BenchmarkDialWebSocketTLS(b *testing.B) {
	cert, pool := newCert(b, "127.0.0.1")
	addr, _ := serveTLSUpgrade(b, cert, []string{"h2", "http/1.1"})
	for _, protos := range [][]string{{"h2", "http/1.1"}, nil} {
		name := "alpn=http/1.1"
		if protos == nil {
			name = "alpn=none"
		}
		b.Run(name, func(b *testing.B) {
			d := mustNew(b, WithoutProxy(), WithTLSConfig(&tls.Config{RootCAs: pool, NextProtos: protos}))
			benchmarkDial(b, d, "wss://"+addr+"/")
		})
	}
}

func benchmarkDial(b *testing.B, d *Dialer, url string) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := d.DialWebSocket(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		// The dial is measured, not the close handshake, which this server
		// would leave to its one-second bound.
		c.NetConn().Close()
	}
}

func TestWithNetDialer(t *testing.T) {
	addr := serveUpgrade(t, "")
	var controlled []string
	nd := &net.Dialer{Control: func(network, address string, _ syscall.RawConn) error {
		controlled = append(controlled, network+" "+address)
		return nil
	}}
	c, err := mustNew(t, WithoutProxy(), WithNetDialer(nd)).DialWebSocket(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if len(controlled) != 1 || controlled[0] != "tcp4 "+addr {
		t.Errorf("the dialer's Control saw %q, want one tcp4 %s", controlled, addr)
	}
}

// TestTimeoutInConnect bounds a connect that the kernel never completes by
// the handshake timeout alone, with a context that cannot be cancelled, for
// an address and for a name to resolve.
func TestTimeoutInConnect(t *testing.T) {
	addr := fullBacklog(t)
	_, port, _ := net.SplitHostPort(addr)
	for _, u := range []string{"ws://" + addr + "/", "ws://localhost:" + port + "/"} {
		start := time.Now()
		_, err := mustNew(t, WithoutProxy(), WithHandshakeTimeout(100*time.Millisecond)).DialWebSocket(context.Background(), u)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: error %v, want context.DeadlineExceeded", u, err)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s: the dial took %v", u, time.Since(start))
		}
	}
}
