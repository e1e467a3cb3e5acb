package wsdial

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAcceptKeyRFCVector(t *testing.T) {
	// RFC 6455 §1.3.
	var got [28]byte
	acceptKey(&got, []byte("dGhlIHNhbXBsZSBub25jZQ=="))
	if want := "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; string(got[:]) != want {
		t.Fatalf("acceptKey = %s, want %s", got, want)
	}
}

// TestHandshakeResponses gives one canned response per rule of RFC 6455
// §4.1, and one per leniency that real servers need.
func TestHandshakeResponses(t *testing.T) {
	const ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
	tests := []struct {
		name     string
		opts     []Option
		response string // {accept} becomes the right Sec-WebSocket-Accept
		wantErr  error  // nil with fails set: any ErrHandshake will do
		fails    bool
		status   int
		check    func(t *testing.T, c *Conn, err error)
	}{
		{name: "valid", response: ok + "\r\n"},
		{name: "no reason phrase", response: strings.Replace(ok, "101 Switching Protocols", "101", 1) + "\r\n"},
		{name: "no reason phrase, trailing space", response: strings.Replace(ok, "101 Switching Protocols", "101 ", 1) + "\r\n"},
		{name: "connection list", response: strings.Replace(ok, "Connection: Upgrade", "Connection: keep-alive, Upgrade", 1) + "\r\n"},
		{name: "connection lower case", response: strings.Replace(ok, "Connection: Upgrade", "connection: upgrade", 1) + "\r\n"},
		{name: "upgrade mixed case", response: strings.Replace(ok, "Upgrade: websocket", "Upgrade: WebSocket", 1) + "\r\n"},
		{name: "accept with spaces", response: strings.Replace(ok, ": {accept}", ":   {accept}  ", 1) + "\r\n"},
		{name: "bare LF line ends", response: strings.ReplaceAll(ok, "\r\n", "\n") + "\n"},
		{name: "100 Continue first", response: "HTTP/1.1 100 Continue\r\n\r\n" + ok + "\r\n", check: wantStatus(101)},
		{name: "102 and 103 first", response: "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" + ok + "\r\n", check: wantStatus(101)},
		{name: "five interim responses", response: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 5) + ok + "\r\n", check: wantStatus(101)},
		{name: "six interim responses", response: strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 6) + ok + "\r\n", wantErr: errTooManyInterim},
		{name: "interim then refusal", response: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno",
			wantErr: ErrUpgradeDeclined, status: 403, check: wantBody("no")},
		{name: "malformed interim response", response: "HTTP/1.1 100 Continue\r\nbroken\r\n\r\n" + ok + "\r\n", fails: true},
		{
			name: "subprotocol chosen", opts: []Option{WithSubprotocols("chat", "superchat")},
			response: ok + "Sec-WebSocket-Protocol: superchat\r\n\r\n",
			check: func(t *testing.T, c *Conn, err error) {
				if c.Subprotocol() != "superchat" {
					t.Errorf("Subprotocol() = %q, want superchat", c.Subprotocol())
				}
			},
		},
		{
			name: "response headers intact", response: ok + "X-Server: one\r\nX-Server: two\r\n\r\n",
			check: func(t *testing.T, c *Conn, err error) {
				r := c.Response()
				if r.StatusCode != 101 || r.Status != "101 Switching Protocols" || r.ProtoMinor != 1 {
					t.Errorf("Response status %q %d %s", r.Status, r.StatusCode, r.Proto)
				}
				if got := r.Header.Values("X-Server"); len(got) != 2 || got[1] != "two" {
					t.Errorf("X-Server = %q", got)
				}
				if b, _ := io.ReadAll(r.Body); len(b) != 0 {
					t.Errorf("body %q, want empty", b)
				}
			},
		},
		{
			name: "forbidden with body", response: "HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nno way",
			wantErr: ErrUpgradeDeclined, status: 403,
			check: func(t *testing.T, c *Conn, err error) {
				var he *HandshakeError
				errors.As(err, &he)
				if b, _ := io.ReadAll(he.Response.Body); string(b) != "no way" {
					t.Errorf("body %q, want %q", b, "no way")
				}
			},
		},
		{
			name: "body cut at 1 KiB", response: "HTTP/1.1 500 Oops\r\nContent-Length: 5000\r\n\r\n" + strings.Repeat("x", 5000),
			wantErr: ErrUpgradeDeclined, status: 500,
			check: func(t *testing.T, c *Conn, err error) {
				var he *HandshakeError
				errors.As(err, &he)
				if b, _ := io.ReadAll(he.Response.Body); len(b) != 1024 {
					t.Errorf("body of %d bytes, want 1024", len(b))
				}
			},
		},
		{
			name: "chunked refusal", response: "HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			wantErr: ErrUpgradeDeclined, status: 400,
			check: wantBody("abc"),
		},
		{name: "redirect", response: "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n", wantErr: ErrUpgradeDeclined, status: 302, check: wantHeader("Location", "/elsewhere")},
		{name: "unauthorized", response: "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\n\r\n", wantErr: ErrUpgradeDeclined, status: 401, check: wantHeader("Www-Authenticate", "Bearer")},
		{name: "upgrade required", response: "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13, 8\r\nContent-Length: 0\r\n\r\n", wantErr: ErrUpgradeDeclined, status: 426, check: wantHeader("Sec-Websocket-Version", "13, 8")},
		{name: "retry later", response: "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n", wantErr: ErrUpgradeDeclined, status: 503, check: wantHeader("Retry-After", "120")},
		{name: "refusal without reason", response: "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", wantErr: ErrUpgradeDeclined, status: 404},
		{name: "HTTP/1.0", response: strings.Replace(ok, "HTTP/1.1", "HTTP/1.0", 1) + "\r\n", wantErr: ErrBadHTTPVersion, status: 101},
		{name: "HTTP/2.0", response: strings.Replace(ok, "HTTP/1.1", "HTTP/2.0", 1) + "\r\n", wantErr: ErrBadHTTPVersion, status: 101},
		{name: "no Connection", response: strings.Replace(ok, "Connection: Upgrade\r\n", "", 1) + "\r\n", wantErr: ErrNoConnectionUpgrade, status: 101},
		{name: "Connection keep-alive", response: strings.Replace(ok, "Connection: Upgrade", "Connection: keep-alive", 1) + "\r\n", wantErr: ErrNoConnectionUpgrade, status: 101},
		{name: "Connection upgraded", response: strings.Replace(ok, "Connection: Upgrade", "Connection: upgraded", 1) + "\r\n", wantErr: ErrNoConnectionUpgrade, status: 101},
		{name: "no Upgrade", response: strings.Replace(ok, "Upgrade: websocket\r\n", "", 1) + "\r\n", wantErr: ErrNoUpgradeWebSocket, status: 101},
		{name: "Upgrade h2c", response: strings.Replace(ok, "Upgrade: websocket", "Upgrade: h2c", 1) + "\r\n", wantErr: ErrNoUpgradeWebSocket, status: 101},
		{name: "no Accept", response: strings.Replace(ok, "Sec-WebSocket-Accept: {accept}\r\n", "", 1) + "\r\n", wantErr: ErrBadAccept, status: 101},
		{name: "wrong Accept", response: strings.Replace(ok, "{accept}", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 1) + "\r\n", wantErr: ErrBadAccept, status: 101},
		{name: "repeated Accept", response: ok + "Sec-WebSocket-Accept: {accept}\r\n\r\n", wantErr: ErrBadAccept, status: 101},
		{name: "subprotocol not offered", response: ok + "Sec-WebSocket-Protocol: chat\r\n\r\n", wantErr: ErrBadSubprotocol, status: 101},
		{name: "other subprotocol", opts: []Option{WithSubprotocols("chat")}, response: ok + "Sec-WebSocket-Protocol: mqtt\r\n\r\n", wantErr: ErrBadSubprotocol, status: 101},
		{name: "subprotocol twice", opts: []Option{WithSubprotocols("chat")}, response: ok + "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n\r\n", wantErr: ErrBadSubprotocol, status: 101},
		{name: "extension not offered", response: ok + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", wantErr: ErrBadExtension, status: 101},
		{name: "malformed status", response: "HTTP/1.1 1O1 Switching\r\n\r\n", wantErr: errMalformedStatus},
		{name: "not HTTP", response: "SSH-2.0-OpenSSH_9.2\r\n\r\n", wantErr: errMalformedStatus},
		{name: "space before colon", response: ok + "X-Bad : smuggled\r\n\r\n", fails: true},
		{name: "folded header", response: ok + "X-Long: a\r\n  b\r\n\r\n", fails: true},
		{name: "NUL in value", response: ok + "X-Bad: a\x00b\r\n\r\n", fails: true},
		{name: "head too large", response: ok + strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 70) + "\r\n", wantErr: errHeadTooLarge},
		{name: "too many fields", response: ok + strings.Repeat("X: y\r\n", 300) + "\r\n", wantErr: errTooManyFields},
		{name: "closed mid-head", response: "HTTP/1.1 101 Switching Protocols\r\nUpgr", wantErr: io.ErrUnexpectedEOF},
		{name: "closed at once", response: "", wantErr: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveRaw(t, "tcp", func(c net.Conn) {
				req, _, err := readUpgrade(c)
				if err != nil {
					return
				}
				c.Write([]byte(strings.ReplaceAll(tt.response, "{accept}", acceptFor(req.Header.Get("Sec-WebSocket-Key")))))
			})
			c, err := mustNew(t, append([]Option{WithoutProxy()}, tt.opts...)...).DialWebSocket(context.Background(), "ws://"+addr+"/")
			if tt.wantErr == nil && !tt.fails {
				if err != nil {
					t.Fatalf("DialWebSocket: %v", err)
				}
				defer c.Close()
				if tt.check != nil {
					tt.check(t, c, nil)
				}
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("DialWebSocket succeeded, want an error")
			}
			if !errors.Is(err, ErrHandshake) {
				t.Errorf("error %v is not ErrHandshake", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			var he *HandshakeError
			if !errors.As(err, &he) {
				t.Fatalf("error %T is not a *HandshakeError", err)
			}
			if he.StatusCode != tt.status {
				t.Errorf("StatusCode = %d, want %d", he.StatusCode, tt.status)
			}
			if tt.status != 0 && (he.Response == nil || he.Response.StatusCode != tt.status) {
				t.Errorf("Response = %v, want one with status %d", he.Response, tt.status)
			}
			if tt.check != nil {
				tt.check(t, nil, err)
			}
		})
	}
}

func wantStatus(status int) func(*testing.T, *Conn, error) {
	return func(t *testing.T, c *Conn, _ error) {
		if c.Response().StatusCode != status {
			t.Errorf("status %d, want %d", c.Response().StatusCode, status)
		}
	}
}

func wantHeader(name, value string) func(*testing.T, *Conn, error) {
	return func(t *testing.T, _ *Conn, err error) {
		var he *HandshakeError
		errors.As(err, &he)
		if got := he.Response.Header.Get(name); got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
}

func wantBody(body string) func(*testing.T, *Conn, error) {
	return func(t *testing.T, _ *Conn, err error) {
		var he *HandshakeError
		errors.As(err, &he)
		if b, _ := io.ReadAll(he.Response.Body); string(b) != body {
			t.Errorf("body %q, want %q", b, body)
		}
	}
}

// TestHandshakeRequest checks every line the client sends.
func TestHandshakeRequest(t *testing.T) {
	got := make(chan *http.Request, 1)
	addr := serveRaw(t, "tcp", func(c net.Conn) {
		req, _, err := readUpgrade(c)
		if err != nil {
			return
		}
		got <- req
		c.Write([]byte(upgradeResponse(req, "")))
	})
	h := http.Header{"X-Token": {"a", "b"}}
	d := mustNew(t, WithoutProxy(), WithHeader(h), WithOrigin("https://app.example"), WithSubprotocols("v2.chat", "v1.chat"))
	h.Set("X-Token", "mutated after New") // the Dialer must hold its own copy
	c, err := d.DialWebSocket(context.Background(), "ws://"+addr+"/chat?room=1&x=%20")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := <-got
	checks := []struct{ name, got, want string }{
		{"method", req.Method, "GET"},
		{"request-target", req.RequestURI, "/chat?room=1&x=%20"},
		{"proto", req.Proto, "HTTP/1.1"},
		{"Host", req.Host, addr},
		{"Upgrade", req.Header.Get("Upgrade"), "websocket"},
		{"Connection", req.Header.Get("Connection"), "Upgrade"},
		{"Sec-WebSocket-Version", req.Header.Get("Sec-WebSocket-Version"), "13"},
		{"Origin", req.Header.Get("Origin"), "https://app.example"},
		{"Sec-WebSocket-Protocol", req.Header.Get("Sec-WebSocket-Protocol"), "v2.chat, v1.chat"},
		{"X-Token", strings.Join(req.Header.Values("X-Token"), ","), "a,b"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if raw, err := base64Decode(req.Header.Get("Sec-WebSocket-Key")); err != nil || len(raw) != 16 {
		t.Errorf("Sec-WebSocket-Key %q is not 16 bytes in base64", req.Header.Get("Sec-WebSocket-Key"))
	}
}

func TestHandshakeKeysDiffer(t *testing.T) {
	keys := make(chan string, 2)
	addr := serveRaw(t, "tcp", func(c net.Conn) {
		req, _, err := readUpgrade(c)
		if err != nil {
			return
		}
		keys <- req.Header.Get("Sec-WebSocket-Key")
		c.Write([]byte(upgradeResponse(req, "")))
	})
	d := mustNew(t, WithoutProxy())
	for range 2 {
		c, err := d.DialWebSocket(context.Background(), "ws://"+addr+"/")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if a, b := <-keys, <-keys; a == b {
		t.Errorf("two handshakes sent the same key %q", a)
	}
}

func TestHostOverride(t *testing.T) {
	got := make(chan string, 1)
	addr := serveRaw(t, "tcp", func(c net.Conn) {
		req, _, err := readUpgrade(c)
		if err != nil {
			return
		}
		got <- req.Host
		c.Write([]byte(upgradeResponse(req, "")))
	})
	c, err := mustNew(t, WithoutProxy(), WithHeader(http.Header{"Host": {"virtual.example"}})).DialWebSocket(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if h := <-got; h != "virtual.example" {
		t.Errorf("Host = %q, want virtual.example", h)
	}
}

// TestRefusedBeforeTraffic checks that bad options and inputs fail before
// a byte reaches the server.
func TestRefusedBeforeTraffic(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		url  string
	}{
		{"owned header Upgrade", []Option{WithHeader(http.Header{"Upgrade": {"h2c"}})}, ""},
		{"owned header key", []Option{WithHeader(http.Header{"sec-websocket-key": {"x"}})}, ""},
		{"owned header version", []Option{WithHeader(http.Header{"Sec-WebSocket-Version": {"8"}})}, ""},
		{"owned header extensions", []Option{WithHeader(http.Header{"Sec-WebSocket-Extensions": {"x"}})}, ""},
		{"owned header connection", []Option{WithHeader(http.Header{"Connection": {"close"}})}, ""},
		{"CRLF in value", []Option{WithHeader(http.Header{"X-A": {"a\r\nX-Injected: 1"}})}, ""},
		{"LF in value", []Option{WithHeader(http.Header{"X-A": {"a\nb"}})}, ""},
		{"NUL in value", []Option{WithHeader(http.Header{"X-A": {"a\x00b"}})}, ""},
		{"CR in name", []Option{WithHeader(http.Header{"X-A\r": {"a"}})}, ""},
		{"space in name", []Option{WithHeader(http.Header{"X A": {"a"}})}, ""},
		{"CRLF in origin", []Option{WithOrigin("https://a\r\nX: y")}, ""},
		{"subprotocol not a token", []Option{WithSubprotocols("a b")}, ""},
		{"subprotocol empty", []Option{WithSubprotocols("")}, ""},
		{"subprotocol repeated", []Option{WithSubprotocols("chat", "chat")}, ""},
		{"user info", nil, "ws://user:secret@{addr}/"},
		{"fragment", nil, "ws://{addr}/#frag"},
		{"empty fragment", nil, "ws://{addr}/#"},
		{"scheme ftp", nil, "ftp://{addr}/"},
		{"no host", nil, "ws:///path"},
		{"opaque", nil, "ws:opaque"},
		{"CRLF in path", nil, "ws://{addr}/a\r\nX: y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			touched := make(chan struct{}, 1)
			addr := serveRaw(t, "tcp", func(c net.Conn) { touched <- struct{}{} })
			u := tt.url
			if u == "" {
				u = "ws://{addr}/"
			}
			u = strings.ReplaceAll(u, "{addr}", addr)
			d, err := New(append([]Option{WithoutProxy()}, tt.opts...)...)
			if tt.opts != nil && err == nil {
				t.Fatal("New accepted the options, want an error")
			}
			if err == nil {
				var c *Conn
				if c, err = d.DialWebSocket(context.Background(), u); err == nil {
					c.Close()
					t.Fatal("DialWebSocket succeeded, want an error")
				}
			}
			checkClass(t, err, ErrInvalid)
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
			select {
			case <-touched:
				t.Errorf("the server was reached despite %v", err)
			default:
			}
		})
	}
}

// TestHandshakeRefusesSmuggling checks Handshake's own arguments: nothing is
// written when the host or target could smuggle a line.
func TestHandshakeRefusesSmuggling(t *testing.T) {
	for _, tt := range []struct{ host, target string }{
		{"a.example\r\nX: y", "/"},
		{"a.example", "/\r\nX: y"},
		{"a.example", "/a b"},
		{"a.example", "no-slash"},
		{"a.example", ""},
		{"", "/"},
		{"a\x00.example", "/"},
	} {
		client, server := net.Pipe()
		wrote := make(chan bool, 1)
		go func() {
			n, _ := server.Read(make([]byte, 1))
			wrote <- n > 0
		}()
		_, err := Handshake(context.Background(), client, tt.host, tt.target)
		client.Close()
		checkClass(t, err, ErrInvalid)
		if <-wrote {
			t.Errorf("Handshake(%q, %q) wrote to the stream", tt.host, tt.target)
		}
		server.Close()
	}
}

// TestBytesBehindResponse sends the first frame in the same write as the
// 101: it must reach the caller through NetConn.
func TestBytesBehindResponse(t *testing.T) {
	frame := "\x81\x05hello"
	addr := serveRaw(t, "tcp", func(c net.Conn) {
		req, br, err := readUpgrade(c)
		if err != nil {
			return
		}
		c.Write([]byte(upgradeResponse(req, "") + frame))
		answerClose(c, br)
	})
	c, err := mustNew(t, WithoutProxy()).DialWebSocket(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := make([]byte, len(frame))
	if _, err := io.ReadFull(c.NetConn(), got); err != nil {
		t.Fatal(err)
	}
	if string(got) != frame {
		t.Errorf("NetConn yielded %q, want %q", got, frame)
	}
}

func TestNetConnIsStreamWhenNothingAhead(t *testing.T) {
	addr := serveUpgrade(t, "")
	c, err := mustNew(t, WithoutProxy()).DialWebSocket(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.NetConn().(*net.TCPConn); !ok {
		t.Errorf("NetConn() is %T, want the *net.TCPConn itself", c.NetConn())
	}
}

func TestCookieJar(t *testing.T) {
	cookies := make(chan string, 2)
	addr := serveRaw(t, "tcp", func(c net.Conn) {
		req, _, err := readUpgrade(c)
		if err != nil {
			return
		}
		cookies <- req.Header.Get("Cookie")
		c.Write([]byte(upgradeResponse(req, "Set-Cookie: session=abc; Path=/\r\n")))
	})
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, WithoutProxy(), WithCookieJar(jar))
	for range 2 {
		c, err := d.DialWebSocket(context.Background(), "ws://"+addr+"/chat")
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if first, second := <-cookies, <-cookies; first != "" || second != "session=abc" {
		t.Errorf("Cookie headers %q then %q, want none then session=abc", first, second)
	}
	// The jar saw ws:// as http://.
	if got := jar.Cookies(&url.URL{Scheme: "http", Host: addr, Path: "/"}); len(got) != 1 {
		t.Errorf("jar holds %v for http://%s/", got, addr)
	}
}

func base64Decode(s string) ([]byte, error) {
	return io.ReadAll(base64.NewDecoder(base64.StdEncoding, strings.NewReader(s)))
}

// serveHeldStream answers each request on a connection in turn, as one
// that Handshake is run on more than once: /refuse with a 404, anything else
// with a 101.
func serveHeldStream(t *testing.T) string {
	return serveRaw(t, "tcp", func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.URL.Path == "/refuse" {
				io.WriteString(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno")
				continue
			}
			io.WriteString(c, upgradeResponse(req, ""))
		}
	})
}

// TestHandshakeOnHeldStream runs Handshake on a stream the test dialled, and
// leaves the stream open on failure.
func TestHandshakeOnHeldStream(t *testing.T) {
	addr := serveHeldStream(t)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := Handshake(context.Background(), nc, "h.example", "/refuse"); !errors.Is(err, ErrUpgradeDeclined) {
		t.Fatalf("Handshake = %v, want ErrUpgradeDeclined", err)
	}
	c, err := Handshake(context.Background(), nc, "h.example", "/ok")
	if err != nil {
		t.Fatalf("second Handshake on the same stream: %v", err)
	}
	if c.NetConn() != nc {
		t.Errorf("NetConn() is not the stream the caller gave")
	}
}

// scriptedConn answers the handshake request written to it with a valid 101,
// in memory, so that a benchmark measures the client alone.
type scriptedConn struct {
	net.Conn // nil: only the methods below are called
	resp     []byte
	out      [256]byte
}

func (s *scriptedConn) Write(p []byte) (int, error) {
	const field = "Sec-WebSocket-Key: "
	i := bytes.Index(p, []byte(field)) + len(field)
	var accept [28]byte
	acceptKey(&accept, p[i:i+24])
	s.resp = append(append(append(s.out[:0], "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...), accept[:]...), "\r\n\r\n"...)
	return len(p), nil
}

func (s *scriptedConn) Read(p []byte) (int, error) {
	n := copy(p, s.resp)
	s.resp = s.resp[n:]
	return n, nil
}

func (s *scriptedConn) SetDeadline(time.Time) error { return nil }

func BenchmarkHandshake(b *testing.B) {
	ctx := context.Background()
	sc := &scriptedConn{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Handshake(ctx, sc, "example.com", "/chat"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLowerCaseHostHeader: a "host" key replaces the Host header as "Host"
// does, rather than sending two.
func TestLowerCaseHostHeader(t *testing.T) {
	got := make(chan []string, 1)
	addr := serveRaw(t, "tcp", func(c net.Conn) {
		br := bufio.NewReader(c)
		var hosts []string
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
			if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(name, "host") {
				hosts = append(hosts, strings.TrimSpace(value))
			}
		}
		got <- hosts
	})
	d := mustNew(t, WithoutProxy(), WithHeader(http.Header{"host": {"virtual.example"}}), WithHandshakeTimeout(time.Second))
	d.DialWebSocket(context.Background(), "ws://"+addr+"/")
	if hosts := <-got; len(hosts) != 1 || hosts[0] != "virtual.example" {
		t.Errorf("Host fields sent: %q, want one: virtual.example", hosts)
	}
}

// deadlineConn records the deadlines set on a stream.
type deadlineConn struct {
	net.Conn
	mu   sync.Mutex
	last time.Time // the last deadline set
	set  int       // how many were set
}

func (d *deadlineConn) SetDeadline(t time.Time) error {
	d.mu.Lock()
	d.last, d.set = t, d.set+1
	d.mu.Unlock()
	return d.Conn.SetDeadline(t)
}

func (d *deadlineConn) lastDeadline() (time.Time, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last, d.set
}

// TestHandshakeClearsDeadline holds Handshake to its documentation: when it
// returns, after success or failure, the stream has no deadline, whatever
// bounded the handshake: the default timeout, the context's deadline, or
// nothing but the deadline the caller had set.
func TestHandshakeClearsDeadline(t *testing.T) {
	addr := serveHeldStream(t)
	withDeadline, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		opts []Option
	}{
		{"default timeout", context.Background(), nil},
		{"context deadline", withDeadline, []Option{WithHandshakeTimeout(0)}},
		{"no bound", context.Background(), []Option{WithHandshakeTimeout(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			dc := &deadlineConn{Conn: nc}
			for _, target := range []string{"/refuse", "/ok"} {
				dc.SetDeadline(time.Now().Add(time.Hour)) // the caller's own
				_, err := Handshake(tc.ctx, dc, "h.example", target, tc.opts...)
				if (err == nil) != (target == "/ok") {
					t.Fatalf("%s: %v", target, err)
				}
				if last, n := dc.lastDeadline(); !last.IsZero() || n < 2 {
					t.Errorf("%s: after Handshake the deadline is %v (%d set), want none", target, last, n)
				}
			}
		})
	}
}
