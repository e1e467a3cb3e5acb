package wsdial

// The in-process servers that the proxy tests run against: a WebSocket
// origin, an HTTP CONNECT proxy (plain or TLS, with or without Basic), a
// SOCKS5 proxy, and a harness for hostile proxies. Every one listens on
// 127.0.0.1 only, and every goroutine it starts ends in t.Cleanup.

import (
	"bufio"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// pipe joins a and b both ways until either side ends. r stands in for a's
// reads, for a caller that has buffered some of them.
func pipe(a net.Conn, r io.Reader, b net.Conn) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(b, r); done <- struct{}{} }()
	go func() { io.Copy(a, b); done <- struct{}{} }()
	<-done
	a.Close()
	b.Close()
	<-done
}

// hosts maps made-up target names to loopback addresses, for the tests where
// the environment must not see a loopback target. A test proxy dials through
// it; anything not in it is dialed only if it is on loopback.
type hosts map[string]string

func (h hosts) dial(address string) (net.Conn, error) {
	if a, ok := h[address]; ok {
		address = a
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, &net.AddrError{Err: "test proxies reach loopback only", Addr: address}
	}
	return net.Dial("tcp", address)
}

// connectProxy is an HTTP CONNECT proxy for the tests.
type connectProxy struct {
	hosts      hosts
	user, pass string // when user is set, Basic credentials are demanded
	tls        *tls.Config

	mu       sync.Mutex
	requests []*http.Request
	alpn     []string // the protocol each TLS client and the proxy agreed on
}

func (p *connectProxy) start(t testing.TB) (addr string) {
	var wrap func(net.Listener) net.Listener
	if p.tls != nil {
		wrap = func(ln net.Listener) net.Listener { return tls.NewListener(ln, p.tls) }
	}
	addr, _ = serve(t, wrap, p.handle)
	return addr
}

func (p *connectProxy) seen() []*http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*http.Request(nil), p.requests...)
}

func (p *connectProxy) handle(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	p.mu.Lock()
	p.requests = append(p.requests, req)
	if tc, ok := c.(*tls.Conn); ok {
		p.alpn = append(p.alpn, tc.ConnectionState().NegotiatedProtocol)
	}
	p.mu.Unlock()
	if req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if p.user != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass))
		if req.Header.Get("Proxy-Authorization") != want {
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\n"+
				"Proxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 6\r\nConnection: close\r\n\r\ndenied")
			return
		}
	}
	up, err := p.hosts.dial(req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		up.Close()
		return
	}
	pipe(c, br, up)
}

// socksProxy is a SOCKS5 server (RFC 1928, with RFC 1929 authentication)
// for the tests.
type socksProxy struct {
	hosts      hosts
	user, pass string // when user is set, username/password is demanded
	reply      byte   // when not 0, the CONNECT is refused with this code
	replies    []byte // the codes for the first requests in turn, 0 to grant; then as reply says

	mu      sync.Mutex
	targets []socksTarget
}

// socksTarget records what a client asked a SOCKS proxy for.
type socksTarget struct {
	byName bool // sent as a domain name, rather than an address
	addr   string
}

func (p *socksProxy) start(t testing.TB) (addr string) {
	addr, _ = serve(t, nil, p.handle)
	return addr
}

func (p *socksProxy) seen() []socksTarget {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]socksTarget(nil), p.targets...)
}

func (p *socksProxy) handle(c net.Conn) {
	br := bufio.NewReader(c)
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil || hdr[0] != 5 {
		return
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(br, methods); err != nil {
		return
	}
	want := byte(0)
	if p.user != "" {
		want = 2
	}
	if !strings.ContainsRune(string(methods), rune(want)) {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, want})
	if want == 2 {
		user, pass, ok := readSocksAuth(br)
		if !ok {
			return
		}
		if user != p.user || pass != p.pass {
			c.Write([]byte{1, 1})
			return
		}
		c.Write([]byte{1, 0})
	}
	target, ok := readSocksRequest(br)
	if !ok {
		return
	}
	p.mu.Lock()
	p.targets = append(p.targets, target)
	code := p.reply
	if n := len(p.targets); n <= len(p.replies) {
		code = p.replies[n-1]
	}
	p.mu.Unlock()
	refuse := func(code byte) { c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0}) }
	if code != 0 {
		refuse(code)
		return
	}
	up, err := p.hosts.dial(target.addr)
	if err != nil {
		refuse(5)
		return
	}
	if _, err := c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0}); err != nil {
		up.Close()
		return
	}
	pipe(c, br, up)
}

func readSocksAuth(br *bufio.Reader) (user, pass string, ok bool) {
	field := func() (string, bool) {
		n, err := br.ReadByte()
		if err != nil {
			return "", false
		}
		b := make([]byte, n)
		_, err = io.ReadFull(br, b)
		return string(b), err == nil
	}
	if v, err := br.ReadByte(); err != nil || v != 1 {
		return "", "", false
	}
	if user, ok = field(); !ok {
		return "", "", false
	}
	pass, ok = field()
	return user, pass, ok
}

func readSocksRequest(br *bufio.Reader) (socksTarget, bool) {
	var t socksTarget
	var h [4]byte
	if _, err := io.ReadFull(br, h[:]); err != nil || h[0] != 5 || h[1] != 1 {
		return t, false
	}
	var host string
	switch h[3] {
	case 1, 4:
		ip := make(net.IP, 4)
		if h[3] == 4 {
			ip = make(net.IP, 16)
		}
		if _, err := io.ReadFull(br, ip); err != nil {
			return t, false
		}
		host = ip.String()
	case 3:
		n, err := br.ReadByte()
		if err != nil {
			return t, false
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(br, name); err != nil {
			return t, false
		}
		host, t.byName = string(name), true
	default:
		return t, false
	}
	var port [2]byte
	if _, err := io.ReadFull(br, port[:]); err != nil {
		return t, false
	}
	t.addr = net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:]))))
	return t, true
}

// wsOrigin is a WebSocket server that accepts every upgrade, records the
// requests, and echoes what follows.
type wsOrigin struct {
	mu       sync.Mutex
	requests []*http.Request
}

func (o *wsOrigin) seen() []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.requests...)
}

// handler upgrades every request and then echoes; tr owns the hijacked
// connection, which http.Server forgets.
func (o *wsOrigin) handler(tr *tracker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.requests = append(o.requests, r)
		o.mu.Unlock()
		sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + websocketGUID))
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		tr.add(c)
		defer tr.done(c)
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + base64.StdEncoding.EncodeToString(sum[:]) + "\r\n\r\n")
		if brw.Flush() == nil {
			io.Copy(c, brw)
		}
	})
}

// startWS starts a WebSocket origin, over TLS with cert when cert is not nil,
// and returns its host:port.
func (o *wsOrigin) start(t testing.TB, cert *tls.Certificate) string {
	tr := newTracker(t)
	srv := httptest.NewUnstartedServer(o.handler(tr))
	if cert != nil {
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// rawProxy runs handle for each connection after reading the request head,
// which it passes on; the hostile proxies are written this way.
func rawProxy(t testing.TB, handle func(c net.Conn, head string)) string {
	addr, _ := serve(t, nil, func(c net.Conn) {
		br := bufio.NewReader(c)
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		handle(c, head.String())
	})
	return addr
}
