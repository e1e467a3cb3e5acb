package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsdial/wsdial/wsdialtest"
)

// TestPACFlag runs -pac on the built command: the script's first proxy is
// down, so the dial fails over to the second, and -v shows both attempts.
func TestPACFlag(t *testing.T) {
	srv := echoServer(t)
	live := wsdialtest.NewProxy()
	t.Cleanup(live.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	script := filepath.Join(t.TempDir(), "proxy.pac")
	src := fmt.Sprintf("function FindProxyForURL(url, host) { return %q; }\n",
		"PROXY "+down+"; PROXY "+strings.TrimPrefix(live.URL, "http://"))
	if err := os.WriteFile(script, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := runCLI(t, "hello\n", "-v", "-pac", script, srv.URL)
	if code != exitOK || stdout != "hello\n" {
		t.Fatalf("exit %d, stdout %q; stderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"proxy list: next entry entry=http://" + down, "why=the proxy could not be reached"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("-v does not say %q:\n%s", want, stderr)
		}
	}
	if n := live.Tunnels(); n != 1 {
		t.Errorf("the live proxy opened %d tunnels, want 1", n)
	}

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no such script", []string{"-pac", filepath.Join(t.TempDir(), "none.pac"), srv.URL}, exitProxy, "-pac: "},
		{"with -proxy", []string{"-pac", script, "-proxy", live.URL, srv.URL}, exitUsage, "-pac excludes -proxy and -no-proxy"},
		{"with -no-proxy", []string{"-pac", script, "-no-proxy", srv.URL}, exitUsage, "-pac excludes -proxy and -no-proxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, "", tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.stderr)
			}
		})
	}
}
