package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsdial/wsdial"
)

// The HTTP/2 peers that peers/h2.sh starts, each named by the suffix of its
// WSDIAL_INTEROP_* variable.
const (
	hypercorn        = "HYPERCORN"          // hypercorn: h2 with RFC 8441, and HTTP/1.1, over TLS
	nghttpxH2        = "NGHTTPX"            // nghttpx: TLS h2 frontend; /py/ to python ws, /node/ to npm ws
	nghttpxProxy     = "NGHTTPX_PROXY"      // nghttpx http2-proxy in front of squid, open
	nghttpxProxyAuth = "NGHTTPX_PROXY_AUTH" // the same in front of squid with Basic
	haproxyH2        = "HAPROXY_H2"         // HAProxy: TLS h2 frontend for python ws
	haproxyIdle      = "HAPROXY_H2_IDLE"    // the same, cutting a WebSocket idle for 2 s
	nodeH2           = "NODE_H2"            // Node.js's core http2: RFC 8441 echo of its own
)

// loadH2Peers is loadPeers with the HTTP/2 peers too.
func loadH2Peers(t *testing.T) *peers {
	t.Helper()
	p := loadPeers(t)
	p.add(t, hypercorn, nghttpxH2, nghttpxProxy, nghttpxProxyAuth, haproxyH2, haproxyIdle, nodeH2)
	return p
}

// addrConns counts the TCP connections that dials open, by address, from
// the httptrace hooks that net.Dialer fires.
type addrConns struct {
	mu sync.Mutex
	n  map[string]int
}

func (cc *addrConns) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	t.Cleanup(cancel)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{ConnectStart: func(_, addr string) {
		cc.mu.Lock()
		defer cc.mu.Unlock()
		if cc.n == nil {
			cc.n = make(map[string]int)
		}
		cc.n[addr]++
	}})
}

func (cc *addrConns) count(addr string) int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.n[addr]
}

// logBuffer keeps what a debug logger writes, from any goroutine.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// h2Dialer is a Dialer WithHTTP2 for p's peers, logging to log if not nil.
// Its kept connections close when the test ends.
func h2Dialer(t *testing.T, p *peers, proxy string, log io.Writer, extra ...wsdial.Option) *wsdial.Dialer {
	t.Helper()
	opts := append(options(p, proxy), wsdial.WithHTTP2())
	if log != nil {
		opts = append(opts, wsdial.WithLogger(slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	}
	d := newDialer(t, append(opts, extra...)...)
	t.Cleanup(d.CloseIdleConnections)
	return d
}

// TestH2Servers dials three WebSockets to each RFC 8441 server, one after
// another, echoes on each and closes it: every one is HTTP/2, and all three
// share one TCP connection.
func TestH2Servers(t *testing.T) {
	p := loadH2Peers(t)
	for _, s := range []struct {
		name, peer, path string
	}{
		{"hypercorn", hypercorn, "/echo"},
		{"nghttpx-py", nghttpxH2, "/py/echo"},
		{"nghttpx-node", nghttpxH2, "/node/echo"},
		{"haproxy-py", haproxyH2, "/echo"},
		{"node-http2", nodeH2, "/echo"},
	} {
		t.Run(s.name, func(t *testing.T) {
			var conns addrConns
			d := h2Dialer(t, p, "", nil)
			url := "wss://" + net.JoinHostPort("localhost", p.port(s.peer)) + s.path
			for i := range 3 {
				c, err := d.DialWebSocket(conns.ctx(t), url)
				if err != nil {
					t.Fatalf("dial %d: %v", i, err)
				}
				resp := c.Response()
				if resp.ProtoMajor != 2 || resp.StatusCode/100 != 2 {
					t.Errorf("dial %d: %s %d, want HTTP/2.0 2xx", i, resp.Proto, resp.StatusCode)
				}
				if c.Subprotocol() != wantSubprotocol {
					t.Errorf("subprotocol %q, want %q", c.Subprotocol(), wantSubprotocol)
				}
				if v := resp.Header.Get("X-Wsdial-Http-Version"); (s.peer == hypercorn || s.peer == nodeH2) && v != "2" {
					t.Errorf("%s saw HTTP/%s, want 2", s.name, v)
				}
				exchange(t, c)
			}
			if n := conns.count(p.addr[s.peer]); n != 1 {
				t.Errorf("three WebSockets took %d TCP connections, want 1", n)
			}
		})
	}
}

// TestH2Refused has hypercorn, and Node.js's http2, refuse a WebSocket over
// HTTP/2.
func TestH2Refused(t *testing.T) {
	p := loadH2Peers(t)
	for _, peer := range []string{hypercorn, nodeH2} {
		t.Run(peer, func(t *testing.T) {
			d := h2Dialer(t, p, "", nil)
			_, err := d.DialWebSocket(context.Background(), "wss://localhost:"+p.port(peer)+"/deny")
			var he *wsdial.HandshakeError
			if !errors.As(err, &he) || !errors.Is(err, wsdial.ErrHandshake) || !errors.Is(err, wsdial.ErrUpgradeDeclined) {
				t.Fatalf("refused WebSocket: %v, want a *HandshakeError for the declined upgrade", err)
			}
			if he.StatusCode != http.StatusForbidden || he.Response.ProtoMajor != 2 {
				t.Errorf("refusal: %d over %s, want 403 over HTTP/2.0", he.StatusCode, he.Response.Proto)
			}
		})
	}
}

// TestH2Fallback dials nginx's h2 listener, which picks h2 without enabling
// extended CONNECT: the dial goes on over HTTP/1.1, on a new connection, and
// the next dial goes straight to HTTP/1.1.
func TestH2Fallback(t *testing.T) {
	p := loadH2Peers(t)
	var log logBuffer
	var conns addrConns
	d := h2Dialer(t, p, "", &log)
	url := "wss://localhost:" + p.port(nginxH2) + "/py/echo"
	for i := range 2 {
		c, err := d.DialWebSocket(conns.ctx(t), url)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		if c.Response().ProtoMajor != 1 {
			t.Errorf("dial %d: %s, want HTTP/1.1", i, c.Response().Proto)
		}
		exchange(t, c)
	}
	if n := strings.Count(log.String(), "does not enable extended CONNECT"); n != 1 {
		t.Errorf("the trace shows the fallback %d times, want once:\n%s", n, log.String())
	}
	if n := conns.count(p.addr[nginxH2]); n != 3 {
		t.Errorf("took %d TCP connections, want 3 (h2, then HTTP/1.1 for each dial)", n)
	}
}

// TestH2ProxyTunnels sends WebSockets to every echo server through nghttpx
// in its HTTP/2 proxy mode, in front of squid: each tunnel is a CONNECT
// stream (RFC 9113 §8.5) of one TCP connection to the proxy, with TLS to
// the target inside for wss://. Through it, hypercorn's WebSockets are
// HTTP/2 themselves.
func TestH2ProxyTunnels(t *testing.T) {
	p := loadH2Peers(t)
	var conns addrConns
	proxy := proxyURL(p, "https", nghttpxProxy, nil)
	d := h2Dialer(t, p, proxy, nil)
	targets := []struct{ name, url string }{
		{"py-ws", "ws://127.0.0.1:" + p.port(pythonWS) + "/echo"},
		{"py-wss", "wss://127.0.0.1:" + p.port(pythonWSS) + "/echo"},
		{"node-ws", "ws://127.0.0.1:" + p.port(nodeWS) + "/echo"},
		{"node-wss", "wss://127.0.0.1:" + p.port(nodeWSS) + "/echo"},
		{"hypercorn", "wss://127.0.0.1:" + p.port(hypercorn) + "/echo"},
		{"hypercorn again", "wss://127.0.0.1:" + p.port(hypercorn) + "/echo"},
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			c, err := d.DialWebSocket(conns.ctx(t), tg.url)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.NetConn().RemoteAddr().String(); got != p.addr[nghttpxProxy] {
				t.Errorf("the stream runs to %s, want the proxy %s", got, p.addr[nghttpxProxy])
			}
			if want := 1 + boolInt(strings.HasPrefix(tg.name, "hypercorn")); c.Response().ProtoMajor != want {
				t.Errorf("%s, want HTTP/%d", c.Response().Proto, want)
			}
			exchange(t, c)
		})
	}
	if n := conns.count(p.addr[nghttpxProxy]); n != 1 {
		t.Errorf("%d tunnels took %d TCP connections to the proxy, want 1", len(targets), n)
	}

	// The net.Dialer shape rides the same connection: an http.Transport
	// fetching nginx's /ping through it.
	tr := &http.Transport{
		DialTLSContext:  d.DialTLSContext,
		TLSClientConfig: &tls.Config{RootCAs: p.roots},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: dialTimeout}).Get("https://127.0.0.1:" + p.port(nginxH1) + "/ping")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "wsdial-interop nginx") {
		t.Errorf("/ping through the HTTP/2 tunnel: %q", body)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestH2ProxyAuth has squid, behind nghttpx, ask for Basic credentials over
// HTTP/2: the 407 comes back as a *ProxyError, and with the credentials in
// the proxy URL the tunnel opens.
func TestH2ProxyAuth(t *testing.T) {
	p := loadH2Peers(t)
	target := "ws://127.0.0.1:" + p.port(pythonWS) + "/echo"
	d := h2Dialer(t, p, proxyURL(p, "https", nghttpxProxyAuth, nil), nil)
	_, err := d.DialWebSocket(context.Background(), target)
	var pe *wsdial.ProxyError
	if !errors.As(err, &pe) || pe.StatusCode != http.StatusProxyAuthRequired || !errors.Is(err, wsdial.ErrProxyAuthRequired) {
		t.Fatalf("without credentials: %v, want a 407 *ProxyError", err)
	}
	if pe.Response.ProtoMajor != 2 {
		t.Errorf("the 407 came over %s, want HTTP/2.0", pe.Response.Proto)
	}
	if strings.Contains(err.Error(), p.pass) {
		t.Errorf("the error shows the password: %v", err)
	}
	d = h2Dialer(t, p, proxyURL(p, "https", nghttpxProxyAuth, url.UserPassword(p.user, p.pass)), nil)
	c, err := d.DialWebSocket(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	exchange(t, c)
}

// TestH2IdleCut leaves one of two WebSockets on a connection to HAProxy idle
// past its "timeout tunnel 2s": HAProxy ends that stream (END_STREAM, then
// RST_STREAM), which reads as 1006, while the connection and the other
// WebSocket, kept busy, go on.
func TestH2IdleCut(t *testing.T) {
	p := loadH2Peers(t)
	var conns addrConns
	d := h2Dialer(t, p, "", nil)
	url := "wss://localhost:" + p.port(haproxyIdle) + "/echo"
	idle, err := d.DialWebSocket(conns.ctx(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	busy, err := d.DialWebSocket(conns.ctx(t), url)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cut := make(chan error, 1)
	go func() {
		idle.SetReadDeadline(time.Now().Add(ioTimeout))
		_, _, err := idle.ReadMessage()
		cut <- err
	}()
	busy.SetReadDeadline(time.Now().Add(ioTimeout))
	for {
		select {
		case err := <-cut:
			var ce *wsdial.CloseError
			if !errors.As(err, &ce) || ce.Code != wsdial.StatusAbnormalClosure {
				t.Fatalf("the idle WebSocket ended with %v, want 1006", err)
			}
			for range 3 {
				if err := busy.WriteMessage(wsdial.TextMessage, []byte("still here")); err != nil {
					t.Fatal(err)
				}
				if _, _, err := busy.ReadMessage(); err != nil {
					t.Fatalf("the busy WebSocket after the cut: %v", err)
				}
			}
			if n := conns.count(p.addr[haproxyIdle]); n != 1 {
				t.Errorf("took %d TCP connections, want 1", n)
			}
			return
		case <-time.After(500 * time.Millisecond):
			if err := busy.WriteMessage(wsdial.TextMessage, []byte("busy")); err != nil {
				t.Fatal(err)
			}
			if _, _, err := busy.ReadMessage(); err != nil {
				t.Fatalf("the busy WebSocket: %v", err)
			}
		}
	}
}
