package compat

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// targetHost is the name every proxied scenario dials. It never resolves
// (RFC 2606), so a client that skipped the proxy would fail, not leave the
// machine: the test proxies map it to a loopback server.
const targetHost = "ws.example.invalid"

// The proxies' credentials, and the header they expect from them.
const (
	proxyUser     = "alice"
	proxyPassword = "s3cret"
)

var proxyBasic = "Basic " + base64.StdEncoding.EncodeToString([]byte(proxyUser+":"+proxyPassword))

// guard is the dialer every client gets where it takes one. It reaches only
// loopback addresses and resolves no names, so no scenario can send a packet
// off the machine, whatever a library does with its proxy settings.
var guard = &net.Dialer{
	Resolver: &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("compat: name resolution is off in these tests")
	}},
	Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("compat: refusing to dial %s, which is not loopback", address)
		}
		return nil
	},
}

// certs are self-signed certificates, one for the target (its made-up name
// and the loopback addresses) and one for the TLS proxy (loopback only), so
// that a client that verified one against the other's roots would fail.
type certs struct {
	target, proxy           tls.Certificate
	targetRoots, proxyRoots *x509.CertPool
	bothRoots               *x509.CertPool
}

var testCerts = sync.OnceValues(func() (*certs, error) {
	var c certs
	var targetLeaf, proxyLeaf *x509.Certificate
	var err error
	if c.target, targetLeaf, err = selfSigned(targetHost); err != nil {
		return nil, err
	}
	if c.proxy, proxyLeaf, err = selfSigned(); err != nil {
		return nil, err
	}
	c.targetRoots, c.proxyRoots, c.bothRoots = x509.NewCertPool(), x509.NewCertPool(), x509.NewCertPool()
	c.targetRoots.AddCert(targetLeaf)
	c.proxyRoots.AddCert(proxyLeaf)
	c.bothRoots.AddCert(targetLeaf)
	c.bothRoots.AddCert(proxyLeaf)
	return &c, nil
})

func getCerts(t testing.TB) *certs {
	t.Helper()
	c, err := testCerts()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// selfSigned makes a certificate for 127.0.0.1, ::1 and names, which is its
// own root.
func selfSigned(names ...string) (tls.Certificate, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "wsdial compat test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf, nil
}

// tcpServer accepts on a loopback port and hands each connection to a
// handler goroutine. It owns those goroutines and connections: stop closes
// them all and waits.
type tcpServer struct {
	ln     net.Listener
	handle func(net.Conn)
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]bool
}

// serveTCP starts a tcpServer, over TLS when cfg is not nil, that stops when
// t ends.
func serveTCP(t testing.TB, cfg *tls.Config, handle func(net.Conn)) *tcpServer {
	t.Helper()
	s, err := listenTCP(cfg, handle)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func listenTCP(cfg *tls.Config, handle func(net.Conn)) (*tcpServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	s := &tcpServer{ln: ln, handle: handle, conns: map[net.Conn]bool{}}
	s.wg.Go(s.accept)
	return s, nil
}

func (s *tcpServer) addr() string { return s.ln.Addr().String() }

func (s *tcpServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.track(c) {
			return
		}
		s.wg.Go(func() {
			defer s.forget(c)
			s.handle(c)
		})
	}
}

// track adds c to the connections stop closes. It reports false, having
// closed c, once stop has begun.
func (s *tcpServer) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return false
	}
	s.conns[c] = true
	return true
}

func (s *tcpServer) forget(c net.Conn) {
	c.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// closeConns closes every connection open now, and leaves the listener up.
// A scenario uses it to free a client that a stalled server still holds.
func (s *tcpServer) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

func (s *tcpServer) stop() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.ln.Close()
	s.closeConns()
	s.wg.Wait()
}

// connectProxy is an HTTP proxy that only tunnels, with CONNECT, as the
// proxies of locked-down networks do. It maps the authorities in routes to
// loopback addresses and records every request head it reads.
type connectProxy struct {
	auth   string        // the Proxy-Authorization it demands; "" demands none
	reply  string        // when set, written raw in answer to every request
	stall  bool          // read the request, then never answer
	stalls chan struct{} // told of each request a stalling proxy holds

	mu     sync.Mutex
	routes map[string]string
	reqs   []*http.Request
	srv    *tcpServer
}

// start serves p on loopback, over TLS when cfg is not nil, until t ends,
// and returns its address.
func (p *connectProxy) start(t testing.TB, cfg *tls.Config) string {
	t.Helper()
	if err := p.listen(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.srv.stop)
	return p.srv.addr()
}

// listen serves p on loopback, over TLS when cfg is not nil, until p.srv.stop.
func (p *connectProxy) listen(cfg *tls.Config) error {
	p.stalls = make(chan struct{}, 1)
	srv, err := listenTCP(cfg, p.serve)
	p.srv = srv
	return err
}

// route sends CONNECT requests for authority to address.
func (p *connectProxy) route(authority, address string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.routes == nil {
		p.routes = map[string]string{}
	}
	p.routes[authority] = address
}

// seen returns the request heads read so far, and forgets them.
func (p *connectProxy) seen() []*http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.reqs
	p.reqs = nil
	return r
}

func (p *connectProxy) serve(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.reqs = append(p.reqs, req)
	address, routed := p.routes[req.Host]
	p.mu.Unlock()

	switch {
	case p.stall:
		p.stalls <- struct{}{}
		io.Copy(io.Discard, br) // until the client or the test closes c
		return
	case p.reply != "":
		io.WriteString(c, p.reply)
		return
	case req.Method != http.MethodConnect:
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	case p.auth != "" && req.Header.Get("Proxy-Authorization") != p.auth:
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"compat\"\r\nContent-Length: 0\r\n\r\n")
		return
	case !routed:
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := guard.Dial("tcp", address)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	// up needs no tracking of its own: closing c, as stop does, ends the
	// copy below, which closes up and so ends the other.
	var copies sync.WaitGroup
	copies.Go(func() {
		io.Copy(up, br) // br holds whatever the client sent behind its request
		up.Close()
	})
	io.Copy(c, up)
	c.Close()
	copies.Wait()
}

// checkTunnel says what is wrong with the requests a proxy saw, if they are
// not exactly one CONNECT to authority carrying the test's credentials.
func checkTunnel(reqs []*http.Request, authority string) error {
	if len(reqs) != 1 {
		return fmt.Errorf("proxy saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodConnect || r.Host != authority {
		return fmt.Errorf("proxy saw %s %s, want CONNECT %s", r.Method, r.RequestURI, authority)
	}
	if got := r.Header.Get("Proxy-Authorization"); got != proxyBasic {
		return fmt.Errorf("proxy saw Proxy-Authorization %q, want %q", got, proxyBasic)
	}
	return nil
}

// echoServer is a WebSocket echo server on gorilla's Upgrader. It records the
// TLS server name of each upgrade, to show which host a client verified.
type echoServer struct {
	*httptest.Server
	mu  sync.Mutex
	sni []string
}

// startEcho serves an echoServer on loopback until t ends, over TLS with the
// target's certificate when secure is set.
func startEcho(t testing.TB, secure bool) *echoServer {
	t.Helper()
	e := &echoServer{}
	up := websocket.Upgrader{}
	e.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			e.mu.Lock()
			e.sni = append(e.sni, r.TLS.ServerName)
			e.mu.Unlock()
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		// A client that never closes must not hold Close up for long.
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil || c.WriteMessage(mt, msg) != nil {
				return
			}
		}
	}))
	if secure {
		e.TLS = &tls.Config{Certificates: []tls.Certificate{getCerts(t).target}}
		e.StartTLS()
	} else {
		e.Start()
	}
	t.Cleanup(e.Close)
	return e
}

// serverNames returns the TLS server names the upgrades came with.
func (e *echoServer) serverNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.sni...)
}

// addr is the echo server's host:port.
func (e *echoServer) addr() string { return e.Listener.Addr().String() }

// acceptKey is Sec-WebSocket-Accept for key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// readHead reads one request head from c, bounded in time so that a client
// that never sends one cannot hold the server's goroutine.
func readHead(c net.Conn) (*http.Request, *bufio.Reader, error) {
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	c.SetReadDeadline(time.Time{})
	return req, br, err
}

// upgradeHead is the 101 response to req.
func upgradeHead(req *http.Request) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
}

// textFrame is an unmasked, final text frame: what a server sends.
func textFrame(s string) []byte {
	if len(s) > 125 {
		panic("textFrame: payload too long for a one-byte length")
	}
	return append([]byte{0x81, byte(len(s))}, s...)
}
