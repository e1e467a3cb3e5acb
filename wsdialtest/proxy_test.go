package wsdialtest

import (
	"bufio"
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsdial/wsdial"
)

// withUser returns proxyURL with user and password in it.
func withUser(t *testing.T, proxyURL, user, password string) string {
	t.Helper()
	u, err := url.Parse(proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, password)
	return u.String()
}

// echoOnce dials target through d, checks one echo, and closes.
func echoOnce(d *wsdial.Dialer, target string) error {
	c, err := d.DialWebSocket(context.Background(), target)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.WriteMessage(wsdial.TextMessage, []byte("ping?")); err != nil {
		return err
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "ping?" {
		return errors.New("no echo")
	}
	return nil
}

func TestProxies(t *testing.T) {
	srv := NewEchoServer()
	defer srv.Close()
	tlsSrv := NewTLSEchoServer()
	defer tlsSrv.Close()
	tlsAddr := strings.TrimSuffix(strings.TrimPrefix(tlsSrv.URL, "wss://"), "/")
	for _, kind := range []struct {
		name   string
		start  func(...ProxyOption) *Proxy
		scheme string // the scheme to give wsdial, which picks how names travel
	}{{"CONNECT", NewProxy, "http"}, {"SOCKS5", NewSOCKS5Proxy, "socks5h"}} {
		t.Run(kind.name, func(t *testing.T) {
			open := kind.start(WithRoute("Echo.TEST:443", tlsAddr))
			defer open.Close()
			if !strings.HasPrefix(open.URL, kind.scheme[:4]) || strings.Contains(open.URL, "@") {
				t.Errorf("URL %q", open.URL)
			}
			via := kind.scheme + "://" + open.URL[strings.Index(open.URL, "//")+2:]
			d := dialer(t, wsdial.WithProxy(via), wsdial.WithTLSConfig(tlsSrv.TLSConfig()))
			if err := echoOnce(d, srv.URL); err != nil {
				t.Errorf("to a loopback address: %v", err)
			}
			if err := echoOnce(d, "wss://echo.test/"); err != nil {
				t.Errorf("to a routed name: %v", err)
			}
			if n := open.Tunnels(); n != 2 {
				t.Errorf("Tunnels() = %d after two dials, want 2", n)
			}
			// Neither unrouted names nor other ports of a routed one go anywhere.
			for _, target := range []string{"ws://elsewhere.test/", "ws://echo.test:8443/", "ws://localhost:1/"} {
				err := echoOnce(d, target)
				var pe *wsdial.ProxyError
				if !errors.As(err, &pe) {
					t.Errorf("%s: %v, want the proxy's refusal", target, err)
				} else if kind.name == "CONNECT" && pe.StatusCode != http.StatusForbidden {
					t.Errorf("%s: status %d, want 403", target, pe.StatusCode)
				}
			}
			if n := open.Tunnels(); n != 2 {
				t.Errorf("Tunnels() = %d after refusals, want still 2", n)
			}

			authed := kind.start(WithBasicAuth("alice", "s3cret"))
			defer authed.Close()
			for _, tc := range []struct {
				user, password string
				ok             bool
			}{{"alice", "s3cret", true}, {"alice", "wrong", false}, {"bob", "s3cret", false}, {"", "", false}} {
				u := kind.scheme + "://" + authed.URL[strings.Index(authed.URL, "//")+2:]
				if tc.user != "" {
					u = withUser(t, u, tc.user, tc.password)
				}
				err := echoOnce(dialer(t, wsdial.WithProxy(u)), srv.URL)
				switch {
				case tc.ok && err != nil:
					t.Errorf("%s:%s: %v", tc.user, tc.password, err)
				case !tc.ok && !errors.Is(err, wsdial.ErrProxy):
					t.Errorf("%s:%s: %v, want the proxy's refusal", tc.user, tc.password, err)
				case !tc.ok && kind.name == "CONNECT" && !errors.Is(err, wsdial.ErrProxyAuthRequired):
					t.Errorf("%s:%s: %v, want a 407", tc.user, tc.password, err)
				}
			}
			if n := authed.Tunnels(); n != 1 {
				t.Errorf("Tunnels() = %d, want 1: only the right credentials pass", n)
			}
		})
	}
}

// TestConnectRounds runs an exchange of several 407s on one connection, as
// challenge-response schemes do, against WithAuthFunc.
func TestConnectRounds(t *testing.T) {
	srv := NewEchoServer()
	defer srv.Close()
	px := NewProxy(WithAuthFunc(func(authz string) (string, bool) {
		switch authz {
		case "":
			return "Knock", false
		case "Knock 1":
			return "Knock again", false
		}
		return "Knock", authz == "Knock 2"
	}))
	defer px.Close()
	c, err := net.Dial("tcp", strings.TrimPrefix(px.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReader(c)
	target := strings.TrimSuffix(strings.TrimPrefix(srv.URL, "ws://"), "/")
	for i, step := range []struct {
		authz, challenge string
		status           int
	}{{"", "Knock", 407}, {"Knock 1", "Knock again", 407}, {"Knock 2", "", 200}} {
		req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
		if step.authz != "" {
			req += "Proxy-Authorization: " + step.authz + "\r\n"
		}
		io.WriteString(c, req+"\r\n")
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			t.Fatalf("round %d: %v", i+1, err)
		}
		if resp.StatusCode != http.StatusOK {
			io.Copy(io.Discard, resp.Body) // a 200's "body" is the tunnel
		}
		if resp.StatusCode != step.status || resp.Header.Get("Proxy-Authenticate") != step.challenge {
			t.Fatalf("round %d: %s, challenge %q; want %d %q", i+1, resp.Status, resp.Header.Get("Proxy-Authenticate"), step.status, step.challenge)
		}
	}
	if px.Tunnels() != 1 {
		t.Errorf("Tunnels() = %d, want 1", px.Tunnels())
	}
}

func TestProxyRefusals(t *testing.T) {
	px := NewProxy()
	defer px.Close()
	socks := NewSOCKS5Proxy()
	defer socks.Close()
	authed := NewSOCKS5Proxy(WithBasicAuth("u", "p"))
	defer authed.Close()
	for _, tt := range []struct {
		name, addr, send string
		want             string // the start of the answer
	}{
		{"GET to the proxy", px.URL, "GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405"},
		{"CONNECT to a name", px.URL, "CONNECT intranet.example:80 HTTP/1.1\r\nHost: intranet.example:80\r\n\r\n", "HTTP/1.1 403"},
		{"CONNECT with no port", px.URL, "CONNECT 127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "HTTP/1.1 400"},
		{"CONNECT to a closed port", px.URL, "CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n", "HTTP/1.1 502"},
		{"garbage", px.URL, "\x05\x01\x00\r\n\r\n", "HTTP/1.1 400"},
		{"SOCKS4", socks.URL, "\x04\x01\x00\x50\x7f\x00\x00\x01\x00", ""},
		{"SOCKS5 without the method the proxy wants", authed.URL, "\x05\x01\x00", "\x05\xff"},
		{"SOCKS5 BIND", socks.URL, "\x05\x01\x00\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x50", "\x05\x00\x05\x07"},
		{"SOCKS5 unknown address type", socks.URL, "\x05\x01\x00\x05\x01\x00\x09", "\x05\x00\x05\x08"},
		{"SOCKS5 to a name", socks.URL, "\x05\x01\x00\x05\x01\x00\x03\x10intranet.example\x00\x50", "\x05\x00\x05\x02"},
		{"SOCKS5 to a closed port", socks.URL, "\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x01", "\x05\x00\x05\x05"},
		{"SOCKS5 wrong password", authed.URL, "\x05\x01\x02\x01\x01u\x01x", "\x05\x02\x01\x01"},
		{"SOCKS5 offering 255 methods", socks.URL, "\x05\xff" + strings.Repeat("\x00", 255) + "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x01", "\x05\x00\x05\x05"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", tt.addr[strings.Index(tt.addr, "//")+2:])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute))
			io.WriteString(c, tt.send)
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("%v; want the proxy to answer and close", err)
			}
			if !strings.HasPrefix(string(got), tt.want) {
				t.Errorf("answer %q, want it to start %q", got, tt.want)
			}
		})
	}
	for _, p := range []*Proxy{px, socks, authed} {
		if p.Tunnels() != 0 {
			t.Errorf("%s opened %d tunnels", p.URL, p.Tunnels())
		}
	}
}

func TestOptionMisuse(t *testing.T) {
	for _, tt := range []struct {
		name  string
		start func()
	}{
		{"route to beyond loopback", func() { NewProxy(WithRoute("a.test:80", "192.0.2.1:80")) }},
		{"route to a name", func() { NewProxy(WithRoute("a.test:80", "localhost:80")) }},
		{"route from no port", func() { NewProxy(WithRoute("a.test", "127.0.0.1:80")) }},
		{"a nil option", func() { NewProxy(nil) }},
		{"SOCKS5 with WithAuthFunc", func() { NewSOCKS5Proxy(WithAuthFunc(func(string) (string, bool) { return "", true })) }},
		// Credentials that the protocol cannot carry would make a proxy
		// that no client can pass.
		{"Basic user with a colon", func() { NewProxy(WithBasicAuth("a:b", "p")) }},
		{"SOCKS5 empty user", func() { NewSOCKS5Proxy(WithBasicAuth("", "p")) }},
		{"SOCKS5 empty password", func() { NewSOCKS5Proxy(WithBasicAuth("u", "")) }},
		{"SOCKS5 user of 256 bytes", func() { NewSOCKS5Proxy(WithBasicAuth(strings.Repeat("u", 256), "p")) }},
		{"SOCKS5 password of 256 bytes", func() { NewSOCKS5Proxy(WithBasicAuth("u", strings.Repeat("p", 256))) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), "wsdialtest:") {
					t.Errorf("recovered %v, want a panic that names wsdialtest", r)
				}
			}()
			tt.start()
		})
	}
}

// TestURLForms checks each server's URL against the form its doc promises:
// loopback, a port, and no credentials even when the proxy demands some.
func TestURLForms(t *testing.T) {
	echo, tlsEcho := NewEchoServer(), NewTLSEchoServer()
	px, socks := NewProxy(WithBasicAuth("u", "p")), NewSOCKS5Proxy(WithBasicAuth("u", "p"))
	for _, tt := range []struct {
		url  string
		form string
	}{
		{echo.URL, `ws://127\.0\.0\.1:\d+/`},
		{tlsEcho.URL, `wss://127\.0\.0\.1:\d+/`},
		{px.URL, `http://127\.0\.0\.1:\d+`},
		{socks.URL, `socks5://127\.0\.0\.1:\d+`},
	} {
		if !regexp.MustCompile(`\A` + tt.form + `\z`).MatchString(tt.url) {
			t.Errorf("URL %q, want the form %s", tt.url, tt.form)
		}
	}
	for _, s := range []interface{ Close() }{echo, tlsEcho, px, socks} {
		s.Close()
	}
}

// TestEveryConstructorHasAnExample holds the package doc's promise of a
// runnable example for each exported function.
func TestEveryConstructorHasAnExample(t *testing.T) {
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string]bool{}
	var funcs []string
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !fd.Name.IsExported() {
				continue
			}
			if strings.HasSuffix(name, "_test.go") {
				examples[fd.Name.Name] = true
			} else {
				funcs = append(funcs, fd.Name.Name)
			}
		}
	}
	if len(funcs) == 0 {
		t.Fatal("found no exported functions; the parse is broken")
	}
	for _, fn := range funcs {
		if !examples["Example"+fn] {
			t.Errorf("%s has no Example%s", fn, fn)
		}
	}
}
