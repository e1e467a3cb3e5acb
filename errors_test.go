package wsdial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
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
