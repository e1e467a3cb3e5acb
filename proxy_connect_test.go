package wsdial

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const testPassword = "s3cret"

// TestConnectTunnel dials a WebSocket origin through CONNECT proxies, plain
// and TLS, with and without Basic, and checks what each party was sent.
func TestConnectTunnel(t *testing.T) {
	proxyCert, proxyPool := newCert(t, "127.0.0.1")
	for _, tc := range []struct {
		name   string
		tls    bool
		user   string
		secure bool // a wss:// origin
	}{
		{name: "http"},
		{name: "http basic", user: "alice"},
		{name: "https", tls: true},
		{name: "https basic wss", tls: true, user: "alice", secure: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			var origin wsOrigin
			originCert, originPool := newCert(t, "ws.example.invalid")
			scheme, cert := "ws", (*tls.Certificate)(nil)
			if tc.secure {
				scheme, cert = "wss", originCert
			}
			originAddr := origin.start(t, cert)
			_, port, _ := net.SplitHostPort(originAddr)
			target := "ws.example.invalid:" + port

			p := &connectProxy{hosts: hosts{target: originAddr}, user: tc.user, pass: testPassword}
			proxyScheme := "http"
			if tc.tls {
				p.tls = &tls.Config{Certificates: []tls.Certificate{*proxyCert}}
				proxyScheme = "https"
			}
			pu := &url.URL{Scheme: proxyScheme, Host: p.start(t)}
			if tc.user != "" {
				pu.User = url.UserPassword(tc.user, testPassword)
			}
			d := mustNew(t, WithProxy(pu.String()),
				WithProxyHeader(http.Header{"X-Proxy-Token": {"for-the-proxy"}}),
				WithProxyTLSConfig(&tls.Config{RootCAs: proxyPool}),
				WithTLSConfig(&tls.Config{RootCAs: originPool}))
			conn, err := d.DialWebSocket(context.Background(), scheme+"://"+target+"/chat")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			echo(t, conn.NetConn())

			reqs := p.seen()
			if len(reqs) != 1 {
				t.Fatalf("proxy saw %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != "CONNECT" || r.RequestURI != target || r.Host != target {
				t.Errorf("proxy saw %s %s with Host %s, want CONNECT %s", r.Method, r.RequestURI, r.Host, target)
			}
			if got := r.Header.Get("X-Proxy-Token"); got != "for-the-proxy" {
				t.Errorf("proxy header = %q", got)
			}
			if got, has := r.Header.Get("Proxy-Authorization"), tc.user != ""; (got != "") != has {
				t.Errorf("Proxy-Authorization = %q, want one: %v", got, has)
			}
			o := origin.seen()[0]
			for _, h := range []string{"Proxy-Authorization", "X-Proxy-Token"} {
				if v := o.Header.Get(h); v != "" {
					t.Errorf("the origin was sent %s: %q", h, v)
				}
			}
			if tc.secure && o.TLS.ServerName != "ws.example.invalid" {
				t.Errorf("SNI = %q, want the target's host", o.TLS.ServerName)
			}
		})
	}
}

// echo checks that c carries bytes both ways.
func echo(t *testing.T, c net.Conn) {
	t.Helper()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	if _, err := io.ReadFull(c, b[:]); err != nil || string(b[:]) != "ping" {
		t.Fatalf("echo: %q, %v", b, err)
	}
}

// TestProxyTLSKeptApart checks that an https:// proxy is verified with
// WithProxyTLSConfig alone: the target's roots do not make it trusted.
func TestProxyTLSKeptApart(t *testing.T) {
	checkGoroutines(t)
	proxyCert, proxyPool := newCert(t, "127.0.0.1")
	p := &connectProxy{tls: &tls.Config{Certificates: []tls.Certificate{*proxyCert}}}
	d := mustNew(t, WithProxy("https://"+p.start(t)), WithTLSConfig(&tls.Config{RootCAs: proxyPool}))
	_, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:1")
	var pe *ProxyError
	if !errors.As(err, &pe) || pe.Stage != "tls" || errors.Is(err, ErrTLS) {
		t.Fatalf("err = %v, want a proxy TLS failure", err)
	}
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Errorf("err = %v, want a certificate verification failure", err)
	}
}

// TestConnectRequest checks the request line, Host and Proxy-Authorization
// that reach the proxy, for IPv6 targets and credentials without a password.
func TestConnectRequest(t *testing.T) {
	for _, tc := range []struct {
		name, userinfo, target, want string
	}{
		{"name", "", "example.com:443", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"},
		{"ipv6", "", "[2001:db8::1]:8080", "CONNECT [2001:db8::1]:8080 HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n"},
		{"user and password", "alice:" + testPassword + "@", "example.com:80",
			"Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n"},
		{"user alone", "alice@", "example.com:80", "Proxy-Authorization: Basic YWxpY2U6\r\n"},
		{"empty password", "alice:@", "example.com:80", "Proxy-Authorization: Basic YWxpY2U6\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			heads := make(chan string, 1)
			addr := rawProxy(t, func(c net.Conn, head string) {
				heads <- head
				io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n")
			})
			d := mustNew(t, WithProxy("http://"+tc.userinfo+addr))
			c, err := d.DialContext(context.Background(), "tcp", tc.target)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if head := <-heads; !strings.Contains(head, tc.want) {
				t.Errorf("request:\n%s\nwant it to hold:\n%s", head, tc.want)
			}
		})
	}
}

// TestConnectReplies runs the hostile and the merely unusual proxies. A proxy
// that opens the tunnel then acts as the target: it sends its banner, if any,
// in the same write as the reply, then echoes.
func TestConnectReplies(t *testing.T) {
	big := strings.Repeat("x", 3000)
	for _, tc := range []struct {
		name   string
		reply  string
		banner string
		// endless makes the proxy send header lines until it is cut off.
		endless bool

		status  int    // 0: the tunnel opens
		errIs   error  // the error matches it
		errText string // the error holds it
		body    string // the refusal's body as kept
	}{
		{name: "200", reply: "HTTP/1.1 200 Connection established\r\n\r\n"},
		{name: "HTTP/1.0 with extra headers", reply: "HTTP/1.0 200 OK\r\nProxy-agent: test/1\r\nConnection: close\r\n\r\n"},
		{name: "204 without reason", reply: "HTTP/1.1 204\r\n\r\n"},
		{name: "299", reply: "HTTP/1.1 299 Whatever\r\n\r\n"},
		{name: "bare LF", reply: "HTTP/1.1 200 OK\nVia: x\n\n"},
		{name: "banner", reply: "HTTP/1.1 200 OK\r\n\r\n", banner: "SSH-2.0-OpenSSH_9.6\r\n"},
		{name: "banner with HTTP/1.0", reply: "HTTP/1.0 200 OK\r\n\r\n", banner: "220 smtp.example ESMTP\r\n"},

		{name: "407 without reason", reply: "HTTP/1.1 407\r\nProxy-Authenticate: Basic realm=\"corp\"\r\nContent-Length: 5\r\n\r\nnope!",
			status: 407, errIs: ErrProxyAuthRequired, errText: "407 Proxy Authentication Required", body: "nope!"},
		{name: "403 long body", reply: "HTTP/1.1 403 Forbidden\r\nContent-Length: 3000\r\n\r\n" + big,
			status: 403, errText: "403 Forbidden", body: big[:1024]},
		{name: "502 chunked", reply: "HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nno up\r\n0\r\n\r\n",
			status: 502, errText: "502 Bad Gateway", body: "no up"},
		{name: "101", reply: "HTTP/1.1 101 Switching Protocols\r\n\r\n", status: 101, errText: "101"},
		{name: "100 then 200", reply: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Connection established\r\n\r\n"},
		{name: "103 then 200 and a banner", reply: "HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", banner: "SSH-2.0-x\r\n"},
		{name: "100 then 407", reply: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 407\r\nProxy-Authenticate: Basic\r\nContent-Length: 2\r\n\r\nno",
			status: 407, errIs: ErrProxyAuthRequired, body: "no"},
		{name: "100 then 101", reply: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n", status: 101, errText: "101"},
		{name: "endless 100s", reply: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 6) + "HTTP/1.1 200 OK\r\n\r\n", errIs: errTooManyInterim},
		{name: "huge head", reply: "HTTP/1.1 200 OK\r\nX-Pad: " + strings.Repeat("a", 70<<10) + "\r\n\r\n",
			errIs: errHeadTooLarge},
		{name: "endless head", reply: "HTTP/1.1 200 OK\r\n", endless: true, errIs: errHeadTooLarge},
		{name: "closed mid-reply", reply: "HTTP/1.1 200 Conn", errIs: io.ErrUnexpectedEOF},
		{name: "closed at once", reply: "", errIs: io.EOF},
		{name: "not HTTP", reply: "SSH-2.0-OpenSSH\r\n\r\n", errIs: errMalformedStatus},
		{name: "bad header", reply: "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", errIs: errMalformedField},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			addr := rawProxy(t, func(c net.Conn, _ string) {
				if _, err := io.WriteString(c, tc.reply+tc.banner); err != nil {
					return
				}
				switch {
				case tc.endless:
					line := []byte("X-More: " + strings.Repeat("m", 100) + "\r\n")
					for {
						if _, err := c.Write(line); err != nil {
							return
						}
					}
				case tc.status == 0 && tc.errIs == nil && tc.errText == "":
					io.Copy(c, c)
				}
			})
			d := mustNew(t, WithProxy("http://u:"+testPassword+"@"+addr))
			c, err := d.DialContext(context.Background(), "tcp", "target.example:22")
			if tc.status == 0 && tc.errIs == nil && tc.errText == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if tc.banner != "" {
					b := make([]byte, len(tc.banner))
					if _, err := io.ReadFull(c, b); err != nil || string(b) != tc.banner {
						t.Fatalf("banner = %q, %v; want %q", b, err, tc.banner)
					}
				}
				echo(t, c)
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("the tunnel opened")
			}
			var pe *ProxyError
			if !errors.As(err, &pe) || !errors.Is(err, ErrProxy) || pe.Stage != "connect" {
				t.Fatalf("err = %v, want a connect *ProxyError", err)
			}
			if strings.Contains(err.Error(), testPassword) || strings.Contains(pe.Proxy, testPassword) {
				t.Errorf("the error shows the password: %v", err)
			}
			if tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Errorf("err = %v, want it to match %v", err, tc.errIs)
			}
			if !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("err = %v, want it to hold %q", err, tc.errText)
			}
			if pe.StatusCode != tc.status {
				t.Errorf("StatusCode = %d, want %d", pe.StatusCode, tc.status)
			}
			if tc.status == 0 {
				if pe.Response != nil {
					t.Errorf("Response = %v, want none", pe.Response)
				}
				return
			}
			body, _ := io.ReadAll(pe.Response.Body)
			if string(body) != tc.body {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
			if tc.status == 407 && pe.Response.Header.Get("Proxy-Authenticate") == "" {
				t.Error("the 407 lost its Proxy-Authenticate")
			}
		})
	}
}

// negotiateProxy demands a three-leg, connection-bound exchange in the shape
// of NTLM and Negotiate: a 407 offering Negotiate, a first token, a 407 with
// a challenge made for this connection, a second token that answers it, and
// only then 200. A token that arrives on another connection is refused.
type negotiateProxy struct {
	body  func(conn int, w io.Writer, text string) // writes framing headers, the blank line and the body
	close bool                                     // send Connection: close with each 407

	mu    sync.Mutex
	conns int
	reqs  int
}

func (p *negotiateProxy) counts() (conns, reqs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns, p.reqs
}

func (p *negotiateProxy) handle(c net.Conn, br *bufio.Reader) {
	p.mu.Lock()
	p.conns++
	id := p.conns
	p.mu.Unlock()
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.reqs++
		p.mu.Unlock()
		closing := ""
		if p.close {
			closing = "Connection: close\r\n"
		}
		challenge := fmt.Sprintf("conn-%d", id)
		switch auth := req.Header.Get("Proxy-Authorization"); auth {
		case "":
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\n"+closing)
			p.body(id, c, "who are you?")
		case "Negotiate token1":
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate "+challenge+"\r\n"+closing)
			p.body(id, c, "prove it")
		case "Negotiate token2-" + challenge:
			io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
			io.Copy(c, br)
			return
		default:
			io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			return
		}
		if p.close {
			return
		}
	}
}

// negotiator is the client side of negotiateProxy's exchange.
type negotiator struct {
	mu         sync.Mutex
	challenges []*http.Response
	giveUp     error
}

func (n *negotiator) Start(context.Context, *url.URL) (ProxyAuthSession, error) {
	return &negotiateSession{n: n}, nil
}

type negotiateSession struct{ n *negotiator }

func (s *negotiateSession) Next(_ context.Context, challenge *http.Response) (string, error) {
	if challenge == nil {
		return "", nil
	}
	s.n.mu.Lock()
	s.n.challenges = append(s.n.challenges, challenge)
	s.n.mu.Unlock()
	if s.n.giveUp != nil {
		return "", s.n.giveUp
	}
	switch v := challenge.Header.Get("Proxy-Authenticate"); {
	case v == "Negotiate" || challenge.Close:
		// A new connection: the exchange starts over.
		return "Negotiate token1", nil
	case strings.HasPrefix(v, "Negotiate "):
		return "Negotiate token2-" + strings.TrimPrefix(v, "Negotiate "), nil
	}
	return "", nil
}

// TestProxyAuthConnectionBound proves the authenticator's rounds run on one
// connection while the proxy keeps it, whatever the 407 body's framing.
func TestProxyAuthConnectionBound(t *testing.T) {
	long := strings.Repeat("y", 5000)
	for _, tc := range []struct {
		name string
		body func(conn int, w io.Writer, text string)
	}{
		{"content-length", func(_ int, w io.Writer, text string) {
			fmt.Fprintf(w, "Content-Length: %d\r\n\r\n%s", len(text), text)
		}},
		{"long content-length", func(_ int, w io.Writer, text string) {
			fmt.Fprintf(w, "Content-Length: %d\r\n\r\n%s", len(long), long)
		}},
		{"empty", func(_ int, w io.Writer, _ string) { io.WriteString(w, "Content-Length: 0\r\n\r\n") }},
		{"chunked with trailer", func(_ int, w io.Writer, text string) {
			fmt.Fprintf(w, "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n%x\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n",
				len(text), text, len(long), long)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			p := &negotiateProxy{body: tc.body}
			addr, _ := serve(t, nil, func(c net.Conn) { p.handle(c, bufio.NewReader(c)) })
			auth := &negotiator{}
			d := mustNew(t, WithProxy("http://"+addr), WithProxyAuthenticator(auth))
			c, err := d.DialContext(context.Background(), "tcp", "target.example:443")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			echo(t, c)
			if conns, reqs := p.counts(); conns != 1 || reqs != 3 {
				t.Errorf("proxy saw %d connections and %d requests, want 1 and 3", conns, reqs)
			}
			if len(auth.challenges) != 2 {
				t.Fatalf("authenticator saw %d challenges, want 2", len(auth.challenges))
			}
			for _, ch := range auth.challenges {
				body, _ := io.ReadAll(ch.Body)
				if ch.StatusCode != 407 || ch.Close || len(body) == 0 && tc.name != "empty" || len(body) > 1024 {
					t.Errorf("challenge %d, Close %v, body of %d bytes", ch.StatusCode, ch.Close, len(body))
				}
			}
		})
	}
}

// TestProxyAuthRounds covers the other ways an exchange ends: a proxy that
// closes after each 407, an authenticator that gives up, one that fails, and
// a proxy that never stops challenging.
func TestProxyAuthRounds(t *testing.T) {
	giveUp := errors.New("no ticket")
	for _, tc := range []struct {
		name     string
		close    bool
		giveUp   error
		forever  bool
		wantReqs int
		wantErr  error
	}{
		// The session sees Close and starts over on each new connection,
		// which a connection-bound proxy never lets finish.
		{name: "proxy closes each time", close: true, wantReqs: maxAuthRounds, wantErr: ErrProxyAuthRequired},
		{name: "authenticator fails", giveUp: giveUp, wantReqs: 1, wantErr: giveUp},
		{name: "challenged forever", forever: true, wantReqs: maxAuthRounds, wantErr: ErrProxyAuthRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			p := &negotiateProxy{close: tc.close, body: func(_ int, w io.Writer, text string) {
				fmt.Fprintf(w, "Content-Length: %d\r\n\r\n%s", len(text), text)
			}}
			var addr string
			if tc.forever {
				addr, _ = serve(t, nil, func(c net.Conn) {
					br := bufio.NewReader(c)
					for {
						if _, err := http.ReadRequest(br); err != nil {
							return
						}
						p.mu.Lock()
						p.reqs++
						p.mu.Unlock()
						io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n")
					}
				})
			} else {
				addr, _ = serve(t, nil, func(c net.Conn) { p.handle(c, bufio.NewReader(c)) })
			}
			d := mustNew(t, WithProxy("http://u:"+testPassword+"@"+addr), WithProxyAuthenticator(&negotiator{giveUp: tc.giveUp}))
			c, err := d.DialContext(context.Background(), "tcp", "target.example:443")
			if err == nil {
				c.Close()
				t.Fatal("the tunnel opened")
			}
			var pe *ProxyError
			if !errors.As(err, &pe) || pe.StatusCode != 407 || !errors.Is(err, ErrProxyAuthRequired) || !errors.Is(err, tc.wantErr) {
				t.Errorf("err = %v, want a 407 *ProxyError matching %v", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("the error shows the password: %v", err)
			}
			if _, reqs := p.counts(); reqs != tc.wantReqs {
				t.Errorf("proxy saw %d requests, want %d", reqs, tc.wantReqs)
			}
		})
	}
}

// TestBasicAuth checks the built-in Basic: right credentials pass, wrong ones
// end in a 407 that names neither.
func TestBasicAuth(t *testing.T) {
	checkGoroutines(t)
	var origin wsOrigin
	originAddr := origin.start(t, nil)
	p := &connectProxy{user: "alice", pass: testPassword}
	addr := p.start(t)
	for _, tc := range []struct {
		userinfo string
		ok       bool
	}{
		{"alice:" + testPassword, true},
		{"alice:wrong-" + testPassword, false},
		{"", false},
	} {
		u := "http://" + addr
		if tc.userinfo != "" {
			u = "http://" + tc.userinfo + "@" + addr
		}
		c, err := mustNew(t, WithProxy(u)).DialContext(context.Background(), "tcp", originAddr)
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.userinfo, err)
				continue
			}
			c.Close()
			continue
		}
		if !errors.Is(err, ErrProxyAuthRequired) {
			t.Errorf("%s: err = %v, want ErrProxyAuthRequired", tc.userinfo, err)
		}
		if err != nil && strings.Contains(err.Error(), testPassword) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// replyConn is a net.Conn that reads a canned reply and swallows writes.
type replyConn struct {
	net.Conn
	r *bytes.Reader
}

func (c *replyConn) Read(b []byte) (int, error)  { return c.r.Read(b) }
func (c *replyConn) Write(b []byte) (int, error) { return len(b), nil }

// The reply is all in memory: no read waits, so a deadline changes nothing.
func (c *replyConn) SetDeadline(time.Time) error     { return nil }
func (c *replyConn) SetReadDeadline(time.Time) error { return nil }

// FuzzConnectReply feeds exchangeConnect arbitrary replies. It must never
// panic, keep more than 1 KiB of body, or lose a byte that follows a 2xx;
// and it may keep the connection for another request only after a 407 that
// net/http, reading the same bytes, finds framed, complete, not closing and
// ending exactly where the client stopped reading: a body cut short, a
// reply that closes or one with bytes behind it never passes.
func FuzzConnectReply(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\nbanner"))
	f.Add([]byte("HTTP/1.1 407\r\nContent-Length: 100\r\n\r\nshort"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 407\r\nContent-Length: 2\r\n\r\nno"))
	f.Fuzz(func(t *testing.T, reply []byte) {
		c := &replyConn{r: bytes.NewReader(reply)}
		buf := make([]byte, 2048)
		w := watchContext(context.Background(), c)
		tunnel, resp, keep, err := exchangeConnect(c, dialTrace{}, connectRequest{address: "example.com:443", reuse: true, reply: true}, buf, &w)
		switch {
		case tunnel != nil:
			if resp == nil || resp.StatusCode/100 != 2 || err != nil || keep {
				t.Fatalf("a tunnel with the reply %v, the error %v and keep %v, want its 2xx reply, no error, no keep", resp, err, keep)
			}
			head, ahead := splitFinalHead(reply)
			rest, _ := io.ReadAll(tunnel)
			if !bytes.Equal(rest, ahead) {
				t.Fatalf("after a head of %d bytes the tunnel yields %q, want %q", len(head), rest, ahead)
			}
		case resp != nil:
			if resp.StatusCode/100 == 2 || resp.StatusCode/100 == 1 && resp.StatusCode != 101 || err != nil {
				t.Fatalf("refusal with status %d and error %v", resp.StatusCode, err)
			}
			if body, _ := io.ReadAll(resp.Body); len(body) > maxErrorBody {
				t.Fatalf("kept %d bytes of body", len(body))
			}
			if !keep {
				return
			}
			read := len(reply) - c.r.Len()
			if resp.StatusCode != 407 || resp.Close {
				t.Fatalf("kept the connection after %d, Close %v", resp.StatusCode, resp.Close)
			}
			n, framed := netHTTPEnd(reply, http.MethodConnect)
			if closes := netHTTPCloses(reply); !framed || n != read || closes {
				t.Fatalf("kept the connection after %d bytes; net/http finds a framed end: %v, after %d, closing: %v", read, framed, n, closes)
			}
		case keep:
			t.Fatal("kept the connection without a response")
		case err == nil:
			t.Fatal("neither tunnel, response nor error")
		}
	})
}

// netHTTPCloses reports whether net/http reads the final response of reply
// as one after which the connection closes.
func netHTTPCloses(reply []byte) bool {
	br := bufio.NewReader(bytes.NewReader(reply))
	for {
		r, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			return true
		}
		if r.StatusCode/100 != 1 || r.StatusCode == http.StatusSwitchingProtocols {
			return r.Close
		}
	}
}

// splitFinalHead splits a reply after the head of its final response, past
// any interim ones.
func splitFinalHead(b []byte) (head, rest []byte) {
	n := 0
	for {
		end := headEnd(b[n:], 0)
		if end == 0 {
			return b[:n], b[n:]
		}
		status := string(b[n+9 : min(n+12, len(b))])
		n += end
		if status[0] != '1' || status == "101" {
			return b[:n], b[n:]
		}
	}
}

// TestConnectRefusesSmuggling checks that a target address that could break
// the request line or add a header never reaches the proxy.
func TestConnectRefusesSmuggling(t *testing.T) {
	heads := make(chan string, 4)
	addr := rawProxy(t, func(c net.Conn, head string) { heads <- head })
	d := mustNew(t, WithProxy("http://"+addr))
	for _, target := range []string{
		"evil.example\r\nX-Injected: 1\r\n:80",
		"evil.example:80 HTTP/1.1\r\n",
		"evil example:80",
		"evil.example/x:80",
		":80",
	} {
		_, err := d.DialContext(context.Background(), "tcp", target)
		checkClass(t, err, ErrInvalid)
	}
	select {
	case head := <-heads:
		t.Errorf("the proxy was sent:\n%s", head)
	default:
	}
}

// waitingAuth blocks in Start until its context ends, as an authenticator
// that calls out to a slow ticket service would.
type waitingAuth struct{}

func (waitingAuth) Start(ctx context.Context, _ *url.URL) (ProxyAuthSession, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestAuthenticatorContextEnds checks that the authenticator is given a
// context that the handshake timeout ends, even when the caller's cannot be
// cancelled.
func TestAuthenticatorContextEnds(t *testing.T) {
	proxy := serveRaw(t, "tcp", stall)
	d := mustNew(t, WithProxy("http://"+proxy), WithProxyAuthenticator(waitingAuth{}), WithHandshakeTimeout(100*time.Millisecond))
	start := time.Now()
	_, err := d.DialWebSocket(context.Background(), "ws://127.0.0.1:1/")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrProxy) {
		t.Errorf("error %v, want ErrProxy and context.DeadlineExceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the dial took %v", time.Since(start))
	}
}

// TestBasicUserColon checks RFC 7617 §2: a Basic user-id ends at its first
// colon, so a user name that holds one ("al:ice", written al%3Aice in the
// URL) would reach the proxy as another user with another password. It is
// refused before any traffic, and the error shows no password.
func TestBasicUserColon(t *testing.T) {
	const userinfo = "al%3Aice:" + testPassword
	for _, scheme := range []string{"http", "https"} {
		_, err := New(WithProxy(scheme + "://" + userinfo + "@127.0.0.1:1"))
		checkClass(t, err, ErrInvalid)
		if err != nil && strings.Contains(err.Error(), testPassword) {
			t.Errorf("the error shows the password: %v", err)
		}
	}

	heads := make(chan string, 1)
	addr := rawProxy(t, func(c net.Conn, head string) { heads <- head })
	d := mustNew(t, WithProxyFunc(func(*url.URL) (*url.URL, error) {
		return url.Parse("http://" + userinfo + "@" + addr)
	}))
	_, err := d.DialContext(context.Background(), "tcp", "target.example:443")
	if err == nil || strings.Contains(err.Error(), testPassword) {
		t.Errorf("err = %v, want a refusal without the password", err)
	}
	select {
	case head := <-heads:
		t.Errorf("the proxy was sent:\n%s", head)
	default:
	}
}

// TestProxyAuthProxyCloses plays a proxy whose first connection ends its
// part of a connection-bound exchange in each way a real one may, and checks
// that the dial goes on over a new connection, telling the authenticator
// with challenge.Close that the exchange starts over there (RFC 9112 §9.6,
// §8: a body cut short is no complete one; a 407 with Connection: close or
// Proxy-Connection: close ends the connection; a kept connection may still
// die before any byte of the next reply, as curl allows for).
func TestProxyAuthProxyCloses(t *testing.T) {
	const challenge = "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\n"
	for _, tc := range []struct {
		name string
		// first plays the proxy's first connection, from its first request on.
		first func(c net.Conn, br *bufio.Reader)
		// firstClose is challenge.Close on the first 407.
		firstClose bool
		// wantClosed is how many challenges say Close.
		wantClosed int
		// firstBody, if set, is the body of the first challenge, which the
		// second repeats.
		firstBody string
	}{
		{"body cut short", func(c net.Conn, _ *bufio.Reader) {
			io.WriteString(c, challenge+"Content-Length: 100\r\n\r\nshort")
		}, true, 1, ""},
		{"body cut short, connection held", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, challenge+"Content-Length: 100\r\n\r\nshort")
			io.Copy(io.Discard, br) // the rest of the body never comes
		}, true, 1, ""},
		{"chunked body cut short", func(c net.Conn, _ *bufio.Reader) {
			io.WriteString(c, challenge+"Transfer-Encoding: chunked\r\n\r\n40\r\nshort")
		}, true, 1, ""},
		{"Proxy-Connection: close", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, challenge+"Proxy-Connection: close\r\nContent-Length: 5\r\n\r\nnope!")
			io.Copy(io.Discard, br) // holds the connection, answering nothing more
		}, true, 1, ""},
		{"Connection: close", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, challenge+"Connection: close\r\nContent-Length: 5\r\n\r\nnope!")
			io.Copy(io.Discard, br)
		}, true, 1, ""},
		{"kept connection closes before the next reply", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, challenge+"Content-Length: 4\r\n\r\nwho?")
			http.ReadRequest(br) // the second request, which is never answered
		}, false, 1, "who?"},
		{"kept connection reset before the next reply", func(c net.Conn, br *bufio.Reader) {
			io.WriteString(c, challenge+"Content-Length: 4\r\n\r\nwho?")
			http.ReadRequest(br)
			reset(c)
		}, false, 1, "who?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			p := &negotiateProxy{body: func(_ int, w io.Writer, text string) {
				fmt.Fprintf(w, "Content-Length: %d\r\n\r\n%s", len(text), text)
			}}
			var mu sync.Mutex
			conns := 0
			addr, _ := serve(t, nil, func(c net.Conn) {
				mu.Lock()
				conns++
				n := conns
				mu.Unlock()
				br := bufio.NewReader(c)
				if n > 1 {
					p.handle(c, br)
					return
				}
				if _, err := http.ReadRequest(br); err == nil {
					tc.first(c, br)
				}
			})
			auth := &negotiator{}
			d := mustNew(t, WithProxy("http://"+addr), WithProxyAuthenticator(auth), WithHandshakeTimeout(5*time.Second))
			c, err := d.DialContext(context.Background(), "tcp", "target.example:443")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			echo(t, c)
			mu.Lock()
			if conns != 2 {
				t.Errorf("proxy saw %d connections, want 2", conns)
			}
			mu.Unlock()
			if len(auth.challenges) == 0 || auth.challenges[0].Close != tc.firstClose {
				t.Fatalf("first challenge of %d: Close = %v, want %v", len(auth.challenges), auth.challenges[0].Close, tc.firstClose)
			}
			closed := 0
			for _, ch := range auth.challenges {
				if ch.Close {
					closed++
				}
			}
			// A challenge that a new connection repeats reads in full both times.
			if tc.firstBody != "" {
				for _, ch := range auth.challenges[:2] {
					if body, _ := io.ReadAll(ch.Body); string(body) != tc.firstBody {
						t.Errorf("challenge (Close %v) reads %q, want %q", ch.Close, body, tc.firstBody)
					}
				}
			}
			if closed != tc.wantClosed {
				t.Errorf("%d of %d challenges say Close, want %d", closed, len(auth.challenges), tc.wantClosed)
			}
		})
	}
}

// TestRefusalBodyHeld plays a proxy and a WebSocket server that refuse with
// a head promising more body than they send, then hold the connection: the
// dial ends with the refusal, its status and what came of its body, long
// before its bound, rather than wait for the bound and, for the proxy, report
// a timeout in place of the 403.
func TestRefusalBodyHeld(t *testing.T) {
	checkGoroutines(t)
	const refusal = "HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\nshort"
	addr, _ := serve(t, nil, afterRequest(func(c net.Conn) { io.WriteString(c, refusal); stall(c) }))
	for _, tc := range []struct {
		name string
		dial func(context.Context) error
	}{
		{"proxy", func(ctx context.Context) error {
			_, err := mustNew(t, WithProxy("http://"+addr), WithHandshakeTimeout(0)).DialContext(ctx, "tcp", "target.example:443")
			return err
		}},
		{"target", func(ctx context.Context) error {
			return dialOnce(ctx, "ws://"+addr+"/", WithoutProxy(), WithHandshakeTimeout(0))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The context is the dial's only bound.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := tc.dial(ctx)
			if ctxErr(ctx) != nil {
				t.Fatalf("the dial ran to its bound: %v", err)
			}
			var resp *http.Response
			var pe *ProxyError
			var he *HandshakeError
			switch {
			case errors.As(err, &pe):
				resp = pe.Response
			case errors.As(err, &he):
				resp = he.Response
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want the 403 refusal", err)
			}
			if body, _ := io.ReadAll(resp.Body); string(body) != "short" {
				t.Errorf("the refusal's body reads %q, want %q", body, "short")
			}
		})
	}
}

// TestProxyAuthReplyCutShort checks the other side of the retry: a kept
// connection that dies after some of the next reply has come is a failure,
// not a reason to start over.
func TestProxyAuthReplyCutShort(t *testing.T) {
	checkGoroutines(t)
	var mu sync.Mutex
	conns := 0
	addr, _ := serve(t, nil, func(c net.Conn) {
		mu.Lock()
		conns++
		mu.Unlock()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n")
		if _, err := http.ReadRequest(br); err == nil {
			io.WriteString(c, "HTTP/1.1 40")
		}
	})
	d := mustNew(t, WithProxy("http://"+addr), WithProxyAuthenticator(&negotiator{}))
	_, err := d.DialContext(context.Background(), "tcp", "target.example:443")
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	checkClass(t, err, ErrProxy)
	mu.Lock()
	defer mu.Unlock()
	if conns != 1 {
		t.Errorf("proxy saw %d connections, want 1", conns)
	}
}

// TestProxyTLSOffersHTTP11 gives an https:// proxy that prefers h2, as one
// behind an HTTP/2-capable TLS frontend does, and a WithProxyTLSConfig
// copied from an HTTP/2 transport: the proxy must be offered http/1.1
// alone, which the CONNECT that follows speaks, and the caller's
// configuration must stay as it was.
func TestProxyTLSOffersHTTP11(t *testing.T) {
	checkGoroutines(t)
	var origin wsOrigin
	originAddr := origin.start(t, nil)
	cert, pool := newCert(t, "127.0.0.1")
	p := &connectProxy{tls: &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"h2", "http/1.1"}}}
	cfg := &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}}
	d := mustNew(t, WithProxy("https://"+p.start(t)), WithProxyTLSConfig(cfg))
	c, err := d.DialContext(context.Background(), "tcp", originAddr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	p.mu.Lock()
	alpn := p.alpn
	p.mu.Unlock()
	if len(alpn) != 1 || alpn[0] != "http/1.1" {
		t.Errorf("the proxy agreed on %q, want http/1.1", alpn)
	}
	if len(cfg.NextProtos) != 2 || cfg.ServerName != "" {
		t.Errorf("the caller's configuration changed: %+v", cfg)
	}
}
