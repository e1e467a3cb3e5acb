package wsdial

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestProxyURLs checks which proxy URLs are accepted, where each is dialed,
// and that a refused one is a resolve *ProxyError that hides the password.
func TestProxyURLs(t *testing.T) {
	for _, tc := range []struct {
		raw      string
		wantAddr string // "" when refused
		wantErr  string
	}{
		{raw: "http://proxy.example:3128", wantAddr: "proxy.example:3128"},
		{raw: "proxy.example:3128", wantAddr: "proxy.example:3128"},
		{raw: "http://proxy.example", wantAddr: "proxy.example:80"},
		{raw: "HTTPS://proxy.example", wantAddr: "proxy.example:443"},
		{raw: "socks5://proxy.example", wantAddr: "proxy.example:1080"},
		{raw: "socks5h://u:" + testPassword + "@[::1]", wantAddr: "[::1]:1080"},
		{raw: "ftp://u:" + testPassword + "@proxy.example", wantErr: `scheme "ftp" is not supported`},
		{raw: "socks4://proxy.example", wantErr: `scheme "socks4" is not supported`},
		{raw: "http://", wantErr: "names no host"},
		{raw: "", wantErr: "names no host"},
		{raw: "http://u:" + testPassword + "@proxy example", wantErr: "does not parse"},
		{raw: "http://u:" + testPassword + "@proxy.example/path", wantErr: "path"},
		{raw: "http://u:" + testPassword + "@proxy.example?q", wantErr: "query"},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			if tc.wantAddr != "" {
				px, err := mustNew(t, WithProxy(tc.raw)).proxyFor("http", "x:80")
				if err != nil || px == nil || px.address != tc.wantAddr {
					t.Fatalf("address %q, %v; want %q", px.address, err, tc.wantAddr)
				}
				return
			}
			_, err := New(WithProxy(tc.raw))
			checkClass(t, err, ErrInvalid)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), testPassword) {
				t.Errorf("New: %v, want an error that says %q without the password", err, tc.wantErr)
			}
		})
	}
}

func checkResolveError(t *testing.T, err error, want string) {
	t.Helper()
	var pe *ProxyError
	if !errors.As(err, &pe) || pe.Stage != "resolve" || !errors.Is(err, ErrProxy) {
		t.Fatalf("err = %v, want a resolve *ProxyError", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to say %q", err, want)
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestProxyFunc checks that WithProxyFunc sees each target with the scheme
// its kind of dial is looked up as, and that its answers are checked.
func TestProxyFunc(t *testing.T) {
	var asked []string
	fail := errors.New("no proxy for you")
	d := mustNew(t, WithProxyFunc(func(u *url.URL) (*url.URL, error) {
		asked = append(asked, u.String())
		switch u.Hostname() {
		case "bad-scheme.example":
			return url.Parse("gopher://u:" + testPassword + "@proxy.example")
		case "failing.example":
			return nil, fail
		}
		return nil, nil // direct, which the refused port then ends
	}))
	ctx := context.Background()
	d.DialContext(ctx, "tcp", "127.0.0.1:1")
	d.DialContext(ctx, "tcp", "127.0.0.1:443")
	d.DialTLSContext(ctx, "tcp", "127.0.0.1:1")
	d.DialWebSocket(ctx, "ws://127.0.0.1:1/")
	d.DialWebSocket(ctx, "wss://127.0.0.1:1/")
	want := []string{"http://127.0.0.1:1", "https://127.0.0.1:443", "https://127.0.0.1:1", "http://127.0.0.1:1", "https://127.0.0.1:1"}
	if strings.Join(asked, " ") != strings.Join(want, " ") {
		t.Errorf("asked for %v, want %v", asked, want)
	}

	_, err := d.DialContext(ctx, "tcp", "bad-scheme.example:80")
	checkResolveError(t, err, `scheme "gopher" is not supported`)
	_, err = d.DialContext(ctx, "tcp", "failing.example:80")
	checkResolveError(t, err, "no proxy for you")
	if !errors.Is(err, fail) {
		t.Errorf("err = %v lost its cause", err)
	}
}

// TestProxyDialFailure checks a proxy that cannot be reached: a dial
// *ProxyError, with the password hidden.
func TestProxyDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	for _, scheme := range []string{"http", "https", "socks5", "socks5h"} {
		d := mustNew(t, WithProxy(scheme+"://u:"+testPassword+"@"+addr))
		_, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:1")
		var pe *ProxyError
		if !errors.As(err, &pe) || pe.Stage != "dial" || pe.Proxy != scheme+"://u:xxxxx@"+addr {
			t.Errorf("%s: err = %v, want a dial *ProxyError", scheme, err)
		}
		if err != nil && strings.Contains(err.Error(), testPassword) {
			t.Errorf("%s: the error shows the password: %v", scheme, err)
		}
	}
}

// TestProxyContext leaves proxies that stall at each point of each exchange.
// The proxy cancels the dial's context once the dial is stuck there; the dial
// must return at once with context.Canceled and leave no goroutine behind.
func TestProxyContext(t *testing.T) {
	proxyCert, proxyPool := newCert(t, "127.0.0.1")
	// readSome reads until the client has sent n bytes.
	readSome := func(c net.Conn, n int) bool {
		_, err := io.ReadFull(c, make([]byte, n))
		return err == nil
	}
	for _, tc := range []struct {
		name   string
		scheme string
		tls    bool
		// stall plays the proxy up to where it stalls, and reports whether
		// it got there.
		stall func(c net.Conn) bool
	}{
		{"connect never answers", "http", false, func(c net.Conn) bool { return readSome(c, 10) }},
		{"connect answers halfway", "http", false, func(c net.Conn) bool {
			_, err := io.WriteString(c, "HTTP/1.1 200 Connection")
			return readSome(c, 10) && err == nil
		}},
		{"connect 407 body cut short", "http", false, func(c net.Conn) bool {
			_, err := io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 100\r\n\r\nten bytes.")
			return readSome(c, 10) && err == nil
		}},
		{"proxy TLS never answers", "https", false, func(c net.Conn) bool { return readSome(c, 5) }},
		{"connect over TLS never answers", "https", true, func(c net.Conn) bool { return readSome(c, 10) }},
		{"socks greeting never answered", "socks5h", false, func(c net.Conn) bool { return readSome(c, 3) }},
		{"socks request never answered", "socks5h", false, func(c net.Conn) bool {
			if !readSome(c, 3) {
				return false
			}
			_, err := c.Write([]byte{5, 0})
			return err == nil && readSome(c, 5)
		}},
		{"socks auth never answered", "socks5h", false, func(c net.Conn) bool {
			if !readSome(c, 4) {
				return false
			}
			_, err := c.Write([]byte{5, 2})
			return err == nil && readSome(c, 3)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wrap func(net.Listener) net.Listener
			if tc.tls {
				wrap = func(ln net.Listener) net.Listener {
					return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*proxyCert}})
				}
			}
			addr, _ := serve(t, wrap, func(c net.Conn) {
				if tc.stall(c) {
					cancel()
				}
				io.Copy(io.Discard, c) // until the client or the cleanup closes c
			})
			d := mustNew(t, WithProxy(tc.scheme+"://u:"+testPassword+"@"+addr), WithProxyTLSConfig(&tls.Config{RootCAs: proxyPool}))
			done := make(chan error, 1)
			go func() {
				c, err := d.DialContext(ctx, "tcp", "target.example:443")
				if c != nil {
					c.Close()
				}
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the dial is still stuck 5s after its context ended")
			}
			if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrProxy) {
				t.Errorf("err = %v, want context.Canceled and ErrProxy", err)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// TestProxyDeadline checks that a timed-out proxy exchange matches
// context.DeadlineExceeded, whichever way the stage noticed it.
func TestProxyDeadline(t *testing.T) {
	for _, scheme := range []string{"http", "socks5h"} {
		t.Run(scheme, func(t *testing.T) {
			checkGoroutines(t)
			addr, _ := serve(t, nil, func(c net.Conn) { io.Copy(io.Discard, c) })
			d := mustNew(t, WithProxy(scheme+"://"+addr), WithHandshakeTimeout(20*time.Millisecond))
			_, err := d.DialContext(context.Background(), "tcp", "target.example:80")
			if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrProxy) {
				t.Errorf("err = %v, want context.DeadlineExceeded and ErrProxy", err)
			}
		})
	}
}

// TestURLErrorsHidePassword gives URLs whose password holds a /, ?, # or a
// % that begins no escape, none percent-encoded, so that url.Parse fails on
// them or finds a host in the middle of the password. Neither New's error
// for WithProxy nor a dial's for the WebSocket URL may show any of it: a URL
// that does not parse is described, never quoted.
func TestURLErrorsHidePassword(t *testing.T) {
	for _, pw := range []string{"s3cr/et", "s3cr?et", "s3cr#et", "s3%zzet", "s3cr et", "s3cr\x7fet"} {
		for _, raw := range []string{
			"http://alice:" + pw + "@proxy.example:8080",
			"socks5://alice:" + pw + "@proxy.example:1080",
			"alice:" + pw + "@proxy.example:8080",
		} {
			_, err := New(WithProxy(raw))
			checkClass(t, err, ErrInvalid)
			checkHidden(t, err, pw)
		}
		_, err := new(Dialer).DialWebSocket(context.Background(), "ws://alice:"+pw+"@ws.example/")
		checkClass(t, err, ErrInvalid)
		checkHidden(t, err, pw)
	}
}

// TestProxyFuncURLHidesPassword has WithProxyFunc and WithProxyList hand
// back proxy URLs whose password starts with digits and holds a /, ? or #,
// not percent-encoded: url.Parse takes "alice:4321" for the host and the
// port and the rest for a path, query or fragment, so the URL parses. The
// refusal's text and its ProxyError.Proxy must show no piece of the password.
func TestProxyFuncURLHidesPassword(t *testing.T) {
	for _, pw := range []string{"4321/et", "4321?et", "4321#et"} {
		u, err := url.Parse("http://alice:" + pw + "@proxy.example:8080")
		if err != nil {
			t.Fatalf("%s: %v", pw, err)
		}
		for name, opt := range map[string]Option{
			"WithProxyFunc": WithProxyFunc(func(*url.URL) (*url.URL, error) { return u, nil }),
			"WithProxyList": WithProxyList(func(context.Context, *url.URL) ([]*url.URL, error) { return []*url.URL{u}, nil }),
		} {
			_, err := mustNew(t, opt).DialContext(context.Background(), "tcp", "target.invalid:443")
			checkClass(t, err, ErrProxy)
			checkHidden(t, err, pw)
			var pe *ProxyError
			if !errors.As(err, &pe) || strings.Contains(pe.Proxy, pw[:4]) {
				t.Errorf("%s, password %q: ProxyError.Proxy shows it, or no ProxyError: %v", name, pw, err)
			}
		}
	}
}

// checkHidden fails t if err's text shows a piece of pw.
func checkHidden(t *testing.T, err error, pw string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, piece := range []string{pw[:4], pw[3:], "zz"} {
		if strings.Contains(err.Error(), piece) {
			t.Errorf("the error shows %q of the password %q: %v", piece, pw, err)
		}
	}
}
