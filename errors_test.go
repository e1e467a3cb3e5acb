package wsdial

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// printableText reports the first rune of s that could act on a terminal:
// a byte that is not UTF-8, a control character (C0 or C1) or another rune
// that unicode.IsPrint refuses, such as a bidirectional override.
func printableText(s string) (bad rune, ok bool) {
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 || r != ' ' && !unicode.IsPrint(r) {
			return r, false
		}
		s = s[size:]
	}
	return 0, true
}

// rawHandler is a slog handler that writes attribute values as they are,
// unquoted, as a careless handler of a caller's might: what it writes shows
// what the library itself let into the log.
type rawHandler struct {
	mu  *sync.Mutex
	out *strings.Builder
}

func (h rawHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h rawHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h rawHandler) WithGroup(string) slog.Handler            { return h }
func (h rawHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.out.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(h.out, " %s=%v", a.Key, a.Value.Any())
		return true
	})
	h.out.WriteString("\n")
	return nil
}

// TestPeerTextPrintable sends reason phrases and header values that hold
// terminal escapes, C1 controls in UTF-8, raw obs-text and a bidirectional
// override, from a proxy and from a server, and checks that no error text
// and no log value carries any of them as it came (RFC 9112 §4 allows HTAB,
// SP, VCHAR and obs-text in a reason phrase, and nothing else).
func TestPeerTextPrintable(t *testing.T) {
	const osc = "\x1b]0;owned\a\x1b[2J"
	for _, tc := range []struct {
		name   string
		reply  string
		status int // the status the error keeps: 0 when the parser refused the reply
	}{
		{"escape in reason", "HTTP/1.1 403 " + osc + "\r\nContent-Length: 0\r\n\r\n", 0},
		{"escape in a header value", "HTTP/1.1 403 Forbidden\r\nX-Evil: " + osc + "\r\nContent-Length: 0\r\n\r\n", 0},
		{"DEL in reason", "HTTP/1.1 403 Forbidden\x7f\r\nContent-Length: 0\r\n\r\n", 0},
		{"C1 CSI in reason", "HTTP/1.1 403 Verboten\u009b2J\r\nContent-Length: 0\r\n\r\n", 403},
		{"raw obs-text in reason", "HTTP/1.1 403 Verboten\x9b2J\xff\r\nContent-Length: 0\r\n\r\n", 403},
		{"bidi override in reason", "HTTP/1.1 403 \u202eyrros\r\nContent-Length: 0\r\n\r\n", 403},
		{"tab in reason", "HTTP/1.1 403 For\tbidden\r\nContent-Length: 0\r\n\r\n", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var log strings.Builder
			logger := slog.New(rawHandler{&mu, &log})

			proxy := rawProxy(t, func(c net.Conn, _ string) { io.WriteString(c, tc.reply) })
			d := mustNew(t, WithProxy("http://"+proxy), WithLogger(logger))
			_, err := d.DialContext(context.Background(), "tcp", "target.example:443")
			var pe *ProxyError
			if !errors.As(err, &pe) || pe.StatusCode != tc.status {
				t.Errorf("proxy: err = %v, want a *ProxyError with status %d", err, tc.status)
			}
			if r, ok := printableText(err.Error()); !ok {
				t.Errorf("proxy: the error holds %U: %q", r, err.Error())
			}

			server := serveRaw(t, "tcp", func(c net.Conn) {
				if _, _, err := readUpgrade(c); err == nil {
					io.WriteString(c, tc.reply)
				}
			})
			_, err = mustNew(t, WithoutProxy(), WithLogger(logger)).DialWebSocket(context.Background(), "ws://"+server+"/")
			var he *HandshakeError
			if !errors.As(err, &he) || he.StatusCode != tc.status {
				t.Errorf("server: err = %v, want a *HandshakeError with status %d", err, tc.status)
			}
			if r, ok := printableText(err.Error()); !ok {
				t.Errorf("server: the error holds %U: %q", r, err.Error())
			}
			mu.Lock()
			defer mu.Unlock()
			for _, line := range strings.Split(strings.TrimSuffix(log.String(), "\n"), "\n") {
				if r, ok := printableText(line); !ok {
					t.Errorf("the log holds %U: %q", r, line)
				}
			}
		})
	}
}

// repeated returns the first piece of msg, split at ": ", that says again
// what the piece before it said, or "" if none does: the same words, the
// same first word ("dial: dial tcp …", "tls: tls: …"), or the end of the one
// before ("407 Proxy Authentication Required: proxy authentication required").
func repeated(msg string) string {
	parts := strings.Split(strings.ToLower(msg), ": ")
	for i := 1; i < len(parts); i++ {
		a, b := parts[i-1], parts[i]
		first, _, _ := strings.Cut(b, " ")
		if a == b || first == a || strings.HasSuffix(a, " "+b) || strings.HasPrefix(b, a+" ") {
			return parts[i-1] + ": " + parts[i]
		}
	}
	return ""
}

func TestRepeated(t *testing.T) {
	for msg, want := range map[string]bool{
		"wsdial: tls: tls: failed to verify certificate":                                             true,
		"wsdial: dial: dial tcp 127.0.0.1:1: connect: connection refused":                            true,
		"wsdial: proxy p: connect: 407 Proxy Authentication Required: proxy authentication required": true,
		"wsdial: use of closed connection: use of closed network connection":                         false,
		"wsdial: proxy p: connect: 403 Forbidden: proxy refused the tunnel":                          false,
		"wsdial: tls: failed to verify certificate: x509: certificate signed by unknown":             false,
	} {
		if got := repeated(msg) != ""; got != want {
			t.Errorf("repeated(%q) = %v, want %v", msg, got, want)
		}
	}
}

// TestErrorTextsDoNotRepeat makes a dial fail at each stage, and in each
// way a stage's own cause names the stage again, and checks that no error
// text says a thing twice in a row.
func TestErrorTextsDoNotRepeat(t *testing.T) {
	ctx := context.Background()
	cert, pool := newCert(t, "127.0.0.1")
	untrusted := serveRaw(t, "tcp", func(c net.Conn) {
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*cert}})
		tc.Handshake()
	})
	closed := listen(t, "tcp")
	refused := closed.Addr().String()
	closed.Close()
	declined := serveRaw(t, "tcp", func(c net.Conn) {
		if _, _, err := readUpgrade(c); err == nil {
			io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		}
	})
	auth407 := (&connectProxy{user: "alice", pass: testPassword}).start(t)
	forbidding := rawProxy(t, func(c net.Conn, _ string) {
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
	})
	tlsProxy := (&connectProxy{tls: &tls.Config{Certificates: []tls.Certificate{*cert}}}).start(t)
	socks := (&socksProxy{reply: 5}).start(t)
	socksAuth := (&socksProxy{user: "alice", pass: testPassword}).start(t)
	forever, _ := serve(t, nil, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\nContent-Length: 0\r\n\r\n")
		}
	})

	dial := func(opts []Option, url string) error {
		return dialOnce(ctx, url, append([]Option{WithHandshakeTimeout(time.Second)}, opts...)...)
	}
	cases := map[string]error{
		"target TLS unverified":      dial([]Option{WithoutProxy()}, "wss://"+untrusted+"/"),
		"direct dial refused":        dial([]Option{WithoutProxy()}, "ws://"+refused+"/"),
		"upgrade declined":           dial([]Option{WithoutProxy()}, "ws://"+declined+"/"),
		"proxy dial refused":         dial([]Option{WithProxy("http://u:" + testPassword + "@" + refused)}, "ws://127.0.0.1:1/"),
		"407":                        dial([]Option{WithProxy("http://" + auth407)}, "ws://127.0.0.1:1/"),
		"407 with wrong credentials": dial([]Option{WithProxy("http://alice:x@" + auth407)}, "ws://127.0.0.1:1/"),
		"407 to the last round":      dial([]Option{WithProxy("http://" + forever), WithProxyAuthenticator(&negotiator{})}, "ws://127.0.0.1:1/"),
		"407, authenticator fails":   dial([]Option{WithProxy("http://" + forever), WithProxyAuthenticator(&negotiator{giveUp: errors.New("no ticket")})}, "ws://127.0.0.1:1/"),
		"403 from the proxy":         dial([]Option{WithProxy("http://" + forbidding)}, "ws://127.0.0.1:1/"),
		"proxy TLS unverified":       dial([]Option{WithProxy("https://" + tlsProxy)}, "ws://127.0.0.1:1/"),
		"socks refusal":              dial([]Option{WithProxy("socks5h://" + socks)}, "ws://ws.example.invalid/"),
		"socks credentials refused":  dial([]Option{WithProxy("socks5h://alice:x@" + socksAuth)}, "ws://ws.example.invalid/"),
		"socks credentials missing":  dial([]Option{WithProxy("socks5h://" + socksAuth)}, "ws://ws.example.invalid/"),
		"URL does not parse":         dial(nil, "ws://alice:s3cr/et@ws.example/"),
		"proxy scheme":               dial([]Option{WithProxy("ftp://proxy.example")}, "ws://ws.example/"),
		"network":                    func() error { _, err := new(Dialer).DialContext(ctx, "udp", "127.0.0.1:1"); return err }(),
	}
	trusted := mustNew(t, WithProxy("https://"+tlsProxy), WithProxyTLSConfig(&tls.Config{RootCAs: pool}))
	_, cases["through a verified TLS proxy, target refused"] = trusted.DialContext(ctx, "tcp", refused)
	for name, err := range cases {
		if err == nil {
			t.Errorf("%s: the dial succeeded", name)
			continue
		}
		if r := repeated(err.Error()); r != "" {
			t.Errorf("%s: %q says %q", name, err.Error(), r)
		}
	}
}
