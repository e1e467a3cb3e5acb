package main

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsdial/wsdial/wsdialtest"
)

// Every test here runs the built command, as a user does.

// cliPath is the command, built once for every test.
var cliPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wsdial-cli")
	if err != nil {
		panic(err)
	}
	cliPath = filepath.Join(dir, "wsdial")
	out, err := exec.Command("go", "build", "-o", cliPath, ".").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		panic("building the command: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// command returns the command with args and an environment that has no
// proxy variables, plus env ("NAME=value" entries).
func command(args []string, env ...string) *exec.Cmd {
	cmd := exec.Command(cliPath, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	return cmd
}

// runCLI runs the command with args and stdin, and returns what it printed
// and its exit code.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCmd(t, command(args), stdin)
}

// runCLIEnv is runCLI with env added to the command's environment.
func runCLIEnv(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCmd(t, command(args, env...), stdin)
}

func runCmd(t *testing.T, cmd *exec.Cmd, stdin string) (stdout, stderr string, code int) {
	t.Helper()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// startPiped starts the command with args, its input and output on pipes
// for the test to write and read as it goes.
func startPiped(t *testing.T, args ...string) (*exec.Cmd, io.WriteCloser, io.Reader, *bytes.Buffer) {
	t.Helper()
	cmd := command(args)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, in, out, stderr
}

// echoServer starts a wsdialtest echo server for the test.
func echoServer(t *testing.T) *wsdialtest.Server {
	srv := wsdialtest.NewEchoServer()
	t.Cleanup(srv.Close)
	return srv
}

// proxyWithUser returns p's URL with the demo's credentials in it.
func proxyWithUser(t *testing.T, p *wsdialtest.Proxy) string {
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(demoUser, demoPassword)
	return u.String()
}

func TestDemo(t *testing.T) {
	for _, args := range [][]string{nil, {"-v"}} {
		stdout, stderr, code := runCLI(t, "", args...)
		if code != exitOK {
			t.Fatalf("demo %q exited %d:\n%s", args, code, stderr)
		}
		if want := demoInput; stdout != want {
			t.Errorf("demo printed %q, want the echoes %q", stdout, want)
		}
		for _, want := range []string{"why=the demo's own proxy\n", "tcp connected", "proxy replied", "upgraded status=101", "through 1 tunnel", "closed cleanly"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("the trace lacks %q:\n%s", want, stderr)
			}
		}
		// The demo names its proxy itself: no flag of the user's did.
		if strings.Contains(stderr, "-proxy flag") {
			t.Errorf("the demo's trace blames a -proxy flag that was not given:\n%s", stderr)
		}
		if strings.Contains(stderr, demoPassword) {
			t.Errorf("the trace shows the proxy password:\n%s", stderr)
		}
	}
}

func TestEchoDirectAndThroughProxy(t *testing.T) {
	srv := echoServer(t)
	connect := wsdialtest.NewProxy(wsdialtest.WithBasicAuth(demoUser, demoPassword))
	defer connect.Close()
	socks := wsdialtest.NewSOCKS5Proxy(wsdialtest.WithBasicAuth(demoUser, demoPassword))
	defer socks.Close()
	for _, tt := range []struct {
		name  string
		args  []string
		proxy *wsdialtest.Proxy
	}{
		{"direct", []string{"-no-proxy"}, nil},
		{"CONNECT", []string{"-proxy", proxyWithUser(t, connect)}, connect},
		{"SOCKS5", []string{"-proxy", proxyWithUser(t, socks)}, socks},
		{"environment", nil, nil}, // loopback targets never take an environment proxy
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := 0
			if tt.proxy != nil {
				before = tt.proxy.Tunnels()
			}
			stdout, stderr, code := runCLI(t, "one\ntwo\n", append(tt.args, srv.URL)...)
			if code != exitOK || stdout != "one\ntwo\n" {
				t.Errorf("exit %d, stdout %q; stderr:\n%s", code, stdout, stderr)
			}
			if tt.proxy != nil && tt.proxy.Tunnels() != before+1 {
				t.Errorf("the proxy opened %d tunnels, want 1", tt.proxy.Tunnels()-before)
			}
		})
	}
}

func TestVerboseTrace(t *testing.T) {
	srv := echoServer(t)
	_, stderr, code := runCLI(t, "x\n", "-v", "-no-proxy", srv.URL)
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(srv.URL, "ws://"), "/")
	for _, want := range []string{"direct target=" + addr + " why=the -no-proxy flag", "tcp connect", "upgrade request sent", "upgraded status=101"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the trace lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.HasPrefix(stderr, "[") || !strings.Contains(stderr, "ms] ") {
		t.Errorf("trace lines do not start with the time since start:\n%s", stderr)
	}
}

// TestVerboseSaysWhyDirect checks that -v names the rule that kept the
// environment's proxy from a loopback target, and does not blame NO_PROXY,
// which is empty. (The NO_PROXY case needs a name that is not loopback,
// whose lookup would leave the machine; the library's
// TestLoggerSaysWhichRuleExcludes takes it, with a resolver that fails.)
func TestVerboseSaysWhyDirect(t *testing.T) {
	srv := echoServer(t)
	_, stderr, code := runCLIEnv(t, []string{"HTTP_PROXY=http://127.0.0.1:1"}, "x\n", "-v", srv.URL)
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if want := "why=environment: a loopback target excludes it from HTTP_PROXY\n"; !strings.Contains(stderr, want) || strings.Contains(stderr, "NO_PROXY") {
		t.Errorf("the trace lacks %q, or blames NO_PROXY:\n%s", want, stderr)
	}
}

// TestFlagsReachTheServer checks headers, subprotocols and origin.
func TestFlagsReachTheServer(t *testing.T) {
	got := make(chan http.Header, 1)
	echo := wsdialtest.EchoHandler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		echo.ServeHTTP(w, r)
	}))
	defer srv.Close()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	_, stderr, code := runCLI(t, "", "-no-proxy", "-H", "X-Token: abc", "-subprotocol", "v1", "-subprotocol", "v2", "-origin", "https://app.example", u)
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	h := <-got
	for name, want := range map[string]string{"X-Token": "abc", "Sec-Websocket-Protocol": "v1, v2", "Origin": "https://app.example"} {
		if h.Get(name) != want {
			t.Errorf("%s = %q, want %q", name, h.Get(name), want)
		}
	}
}

// TestBinary sends lines as binary messages, and prints those that come
// back in hex or raw.
func TestBinary(t *testing.T) {
	srv := echoServer(t)
	for _, tt := range []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"hex", "\xde\xad\xbe\xef\n\x00\n", []string{"-binary"}, "deadbeef\n00\n"},
		{"raw", "\xde\xad\xbe\xef\n\x00\n", []string{"-binary", "-raw"}, "\xde\xad\xbe\xef\x00"},
		{"not UTF-8, as bytes", "ok\n\xff\xfe\n", []string{"-binary"}, "6f6b\nfffe\n"},
		{"raw in", "no\nlines\x00here", []string{"-binary", "-raw-in", "-raw"}, "no\nlines\x00here"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, tt.stdin, append(tt.args, "-no-proxy", srv.URL)...)
			if code != exitOK || stdout != tt.want {
				t.Errorf("exit %d, stdout %q, want %q; stderr:\n%s", code, stdout, tt.want, stderr)
			}
		})
	}
}

// TestRawInAsItComes checks that -raw-in sends what stdin gives as it comes,
// without waiting for a line or the end of input.
func TestRawInAsItComes(t *testing.T) {
	srv := echoServer(t)
	cmd, in, out, stderr := startPiped(t, "-no-proxy", "-binary", "-raw-in", srv.URL)
	lines := bufio.NewReader(out)
	for _, chunk := range []string{"ab", "c"} {
		in.Write([]byte(chunk)) // no newline: the echo must come all the same
		got, err := lines.ReadString('\n')
		if want := "\n"; err != nil || !strings.HasSuffix(got, want) {
			t.Fatalf("after %q: %q, %v", chunk, got, err)
		}
		if want := bytesHex(chunk) + "\n"; got != want {
			t.Errorf("after %q: %q, want %q", chunk, got, want)
		}
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("%v; stderr:\n%s", err, stderr.String())
	}
}

func bytesHex(s string) string {
	const digits = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(digits[s[i]>>4])
		b.WriteByte(digits[s[i]&15])
	}
	return b.String()
}

// TestInputThatCannotGoOut checks that a line the command cannot send is an
// error with a non-zero exit, after the lines before it went out.
func TestInputThatCannotGoOut(t *testing.T) {
	srv := echoServer(t)
	long := "first\n" + strings.Repeat("x", maxLine+1) + "\nlast\n"
	for _, tt := range []struct {
		name, stdin, words string
	}{
		{"not UTF-8", "first\n\xff\xfe\nlast\n", "line 2 is not UTF-8"},
		{"too long", long, "line 2 is longer than 16 MiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, tt.stdin, "-no-proxy", srv.URL)
			if code != exitFailure || stdout != "first\n" {
				t.Errorf("exit %d, %d bytes on stdout (%.40q...); want %d and only the first line's echo", code, len(stdout), stdout, exitFailure)
			}
			if !strings.Contains(stderr, tt.words) {
				t.Errorf("stderr lacks %q:\n%s", tt.words, stderr)
			}
		})
	}
	// A line of exactly the limit goes out. Input stays open until its echo
	// is back, so that the echo's time is not bounded by the wait at the
	// end of input.
	cmd, in, out, stderr := startPiped(t, "-no-proxy", srv.URL)
	go in.Write([]byte(strings.Repeat("y", maxLine) + "\n"))
	echo := make([]byte, maxLine+1)
	if _, err := io.ReadFull(out, echo); err != nil || echo[maxLine] != '\n' || strings.Trim(string(echo[:maxLine]), "y") != "" {
		t.Errorf("a line at the limit: %v; stderr:\n%s", err, stderr.String())
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("a line at the limit: %v; stderr:\n%s", err, stderr.String())
	}
}

func TestTLS(t *testing.T) {
	srv := wsdialtest.NewTLSEchoServer()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code := runCLI(t, "secure\n", "-no-proxy", "-cacert", ca, srv.URL); code != exitOK || stdout != "secure\n" {
		t.Errorf("with -cacert: exit %d, stdout %q; stderr:\n%s", code, stdout, stderr)
	}
	stdout, stderr, code := runCLI(t, "anyway\n", "-no-proxy", "-insecure", srv.URL)
	if code != exitOK || stdout != "anyway\n" || !strings.Contains(stderr, "WARNING") {
		t.Errorf("with -insecure: exit %d, stdout %q; stderr:\n%s", code, stdout, stderr)
	}
}

func TestHelp(t *testing.T) {
	for _, flag := range []string{"-h", "-help", "--help"} {
		stdout, stderr, code := runCLI(t, "", flag)
		if code != exitOK || stderr != "" {
			t.Errorf("%s: exit %d, stderr %q; want 0 and nothing", flag, code, stderr)
		}
		for _, want := range []string{"usage: wsdial", "-proxy URL", "-binary", "-raw-in", "-v"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: the usage on stdout lacks %q:\n%s", flag, want, stdout)
			}
		}
	}
}

// TestUsageErrors checks that each usage error exits 2, names what was
// wrong, and dials nothing.
func TestUsageErrors(t *testing.T) {
	srv := echoServer(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	missing := filepath.Join(dir, "missing.pem")
	for _, tt := range []struct {
		name  string
		args  []string
		words string
	}{
		{"URL that does not parse", []string{"ws://[::1/"}, "URL"},
		{"URL of another scheme", []string{"ftp://127.0.0.1/"}, `URL: scheme "ftp"`},
		{"URL with a port out of range", []string{"ws://127.0.0.1:99999/"}, "URL"},
		{"two URLs", []string{"ws://a/", "ws://b/"}, "one URL at most"},
		{"unknown flag", []string{"-nope", srv.URL}, "flag provided but not defined: -nope"},
		{"-proxy that does not parse", []string{"-proxy", "http://[::1", srv.URL}, "-proxy: "},
		{"-proxy of another scheme", []string{"-proxy", "ftp://127.0.0.1:1", srv.URL}, "-proxy: "},
		{"-H the handshake owns", []string{"-H", "Sec-WebSocket-Key: x", srv.URL}, "-H: "},
		{"-H with no colon", []string{"-H", "no colon", srv.URL}, "-H: "},
		{"-proxy-header with a newline", []string{"-proxy-header", "X-A: a\nb", srv.URL}, "-proxy-header: "},
		{"-subprotocol not a token", []string{"-subprotocol", "a b", srv.URL}, "-subprotocol: "},
		{"-origin with a newline", []string{"-origin", "https://a\nb", srv.URL}, "-origin: "},
		{"-cacert missing", []string{"-cacert", missing, srv.URL}, "-cacert: "},
		{"-cacert not PEM", []string{"-cacert", notPEM, srv.URL}, "-cacert: "},
		{"-proxy-cacert missing", []string{"-proxy-cacert", missing, srv.URL}, "-proxy-cacert: "},
		{"-proxy and -no-proxy", []string{"-proxy", "http://127.0.0.1:1", "-no-proxy", srv.URL}, "exclude"},
		{"-raw-in without -binary", []string{"-raw-in", srv.URL}, "-raw-in needs -binary"},
		{"flags with no URL", []string{"-raw", "-timeout", "1s"}, "-raw, -timeout given with no URL"},
		{"-v and another flag with no URL", []string{"-v", "-no-proxy"}, "-no-proxy given with no URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, "", tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, "usage") || !strings.Contains(stderr, tt.words) {
				t.Errorf("stderr lacks %q:\n%s", tt.words, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
}

// TestExitCodes checks one failure of each stage: its code, and one line
// that names the stage.
func TestExitCodes(t *testing.T) {
	srv := echoServer(t)
	proxy := wsdialtest.NewProxy(wsdialtest.WithBasicAuth(demoUser, demoPassword))
	defer proxy.Close()
	tlsSrv := wsdialtest.NewTLSEchoServer()
	defer tlsSrv.Close()
	notWS := httptest.NewServer(http.NotFoundHandler())
	defer notWS.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedAddr := closed.Listener.Addr().String()
	closed.Close()
	tests := []struct {
		name  string
		args  []string
		code  int
		words string
	}{
		{"proxy refuses connection", []string{"-proxy", "http://" + closedAddr, srv.URL}, exitProxy, "proxy"},
		{"proxy wants credentials", []string{"-proxy", proxy.URL, srv.URL}, exitProxy, "407"},
		{"untrusted certificate", []string{"-no-proxy", tlsSrv.URL}, exitTLS, "tls"},
		{"not a WebSocket", []string{"-no-proxy", "ws" + strings.TrimPrefix(notWS.URL, "http") + "/"}, exitHandshake, "404"},
		{"refused", []string{"-no-proxy", "ws://" + closedAddr + "/"}, exitFailure, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.words) {
				t.Errorf("stderr lacks %q:\n%s", tt.words, stderr)
			}
		})
	}
}

// TestHandshakeBody checks that a declined upgrade shows the first lines of
// what the server said, with their control characters escaped.
func TestHandshakeBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte("no entry for you\r\nask \x1b[31mthe admin\x1b[0m\nline 3\nline 4\nline 5\nline 6\nline 7\n"))
	}))
	defer srv.Close()
	_, stderr, code := runCLI(t, "", "-no-proxy", "ws"+strings.TrimPrefix(srv.URL, "http")+"/")
	if code != exitHandshake {
		t.Errorf("exit %d, want %d", code, exitHandshake)
	}
	for _, want := range []string{"403 Forbidden", "  no entry for you\n", `  ask \x1b[31mthe admin\x1b[0m` + "\n", "  line 5\n", "  ...\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "line 6") || strings.Contains(stderr, "\x1b") {
		t.Errorf("stderr shows more than five lines, or a raw escape:\n%q", stderr)
	}
}

// acceptUpgrade answers the upgrade with 101 and takes the connection over.
func acceptUpgrade(w http.ResponseWriter, r *http.Request) (net.Conn, *bufio.ReadWriter, error) {
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	w.Header().Set("Upgrade", "websocket")
	w.Header().Set("Connection", "Upgrade")
	w.Header().Set("Sec-WebSocket-Accept", base64.StdEncoding.EncodeToString(sum[:]))
	w.WriteHeader(http.StatusSwitchingProtocols)
	return http.NewResponseController(w).Hijack()
}

// serverFrame is a small unmasked frame, as a server sends it.
func serverFrame(op byte, payload string) []byte {
	return append([]byte{0x80 | op, byte(len(payload))}, payload...)
}
