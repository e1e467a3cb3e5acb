package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

	hostile := filepath.Join(t.TempDir(), "hostile.pac")
	if err := os.WriteFile(hostile, []byte(`throw "\x1b]0;owned\x07\x1b[2J";`), 0o600); err != nil {
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
		// What a script throws is the script's text, which came from
		// the network: its control characters are escaped.
		{"a script that throws control characters", []string{"-pac", hostile, srv.URL}, exitProxy, `threw \x1b]0;owned\x07\x1b[2J`},
		{"with -proxy", []string{"-pac", script, "-proxy", live.URL, srv.URL}, exitUsage, "-pac excludes -proxy and -no-proxy"},
		{"with -no-proxy", []string{"-pac", script, "-no-proxy", srv.URL}, exitUsage, "-pac excludes -proxy and -no-proxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, "", tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) || strings.ContainsAny(stderr, "\x07\x1b") {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.stderr)
			}
		})
	}
}

// TestPACFlagTimeout: -timeout bounds the fetch of a -pac script from a
// server that never answers, and the command says why it gave up.
func TestPACFlagTimeout(t *testing.T) {
	held, reached := stallServer(t)
	_, stderr, code := runCLI(t, "", "-timeout", "200ms", "-pac", "http://"+held+"/proxy.pac", "ws://"+held+"/")
	select {
	case <-reached:
	case <-time.After(time.Minute):
		t.Error("the command never asked the server for the script")
	}
	if code != exitProxy || !strings.Contains(stderr, "-pac: ") || !strings.Contains(stderr, "deadline exceeded") {
		t.Errorf("exit %d, stderr %q; want %d and the deadline", code, stderr, exitProxy)
	}
}

// TestPACFlagPaths: -pac takes a path relative to the working directory,
// and a file URL, whose name may need escaping.
func TestPACFlagPaths(t *testing.T) {
	srv := echoServer(t)
	live := wsdialtest.NewProxy()
	t.Cleanup(live.Close)
	dir := t.TempDir()
	src := fmt.Sprintf("function FindProxyForURL(url, host) { return %q; }\n", "PROXY "+strings.TrimPrefix(live.URL, "http://"))
	if err := os.WriteFile(filepath.Join(dir, "proxy script.pac"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	fileURL := (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(dir, "proxy script.pac"))}).String()
	for i, arg := range []string{"proxy script.pac", "./proxy script.pac", fileURL} {
		cmd := command([]string{"-pac", arg, srv.URL})
		cmd.Dir = dir
		stdout, stderr, code := runCmd(t, cmd, "hello\n")
		if code != exitOK || stdout != "hello\n" {
			t.Errorf("-pac %q: exit %d, stdout %q; stderr:\n%s", arg, code, stdout, stderr)
		}
		if n := live.Tunnels(); n != i+1 {
			t.Errorf("-pac %q: the script's proxy opened %d tunnels in all, want %d", arg, n, i+1)
		}
	}
}
