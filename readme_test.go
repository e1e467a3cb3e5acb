package wsdial

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsdial/wsdial/wsdialtest"
)

// readmeSwitch is the README's error switch, branch by branch in its order:
// each case as the README writes it, and what it tests.
var readmeSwitch = []struct {
	expr  string
	match func(error) bool
}{
	{"err == nil", func(err error) bool { return err == nil }},
	{"errors.Is(err, context.DeadlineExceeded)", func(err error) bool { return errors.Is(err, context.DeadlineExceeded) }},
	{"errors.Is(err, context.Canceled)", func(err error) bool { return errors.Is(err, context.Canceled) }},
	{"errors.Is(err, wsdial.ErrInvalid)", func(err error) bool { return errors.Is(err, ErrInvalid) }},
	{"errors.Is(err, wsdial.ErrProxyAuthRequired)", func(err error) bool { return errors.Is(err, ErrProxyAuthRequired) }},
	{"errors.Is(err, wsdial.ErrProxy)", func(err error) bool { return errors.Is(err, ErrProxy) }},
	{"errors.Is(err, wsdial.ErrDial)", func(err error) bool { return errors.Is(err, ErrDial) }},
	{"errors.Is(err, wsdial.ErrTLS)", func(err error) bool { return errors.Is(err, ErrTLS) }},
	{"errors.Is(err, wsdial.ErrUpgradeDeclined)", func(err error) bool { return errors.Is(err, ErrUpgradeDeclined) }},
	{"errors.Is(err, wsdial.ErrHandshake)", func(err error) bool { return errors.Is(err, ErrHandshake) }},
}

// branch returns the README switch's first case that err takes, or "".
func branch(err error) string {
	for _, c := range readmeSwitch {
		if c.match(err) {
			return c.expr
		}
	}
	return ""
}

// TestREADMEErrorSwitch checks that the README's switch is readmeSwitch,
// case for case, and makes a dial take each of its branches: none is
// shadowed by one before it.
func TestREADMEErrorSwitch(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- the error switch: TestREADMEErrorSwitch runs it, and reaches each branch -->")
	if !ok {
		t.Fatal("README.md has lost the marker of its error switch")
	}
	block, _, _ = strings.Cut(block, "\n}\n")
	var cases []string
	for _, m := range regexp.MustCompile(`(?m)^case (.+?):(?:\s|$)`).FindAllStringSubmatch(block, -1) {
		cases = append(cases, m[1])
	}
	var want []string
	for _, c := range readmeSwitch {
		want = append(want, c.expr)
	}
	if strings.Join(cases, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the README's switch has the cases\n%s\nwant\n%s", strings.Join(cases, "\n"), strings.Join(want, "\n"))
	}

	echo := wsdialtest.NewEchoServer()
	defer echo.Close()
	tlsEcho := wsdialtest.NewTLSEchoServer()
	defer tlsEcho.Close()
	authProxy := wsdialtest.NewProxy(wsdialtest.WithBasicAuth("u", "p"))
	defer authProxy.Close()
	notWS := httptest.NewServer(http.NotFoundHandler())
	defer notWS.Close()
	badAccept := serveRaw(t, "tcp", func(c net.Conn) {
		if _, _, err := readUpgrade(c); err == nil {
			c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n"))
		}
	})
	stall := serveRaw(t, "tcp", func(c net.Conn) { io.Copy(io.Discard, c) }) // reads, never answers
	closed := closedAddr(t)

	dial := func(ctx context.Context, url string, opts ...Option) error {
		return dialOnce(ctx, url, append([]Option{WithoutProxy(), WithHandshakeTimeout(10 * time.Second)}, opts...)...)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"a dial that works", dial(bg, echo.URL), "err == nil"},
		{"a timeout", dial(bg, "ws://"+stall+"/", WithHandshakeTimeout(50*time.Millisecond)), "errors.Is(err, context.DeadlineExceeded)"},
		{"a cancellation", dial(cancelled, "ws://"+stall+"/"), "errors.Is(err, context.Canceled)"},
		{"a URL of another scheme", dial(bg, "ftp://127.0.0.1/"), "errors.Is(err, wsdial.ErrInvalid)"},
		{"no credentials for the proxy", dial(bg, echo.URL, WithProxy(authProxy.URL)), "errors.Is(err, wsdial.ErrProxyAuthRequired)"},
		{"no proxy listening", dial(bg, echo.URL, WithProxy("http://"+closed)), "errors.Is(err, wsdial.ErrProxy)"},
		{"no server listening", dial(bg, "ws://"+closed+"/"), "errors.Is(err, wsdial.ErrDial)"},
		{"an untrusted certificate", dial(bg, tlsEcho.URL), "errors.Is(err, wsdial.ErrTLS)"},
		{"a 404", dial(bg, "ws"+strings.TrimPrefix(notWS.URL, "http")+"/"), "errors.Is(err, wsdial.ErrUpgradeDeclined)"},
		{"a wrong accept", dial(bg, "ws://"+badAccept+"/"), "errors.Is(err, wsdial.ErrHandshake)"},
	} {
		if got := branch(tt.err); got != tt.want {
			t.Errorf("%s: error %v takes the branch %q, want %q", tt.name, tt.err, got, tt.want)
		}
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
