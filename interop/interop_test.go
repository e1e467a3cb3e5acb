package interop

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wsdial/wsdial"
)

// dialTimeout bounds every dial, from the proxy to the 101 response.
const dialTimeout = 15 * time.Second

// offered are the subprotocols every case offers. Both echo servers select
// "chat" and know nothing of the other.
var offered = []string{"x-wsdial-unknown", "chat"}

const wantSubprotocol = "chat"

// A server is a WebSocket endpoint: an echo server, directly or through nginx.
type server struct {
	name   string // the matrix column
	peer   string // the peer that listens
	scheme string // ws or wss
	path   string
}

// url returns the server's URL with host, which the proxy (socks5h) or the
// dialer (every other way) resolves.
func (s server) url(p *peers, host string) string {
	return s.scheme + "://" + net.JoinHostPort(host, p.port(s.peer)) + s.path
}

var servers = []server{
	{"py-ws", pythonWS, "ws", "/echo"},
	{"py-wss", pythonWSS, "wss", "/echo"},
	{"node-ws", nodeWS, "ws", "/echo"},
	{"node-wss", nodeWSS, "wss", "/echo"},
	{"nginx-py", nginxH1, "wss", "/py/echo"},
	{"nginx-node", nginxH1, "wss", "/node/echo"},
	{"nginx-h2-py", nginxH2, "wss", "/py/echo"},
	{"nginx-h2-node", nginxH2, "wss", "/node/echo"},
}

// A route is how a dial reaches the server: directly or through one proxy.
type route struct {
	name   string // the matrix row
	peer   string // the proxy; "" for a direct dial
	scheme string // the proxy URL's scheme: http, https, socks5 or socks5h
	auth   bool   // the proxy asks for the credentials
	// only, when set, names the servers this route may reach: tinyproxy's
	// ConnectPort allow-list lets only the python ws port through.
	only []string
}

var routes = []route{
	{name: "direct"},
	{name: "squid", peer: squidPlain, scheme: "http"},
	{name: "squid+auth", peer: squidAuth, scheme: "http", auth: true},
	{name: "squid-tls (https)", peer: squidTLS, scheme: "https"},
	{name: "tinyproxy", peer: tinyproxyPlain, scheme: "http"},
	{name: "tinyproxy+auth", peer: tinyproxyAuth, scheme: "http", auth: true},
	{name: "tinyproxy-ports", peer: tinyproxyPorts, scheme: "http", only: []string{"py-ws"}},
	{name: "dante socks5", peer: danteOpen, scheme: "socks5"},
	{name: "dante socks5h", peer: danteOpen, scheme: "socks5h"},
	{name: "dante+auth socks5", peer: danteAuth, scheme: "socks5", auth: true},
	{name: "dante+auth socks5h", peer: danteAuth, scheme: "socks5h", auth: true},
	{name: "microsocks socks5", peer: microsocksOpen, scheme: "socks5"},
	{name: "microsocks socks5h", peer: microsocksOpen, scheme: "socks5h"},
	{name: "microsocks+auth socks5", peer: microsocksAuth, scheme: "socks5", auth: true},
	{name: "microsocks+auth socks5h", peer: microsocksAuth, scheme: "socks5h", auth: true},
}

// proxyURL returns the URL of the proxy peer, with user information when
// user is not nil.
func proxyURL(p *peers, scheme, peer string, user *url.Userinfo) string {
	return (&url.URL{Scheme: scheme, User: user, Host: p.addr[peer]}).String()
}

// options returns the dialer options for a case: the test CA for the target
// and for a TLS proxy, the subprotocol offer, and the proxy, or none.
func options(p *peers, proxy string) []wsdial.Option {
	roots := &tls.Config{RootCAs: p.roots}
	opts := []wsdial.Option{
		wsdial.WithTLSConfig(roots),
		wsdial.WithProxyTLSConfig(roots),
		wsdial.WithSubprotocols(offered...),
		wsdial.WithHandshakeTimeout(dialTimeout),
	}
	if proxy == "" {
		return append(opts, wsdial.WithoutProxy())
	}
	return append(opts, wsdial.WithProxy(proxy))
}

// newDialer is wsdial.New for options that must be valid.
func newDialer(t *testing.T, opts ...wsdial.Option) *wsdial.Dialer {
	t.Helper()
	d, err := wsdial.New(opts...)
	if err != nil {
		t.Fatalf("wsdial.New: %v", err)
	}
	return d
}

// TestInterop dials every server through every route, checks the
// subprotocol, echoes a text, a binary and a 1 MiB message, and closes.
func TestInterop(t *testing.T) {
	p := loadPeers(t)
	for _, r := range routes {
		t.Run(r.name, func(t *testing.T) {
			for _, s := range servers {
				if r.only != nil && !contains(r.only, s.name) {
					continue
				}
				t.Run(s.name, func(t *testing.T) {
					record(t, r.name, s.name)
					proxy, wantRemote := "", p.addr[s.peer]
					if r.peer != "" {
						var user *url.Userinfo
						if r.auth {
							user = url.UserPassword(p.user, p.pass)
						}
						proxy, wantRemote = proxyURL(p, r.scheme, r.peer, user), p.addr[r.peer]
					}
					// A name, so that socks5h has one to send and the
					// certificate's DNS name is checked.
					target := s.url(p, "localhost")
					ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
					defer cancel()
					c, err := newDialer(t, options(p, proxy)...).DialWebSocket(ctx, target)
					if err != nil {
						t.Fatalf("dial %s: %v", target, err)
					}
					t.Cleanup(func() { c.NetConn().Close() })

					if got := c.Response().StatusCode; got != 101 {
						t.Errorf("response status %d, want 101", got)
					}
					if got := c.Subprotocol(); got != wantSubprotocol {
						t.Errorf("subprotocol %q, want %q (offered %q)", got, wantSubprotocol, offered)
					}
					// The stream must run to the proxy when there is one, which
					// proves that the dial did not go direct.
					if got := c.NetConn().RemoteAddr().String(); got != wantRemote {
						t.Errorf("stream's remote address %s, want %s", got, wantRemote)
					}
					exchange(t, c)
				})
			}
		})
	}
}

// TestHTTPThroughRoutes puts Dialer.DialTLSContext, the net.Dialer shape,
// into an http.Transport and fetches a page from nginx through every route.
func TestHTTPThroughRoutes(t *testing.T) {
	p := loadPeers(t)
	const want = "wsdial-interop nginx\n"
	for _, r := range routes {
		if r.only != nil {
			continue // nginx's port is not on tinyproxy's allow-list
		}
		t.Run(r.name, func(t *testing.T) {
			record(t, r.name, "https GET")
			proxy, wantRemote := "", p.addr[nginxH1]
			if r.peer != "" {
				var user *url.Userinfo
				if r.auth {
					user = url.UserPassword(p.user, p.pass)
				}
				proxy, wantRemote = proxyURL(p, r.scheme, r.peer, user), p.addr[r.peer]
			}
			tr := &http.Transport{DialTLSContext: newDialer(t, options(p, proxy)...).DialTLSContext}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: dialTimeout}
			target := "https://" + net.JoinHostPort("localhost", p.port(nginxH1)) + "/ping"
			var remote string
			ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
				GotConn: func(info httptrace.GotConnInfo) { remote = info.Conn.RemoteAddr().String() },
			})
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("GET %s: %v", target, err)
			}
			defer resp.Body.Close()
			if remote != wantRemote {
				t.Errorf("the connection's remote address is %s, want %s", remote, wantRemote)
			}
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
			if err != nil {
				t.Fatalf("reading the body: %v", err)
			}
			if resp.StatusCode != http.StatusOK || string(body) != want {
				t.Errorf("GET %s: %s %q, want 200 %q", target, resp.Status, body, want)
			}
		})
	}
}

// TestDirectByIP dials each TLS server by IP address, so that the
// certificate's IP SAN is what verification checks.
func TestDirectByIP(t *testing.T) {
	p := loadPeers(t)
	for _, s := range servers {
		if s.scheme != "wss" {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			record(t, "direct by IP", s.name)
			target := s.url(p, "127.0.0.1")
			ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
			defer cancel()
			c, err := newDialer(t, options(p, "")...).DialWebSocket(ctx, target)
			if err != nil {
				t.Fatalf("dial %s: %v", target, err)
			}
			t.Cleanup(func() { c.NetConn().Close() })
			if got := c.Subprotocol(); got != wantSubprotocol {
				t.Errorf("subprotocol %q, want %q", got, wantSubprotocol)
			}
			exchange(t, c)
		})
	}
}

// TestProxyRefusals makes each proxy say no, and checks the typed error.
func TestProxyRefusals(t *testing.T) {
	p := loadPeers(t)
	creds := url.UserPassword(p.user, p.pass)
	wrong := url.UserPassword(p.user, "wrong-"+p.pass)
	noUser := (*url.Userinfo)(nil)
	pyWS := servers[0]
	nodeWSS := servers[3]

	cases := []struct {
		name   string
		proxy  string
		server server
		opts   []wsdial.Option // after the usual ones
		check  func(t *testing.T, err error)
	}{
		{"squid+auth without credentials: 407", proxyURL(p, "http", squidAuth, noUser), pyWS, nil, want407},
		{"squid+auth with a wrong password: 407", proxyURL(p, "http", squidAuth, wrong), pyWS, nil, want407},
		{"tinyproxy+auth without credentials: 407", proxyURL(p, "http", tinyproxyAuth, noUser), pyWS, nil, want407},
		// tinyproxy 1.11 answers wrong credentials with "HTTP/1.0 401
		// Unauthorized" and WWW-Authenticate, not 407.
		{"tinyproxy+auth with a wrong password: 401", proxyURL(p, "http", tinyproxyAuth, wrong), pyWS, nil, wantStatus(401)},
		{"tinyproxy-ports to a port not allowed: 403", proxyURL(p, "http", tinyproxyPorts, noUser), nodeWSS, nil, want403},
		{"dante+auth without credentials", proxyURL(p, "socks5", danteAuth, noUser), pyWS, nil, wantSOCKSRefusal},
		{"dante+auth with a wrong password", proxyURL(p, "socks5", danteAuth, wrong), pyWS, nil, wantSOCKSRefusal},
		{"dante+auth with a wrong password (socks5h)", proxyURL(p, "socks5h", danteAuth, wrong), pyWS, nil, wantSOCKSRefusal},
		{"microsocks+auth without credentials", proxyURL(p, "socks5", microsocksAuth, noUser), pyWS, nil, wantSOCKSRefusal},
		{"microsocks+auth with a wrong password", proxyURL(p, "socks5", microsocksAuth, wrong), pyWS, nil, wantSOCKSRefusal},
		{"microsocks+auth with a wrong password (socks5h)", proxyURL(p, "socks5h", microsocksAuth, wrong), pyWS, nil, wantSOCKSRefusal},
		{
			"squid-tls not trusted without the CA",
			proxyURL(p, "https", squidTLS, noUser), pyWS,
			[]wsdial.Option{wsdial.WithProxyTLSConfig(&tls.Config{})},
			wantProxyTLSRefusal,
		},
		{
			// The credentials are right; only the port is refused.
			"tinyproxy-ports with credentials it ignores: 403",
			proxyURL(p, "http", tinyproxyPorts, creds), nodeWSS, nil, want403,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recordRefusal(t, tc.name)
			ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
			defer cancel()
			opts := append(options(p, tc.proxy), tc.opts...)
			c, err := newDialer(t, opts...).DialWebSocket(ctx, tc.server.url(p, "localhost"))
			if err == nil {
				c.NetConn().Close()
				t.Fatalf("the dial through %s succeeded; want a refusal", tc.proxy)
			}
			t.Logf("error: %v", err)
			if strings.Contains(err.Error(), p.pass) {
				t.Errorf("the error shows the password: %v", err)
			}
			if errors.Is(err, wsdial.ErrHandshake) || errors.Is(err, wsdial.ErrTLS) {
				t.Errorf("a proxy's refusal matches a target stage's class: %v", err)
			}
			tc.check(t, err)
		})
	}
}

// proxyError returns err's *wsdial.ProxyError, failing t when there is none
// or when err is not of class ErrProxy.
func proxyError(t *testing.T, err error) *wsdial.ProxyError {
	t.Helper()
	if !errors.Is(err, wsdial.ErrProxy) {
		t.Errorf("errors.Is(err, ErrProxy) = false for %v", err)
	}
	var pe *wsdial.ProxyError
	if !errors.As(err, &pe) {
		t.Fatalf("errors.As(err, *ProxyError) = false for %v", err)
	}
	return pe
}

func want407(t *testing.T, err error) {
	t.Helper()
	pe := proxyError(t, err)
	if !errors.Is(err, wsdial.ErrProxyAuthRequired) {
		t.Errorf("errors.Is(err, ErrProxyAuthRequired) = false for %v", err)
	}
	if pe.StatusCode != 407 {
		t.Errorf("ProxyError.StatusCode = %d, want 407", pe.StatusCode)
	}
	if pe.Response == nil || pe.Response.StatusCode != 407 {
		t.Errorf("ProxyError.Response = %v, want the 407 reply", pe.Response)
	}
}

var want403 = wantStatus(403)

// wantStatus returns a check for a CONNECT refused with code, other than 407.
func wantStatus(code int) func(t *testing.T, err error) {
	return func(t *testing.T, err error) {
		t.Helper()
		pe := proxyError(t, err)
		if errors.Is(err, wsdial.ErrProxyAuthRequired) {
			t.Errorf("a %d matches ErrProxyAuthRequired, which is for 407: %v", code, err)
		}
		if pe.StatusCode != code {
			t.Errorf("ProxyError.StatusCode = %d, want %d", pe.StatusCode, code)
		}
		if pe.Response == nil || pe.Response.StatusCode != code {
			t.Errorf("ProxyError.Response = %v, want the %d reply", pe.Response, code)
		}
	}
}

func wantSOCKSRefusal(t *testing.T, err error) {
	t.Helper()
	pe := proxyError(t, err)
	if pe.StatusCode != 0 || pe.Response != nil {
		t.Errorf("a SOCKS refusal has HTTP status %d and response %v; want none", pe.StatusCode, pe.Response)
	}
	if errors.Is(err, wsdial.ErrProxyAuthRequired) {
		t.Errorf("a SOCKS refusal matches ErrProxyAuthRequired, which is for HTTP 407: %v", err)
	}
}

func wantProxyTLSRefusal(t *testing.T, err error) {
	t.Helper()
	proxyError(t, err)
	var ve *tls.CertificateVerificationError
	if !errors.As(err, &ve) {
		t.Errorf("errors.As(err, *tls.CertificateVerificationError) = false for %v", err)
	}
}
