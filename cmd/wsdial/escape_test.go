package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEscapeControl(t *testing.T) {
	for _, tt := range []struct {
		in           string
		keepNewlines bool
		want         string
	}{
		{"plain text, with\ttab", false, "plain text, with\ttab"},
		{"héllo, 世界", false, "héllo, 世界"},
		{"\x1b]0;owned\a\x1b[2J", false, `\x1b]0;owned\x07\x1b[2J`},
		{"over\rwrite", false, `over\rwrite`},
		{"two\nlines", false, `two\nlines`},
		{"two\nlines", true, "two\nlines"},
		{"del\x7f nul\x00", false, `del\x7f nul\x00`},
		{"c1 \u009b31m", false, `c1 \u009b31m`},
		{"broken \xff\xfe", false, `broken \xff\xfe`},
	} {
		if got := escapeControl(tt.in, tt.keepNewlines); got != tt.want {
			t.Errorf("escapeControl(%q, %v) = %q, want %q", tt.in, tt.keepNewlines, got, tt.want)
		}
	}
}

// TestNetworkTextOnStderrEscaped has a server close with a reason that holds
// control characters, and checks that stderr shows them escaped.
func TestNetworkTextOnStderrEscaped(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := acceptUpgrade(w, r)
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(serverFrame(0x8, "\x0f\xa0"+"bye\x1b[2J\x1b]0;owned\a"))
		io.Copy(io.Discard, brw) // until the client closes
	}))
	defer srv.Close()
	_, stderr, code := runCLI(t, "", "-no-proxy", "ws"+strings.TrimPrefix(srv.URL, "http")+"/")
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, `4000: bye\x1b[2J\x1b]0;owned\x07`) || strings.ContainsAny(stderr, "\x1b\a") {
		t.Errorf("stderr %q, want the reason escaped", stderr)
	}
}
