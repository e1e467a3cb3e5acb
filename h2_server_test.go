//lint:file-ignore SA1019 x/net/http2's server, deprecated for net/http's, is the one the tests are to run against, and ServeConn, which serves one connection, lets a test send GOAWAY on one.

package wsdial

// The in-process HTTP/2 servers that the HTTP/2 tests run against: an
// origin served by x/net/http2's server, which advertises extended CONNECT in
// this test binary (see TestMain), with an HTTP/1.1 upgrade on the same port
// for clients that ALPN sends there; an HTTP/2 CONNECT proxy, also x/net's;
// and a scripted HTTP/2 server, which sends exactly the frames a test gives
// it. All listen on 127.0.0.1, and every goroutine ends in t.Cleanup.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Origin serves WebSockets over HTTP/2 and, when ALPN picks http/1.1,
// over HTTP/1.1.
type h2Origin struct {
	addr string // 127.0.0.1:port
	port string
	pool *x509.CertPool

	// handler answers each extended CONNECT; h2Echo unless a test sets it
	// before the first dial.
	handler http.HandlerFunc
	// maxStreams is the server's SETTINGS_MAX_CONCURRENT_STREAMS; 0 is x/net's default.
	maxStreams uint32
	// uploadConn and uploadStream are the server's receive windows; 0 is
	// x/net's default, 1 MiB for each.
	uploadConn, uploadStream int32
	// names are more names for its certificate than localhost and 127.0.0.1.
	names []string

	conns atomic.Int32 // TCP connections accepted

	mu   sync.Mutex
	reqs []*http.Request // each extended CONNECT, as the handler saw it
	hs   []*http.Server  // each h2 connection's own server, for GOAWAY
}

// newH2Origin starts an origin for localhost; opts may set its fields before
// it serves.
func newH2Origin(t testing.TB, opts ...func(*h2Origin)) *h2Origin {
	t.Helper()
	o := &h2Origin{}
	o.handler = o.echo
	for _, opt := range opts {
		opt(o)
	}
	cert, pool := newCert(t, append([]string{"localhost", "127.0.0.1"}, o.names...)...)
	o.pool = pool
	cfg := &tls.Config{
		Certificates: []tls.Certificate{*cert},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	o.addr, _ = serve(t, nil, func(c net.Conn) {
		o.conns.Add(1)
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		if tc.ConnectionState().NegotiatedProtocol != "h2" {
			serveH1Echo(tc)
			return
		}
		// Each connection has a server of its own, so that a test can send
		// GOAWAY on one connection: http.Server.Shutdown starts x/net's
		// graceful shutdown on the connections of the servers configured on it.
		hs := &http.Server{}
		h2 := &http2.Server{MaxConcurrentStreams: o.maxStreams,
			MaxUploadBufferPerConnection: o.uploadConn, MaxUploadBufferPerStream: o.uploadStream}
		if err := http2.ConfigureServer(hs, h2); err != nil {
			panic(err)
		}
		o.mu.Lock()
		o.hs = append(o.hs, hs)
		o.mu.Unlock()
		h2.ServeConn(tc, &http2.ServeConnOpts{BaseConfig: hs, Handler: o.record(o.handler)})
	})
	_, o.port, _ = net.SplitHostPort(o.addr)
	return o
}

// url is the wss:// URL of path on the origin, by the name localhost.
func (o *h2Origin) url(path string) string { return "wss://localhost:" + o.port + path }

// tlsConfig trusts the origin.
func (o *h2Origin) tlsConfig() *tls.Config { return &tls.Config{RootCAs: o.pool} }

func (o *h2Origin) record(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.reqs = append(o.reqs, r)
		o.mu.Unlock()
		h(w, r)
	}
}

func (o *h2Origin) requests() []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.reqs...)
}

// goAway starts a graceful shutdown, with GOAWAY, of the n-th h2
// connection, counting from 0.
func (o *h2Origin) goAway(n int) {
	o.mu.Lock()
	hs := o.hs[n]
	o.mu.Unlock()
	hs.Shutdown(context.Background())
}

// echo is the default handler: it accepts the WebSocket, choosing the first
// subprotocol offered, and echoes every message until the close handshake.
func (o *h2Origin) echo(w http.ResponseWriter, r *http.Request) {
	ws := acceptH2(w, r, "")
	if ws == nil {
		return
	}
	echoFrames(ws)
}

// acceptH2 answers an extended CONNECT for a WebSocket with 200 and header
// lines added (as "Name: value\r\n"), and returns the stream; a request that
// is not one gets 400 and nil.
func acceptH2(w http.ResponseWriter, r *http.Request, header string) *peer {
	if r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" ||
		r.Header.Get("Sec-Websocket-Version") != "13" {
		w.WriteHeader(http.StatusBadRequest)
		return nil
	}
	if p := r.Header.Get("Sec-Websocket-Protocol"); p != "" {
		w.Header().Set("Sec-WebSocket-Protocol", strings.TrimSpace(strings.Split(p, ",")[0]))
	}
	for _, line := range strings.Split(strings.TrimSuffix(header, "\r\n"), "\r\n") {
		if name, value, ok := strings.Cut(line, ": "); ok {
			w.Header().Add(name, value)
		}
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if err := rc.Flush(); err != nil {
		return nil
	}
	s := &h2ServerStream{r: r.Body, w: w, rc: rc}
	return &peer{c: s, br: bufio.NewReader(s), req: r}
}

// echoFrames sends every data frame back as it came (unmasked), answers
// pings, and answers the client's close, until the stream ends.
func echoFrames(p *peer) {
	for {
		f, err := p.readFrame()
		if err != nil {
			return
		}
		b0 := f.rsv | f.op
		if f.fin {
			b0 |= fin
		}
		switch f.op {
		case opCls:
			p.c.Write(frame(fin|opCls, f.payload))
			return
		case opPng:
			b0 = fin | opPog
		case opPog:
			continue
		}
		if _, err := p.c.Write(frame(b0, f.payload)); err != nil {
			return
		}
	}
}

// serveH1Echo runs the HTTP/1.1 upgrade on c and echoes as echoFrames does.
func serveH1Echo(c net.Conn) {
	req, br, err := readUpgrade(c)
	if err != nil {
		return
	}
	if _, err := c.Write([]byte(upgradeResponse(req, ""))); err != nil {
		return
	}
	echoFrames(&peer{c: c, br: br, req: req})
}

// h2ServerStream is the server's end of a stream, as a net.Conn for peer:
// reads come from the request body, and each write is flushed.
type h2ServerStream struct {
	r  io.Reader
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s *h2ServerStream) Read(b []byte) (int, error) { return s.r.Read(b) }

func (s *h2ServerStream) Write(b []byte) (int, error) {
	n, err := s.w.Write(b)
	if err == nil {
		err = s.rc.Flush()
	}
	return n, err
}

func (s *h2ServerStream) Close() error                       { return nil }
func (s *h2ServerStream) LocalAddr() net.Addr                { return nil }
func (s *h2ServerStream) RemoteAddr() net.Addr               { return nil }
func (s *h2ServerStream) SetDeadline(t time.Time) error      { return nil }
func (s *h2ServerStream) SetReadDeadline(t time.Time) error  { return s.rc.SetReadDeadline(t) }
func (s *h2ServerStream) SetWriteDeadline(t time.Time) error { return s.rc.SetWriteDeadline(t) }

// h2Proxy is an HTTP/2 CONNECT proxy (RFC 9113 §8.5), x/net's server, over
// TLS: it answers each CONNECT stream by dialing the :authority, on loopback
// only, and joining the two.
type h2Proxy struct {
	addr       string
	pool       *x509.CertPool
	user, pass string // when user is set, Basic credentials are demanded
	routes     hosts  // names it reaches on loopback

	conns   atomic.Int32
	h1      bool // speak HTTP/1.1 only, offering no h2
	mu      sync.Mutex
	tunnels []string // the :authority of each CONNECT
	auths   []string // the Proxy-Authorization of each
}

func newH2Proxy(t testing.TB, opts ...func(*h2Proxy)) *h2Proxy {
	t.Helper()
	cert, pool := newCert(t, "localhost", "127.0.0.1")
	p := &h2Proxy{pool: pool}
	for _, opt := range opts {
		opt(p)
	}
	protos := []string{"h2", "http/1.1"}
	if p.h1 {
		protos = []string{"http/1.1"}
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: protos}
	p.addr, _ = serve(t, nil, func(c net.Conn) {
		p.conns.Add(1)
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		if tc.ConnectionState().NegotiatedProtocol != "h2" {
			(&connectProxy{user: p.user, pass: p.pass}).handle(tc)
			return
		}
		new(http2.Server).ServeConn(tc, &http2.ServeConnOpts{Handler: http.HandlerFunc(p.connect)})
	})
	return p
}

func (p *h2Proxy) url() string { return "https://" + p.addr }

func (p *h2Proxy) seen() (tunnels, auths []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tunnels...), append([]string(nil), p.auths...)
}

func (p *h2Proxy) connect(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.tunnels = append(p.tunnels, r.Host)
	p.auths = append(p.auths, r.Header.Get("Proxy-Authorization"))
	p.mu.Unlock()
	if r.Method != http.MethodConnect || r.Header.Get(":protocol") != "" {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if p.user != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass))
		if r.Header.Get("Proxy-Authorization") != want {
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusProxyAuthRequired)
			io.WriteString(w, "denied")
			return
		}
	}
	up, err := p.routes.dial(r.Host)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer up.Close()
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	if rc.Flush() != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		io.Copy(up, r.Body)
		up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(&h2ServerStream{w: w, rc: rc}, up)
	<-done
}

// h2Script is the server end of one HTTP/2 connection that a test drives
// frame by frame: it has read the client's preface and SETTINGS.
type h2Script struct {
	c    net.Conn
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
}

// serveH2Script accepts TLS connections offering h2 on a loopback listener
// and runs script on each, after the client's preface, with the server's
// SETTINGS still to send. It returns the address.
func serveH2Script(t testing.TB, script func(*h2Script)) (addr string, pool *x509.CertPool) {
	t.Helper()
	cert, pool := newCert(t, "localhost", "127.0.0.1")
	cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"h2"}}
	addr, _ = serve(t, nil, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		tc.SetDeadline(time.Now().Add(time.Minute))
		if err := tc.Handshake(); err != nil {
			return
		}
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(tc, preface); err != nil || string(preface) != http2.ClientPreface {
			return
		}
		s := &h2Script{c: tc, fr: http2.NewFramer(tc, tc)}
		s.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		s.enc = hpack.NewEncoder(&s.hbuf)
		script(s)
	})
	return addr, pool
}

// settings sends the server's SETTINGS.
func (s *h2Script) settings(settings ...http2.Setting) error {
	return s.fr.WriteSettings(settings...)
}

// next reads frames until one that is not SETTINGS, WINDOW_UPDATE or PING,
// acknowledging SETTINGS and PING as a server does.
func (s *h2Script) next() (http2.Frame, error) {
	for {
		f, err := s.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				s.fr.WriteSettingsAck()
			}
			continue
		case *http2.PingFrame:
			if !f.IsAck() {
				s.fr.WritePing(true, f.Data)
			}
			continue
		case *http2.WindowUpdateFrame:
			continue
		}
		return f, nil
	}
}

// request reads the next request's header block.
func (s *h2Script) request() (*http2.MetaHeadersFrame, error) {
	f, err := s.next()
	if err != nil {
		return nil, err
	}
	h, ok := f.(*http2.MetaHeadersFrame)
	if !ok {
		return nil, fmt.Errorf("got %v, want HEADERS", f.Header())
	}
	return h, nil
}

// respond sends a header block for stream: ":status", status, then fields
// as name, value pairs.
func (s *h2Script) respond(stream uint32, status string, end bool, fields ...string) error {
	s.hbuf.Reset()
	s.enc.WriteField(hpack.HeaderField{Name: ":status", Value: status})
	for i := 0; i+1 < len(fields); i += 2 {
		s.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: s.hbuf.Bytes(), EndHeaders: true, EndStream: end})
}

// waitFor reads frames until one of stream that matches want, and returns it.
func (s *h2Script) waitFor(stream uint32, want func(http2.Frame) bool) (http2.Frame, error) {
	for {
		f, err := s.next()
		if err != nil {
			return nil, err
		}
		if f.Header().StreamID == stream && want(f) {
			return f, nil
		}
	}
}

func isRST(f http2.Frame) bool { _, ok := f.(*http2.RSTStreamFrame); return ok }
