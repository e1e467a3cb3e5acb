package wsdialtest

import (
	"crypto/subtle"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Proxy is a proxy server on 127.0.0.1 for tests: an HTTP CONNECT proxy
// (NewProxy) or a SOCKS5 proxy (NewSOCKS5Proxy). It tunnels to loopback IP
// addresses and to the targets that WithRoute names, and never connects
// beyond loopback: any other target, a name such as localhost included, is
// refused (403 Forbidden, or SOCKS5 reply 2, "connection not allowed by
// ruleset").
type Proxy struct {
	// URL is http://127.0.0.1:PORT or socks5://127.0.0.1:PORT. It holds no
	// credentials: add those that WithBasicAuth demands with url.UserPassword.
	URL string

	cfg     proxyConfig
	tunnels atomic.Int64
	g       group
}

// A ProxyOption configures a Proxy.
type ProxyOption func(*proxyConfig)

type proxyConfig struct {
	// check, when set, accepts an HTTP CONNECT's Proxy-Authorization value,
	// or returns the Proxy-Authenticate value of the 407 that refuses it.
	check       func(authorization string) (challenge string, ok bool)
	custom      bool   // check came from WithAuthFunc, which SOCKS5 cannot honour
	socksUser   string // WithBasicAuth's credentials; when socksAuth is set,
	socksPass   string // a SOCKS5 proxy demands them by RFC 1929
	socksAuth   bool
	routes      map[string]string // target host:port, host in lower case, to a loopback address
	routeErrors []string
	// connect opens the connection to a target's loopback address; nil
	// means a TCP connect. The fuzz targets set it, so that what they make
	// up never reaches a real port.
	connect func(address string) (net.Conn, error)
}

// WithBasicAuth makes the proxy demand user and password: as Basic
// authentication (RFC 7617) from an HTTP client, answering 407 Proxy
// Authentication Required without them, and as username/password
// authentication (RFC 1929) from a SOCKS5 client. Credentials that the
// protocol cannot carry make the constructor panic, rather than start a
// proxy that no client can pass: for NewProxy a user with a colon, for
// NewSOCKS5Proxy a user or password that is empty or longer than 255 bytes.
func WithBasicAuth(user, password string) ProxyOption {
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	return func(c *proxyConfig) {
		c.check = func(authorization string) (string, bool) {
			scheme, rest, _ := strings.Cut(authorization, " ")
			got := "Basic " + strings.TrimSpace(rest)
			if strings.EqualFold(scheme, "Basic") && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 {
				return "", true
			}
			return `Basic realm="wsdialtest"`, false
		}
		c.custom = false
		c.socksUser, c.socksPass, c.socksAuth = user, password, true
	}
}

// WithAuthFunc makes an HTTP CONNECT proxy pass each request's
// Proxy-Authorization value ("" when it has none) to check, which accepts
// it or returns the Proxy-Authenticate value of the 407 that refuses it.
// The proxy keeps the connection open after a 407 for the next round,
// unless the client asked to close it. It is for testing an authenticator
// of a scheme beyond Basic. NewSOCKS5Proxy panics when given it.
func WithAuthFunc(check func(authorization string) (challenge string, ok bool)) ProxyOption {
	return func(c *proxyConfig) {
		c.check, c.custom = check, true
		c.socksAuth = false
	}
}

// WithRoute makes the proxy tunnel a request for target, a host:port as the
// client names it, to address, a host:port on loopback. It lets a test reach
// a loopback server by a name, as it must when the proxy comes from
// HTTPS_PROXY or the other environment variables, which never apply to
// loopback targets. A TLS echo server's certificate is valid for the names
// under .test, so that wss://echo.test/ can be routed to it:
//
//	srv := wsdialtest.NewTLSEchoServer()
//	px := wsdialtest.NewProxy(wsdialtest.WithRoute("echo.test:443", strings.TrimPrefix(srv.URL, "wss://")))
//
// The constructor panics if target is not a host:port or address is not a
// loopback IP address with a port.
func WithRoute(target, address string) ProxyOption {
	return func(c *proxyConfig) {
		host, port, err := net.SplitHostPort(target)
		if err != nil || host == "" || port == "" {
			c.routeErrors = append(c.routeErrors, "target "+target+" is not a host:port")
			return
		}
		address = strings.TrimSuffix(address, "/")
		if !isLoopbackAddr(address) {
			c.routeErrors = append(c.routeErrors, "address "+address+" is not a loopback IP address with a port")
			return
		}
		if c.routes == nil {
			c.routes = map[string]string{}
		}
		c.routes[net.JoinHostPort(strings.ToLower(host), port)] = address
	}
}

// NewProxy starts an HTTP CONNECT proxy on a free port of 127.0.0.1. It
// answers every method but CONNECT with 405 Method Not Allowed. It panics if
// it cannot listen, as httptest.NewServer does. Close it when done.
func NewProxy(opts ...ProxyOption) *Proxy {
	p := newProxy(opts)
	if p.cfg.socksAuth && strings.Contains(p.cfg.socksUser, ":") {
		panic("wsdialtest: NewProxy: WithBasicAuth: a Basic user-id cannot hold a colon (RFC 7617)")
	}
	ln := listenLoopback()
	p.URL = "http://" + ln.Addr().String()
	p.g.serve(ln, p.serveConnect)
	return p
}

// NewSOCKS5Proxy starts a SOCKS5 proxy (RFC 1928) on a free port of
// 127.0.0.1, which takes CONNECT requests for IPv4 and IPv6 addresses and
// for names (resolved only through WithRoute). It panics if it cannot
// listen, or if given WithAuthFunc. Close it when done.
func NewSOCKS5Proxy(opts ...ProxyOption) *Proxy {
	p := newProxy(opts)
	if p.cfg.custom {
		panic("wsdialtest: NewSOCKS5Proxy: WithAuthFunc is for HTTP proxies; use WithBasicAuth")
	}
	if n, m := len(p.cfg.socksUser), len(p.cfg.socksPass); p.cfg.socksAuth && (n < 1 || n > 255 || m < 1 || m > 255) {
		panic("wsdialtest: NewSOCKS5Proxy: WithBasicAuth: RFC 1929 carries a user and a password of 1 to 255 bytes each")
	}
	ln := listenLoopback()
	p.URL = "socks5://" + ln.Addr().String()
	p.g.serve(ln, p.serveSOCKS5)
	return p
}

func newProxy(opts []ProxyOption) *Proxy {
	p := &Proxy{}
	for _, o := range opts {
		if o == nil {
			panic("wsdialtest: a ProxyOption is nil")
		}
		o(&p.cfg)
	}
	if len(p.cfg.routeErrors) > 0 {
		panic("wsdialtest: WithRoute: " + strings.Join(p.cfg.routeErrors, "; "))
	}
	return p
}

// Close stops the proxy, closes every connection and tunnel it holds, and
// waits for every goroutine it started. It may be called more than once.
func (p *Proxy) Close() { p.g.close() }

// Tunnels returns how many tunnels the proxy has opened: the CONNECT
// requests it answered 200, or the SOCKS5 requests it granted. A client that
// has had its answer finds its tunnel counted.
func (p *Proxy) Tunnels() int { return int(p.tunnels.Load()) }

// maxRequests bounds the requests one connection to an HTTP proxy may make:
// the rounds of an authentication exchange, then the CONNECT that tunnels.
const maxRequests = 16

// serveConnect serves one connection to the HTTP proxy.
func (p *Proxy) serveConnect(c net.Conn) {
	rr := newRequestReader(c)
	for range maxRequests {
		req, ok := rr.next()
		if !ok {
			return
		}
		if req.Method != http.MethodConnect {
			refuse(c, &refusal{status: http.StatusMethodNotAllowed, text: "this proxy only tunnels, with CONNECT"})
			return
		}
		if p.cfg.check != nil {
			if challenge, ok := p.cfg.check(req.Header.Get("Proxy-Authorization")); !ok {
				// The next round may come on this connection, unless
				// the client is done with it or sent a body to skip.
				keepOpen := !req.Close && req.ContentLength == 0
				err := respond(c, &refusal{status: http.StatusProxyAuthRequired, text: "proxy authentication required",
					header: http.Header{"Proxy-Authenticate": {challenge}}}, keepOpen)
				if err != nil || !keepOpen {
					return
				}
				continue
			}
		}
		up, status := p.dial(req.Host)
		if status != 0 {
			refuse(c, &refusal{status: status, text: http.StatusText(status) + ": " + req.Host})
			return
		}
		// Counted before the client hears of it, so that a client that has
		// its 200 finds the tunnel counted.
		p.tunnels.Add(1)
		if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
			up.Close()
			return
		}
		rr.lift() // the tunnel's bytes are the client's own
		p.pipe(c, rr.br, up)
		return
	}
}

// dialTimeout bounds the proxy's connect to a target, which is on loopback.
const dialTimeout = 10 * time.Second

// dial connects to target, through its route if it has one, or returns the
// HTTP status that refuses it: 400 for a target that is not a host:port,
// 403 for one beyond loopback, 502 for a failed connect.
func (p *Proxy) dial(target string) (net.Conn, int) {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return nil, http.StatusBadRequest
	}
	address, ok := p.cfg.routes[net.JoinHostPort(strings.ToLower(host), port)]
	if !ok {
		if !isLoopbackAddr(target) {
			return nil, http.StatusForbidden
		}
		address = target
	}
	connect := p.cfg.connect
	if connect == nil {
		connect = func(address string) (net.Conn, error) { return net.DialTimeout("tcp", address, dialTimeout) }
	}
	up, err := connect(address)
	if err != nil {
		return nil, http.StatusBadGateway
	}
	return up, 0
}

// isLoopbackAddr reports whether address is a loopback IP address with a port.
func isLoopbackAddr(address string) bool {
	host, port, err := net.SplitHostPort(address)
	ip := net.ParseIP(host)
	return err == nil && port != "" && ip != nil && ip.IsLoopback()
}

// pipe joins c, whose reads come through r, and up, both ways, until the
// target ends the tunnel or the proxy closes.
func (p *Proxy) pipe(c net.Conn, r io.Reader, up net.Conn) {
	if !p.g.hold(up) {
		return
	}
	defer p.g.release(up)
	defer up.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(up, r)
		// The client is done sending; the target may still answer.
		if tc, ok := up.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	io.Copy(c, up)
	c.Close() // the target is done: end the copy above too
	<-done
}
