package main

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsdial/wsdial/internal/demoserver"
)

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

// runCLI runs the command with args and stdin, with no proxy variables in
// its environment.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLIEnv(t, nil, stdin, args...)
}

// runCLIEnv is runCLI with env added to the command's environment.
func runCLIEnv(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(cliPath, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// startServers runs the demo's echo server and proxy for a test.
func startServers(t *testing.T) (echo, proxy string) {
	var s demoserver.Servers
	t.Cleanup(s.Stop)
	echo, err := s.Listen(http.HandlerFunc(s.Echo))
	if err != nil {
		t.Fatal(err)
	}
	proxy, err = s.Listen(http.HandlerFunc(s.Proxy))
	if err != nil {
		t.Fatal(err)
	}
	return echo, proxy
}

func TestDemo(t *testing.T) {
	stdout, stderr, code := runCLI(t, "")
	if code != exitOK {
		t.Fatalf("demo exited %d:\n%s", code, stderr)
	}
	if want := demoInput; stdout != want {
		t.Errorf("demo printed %q, want the echoes %q", stdout, want)
	}
	for _, want := range []string{"why=the -proxy flag", "tcp connected", "proxy replied", "upgraded status=101", "closed cleanly"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the trace lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, demoserver.Password) {
		t.Errorf("the trace shows the proxy password:\n%s", stderr)
	}
}

func TestEchoDirectAndThroughProxy(t *testing.T) {
	echo, proxy := startServers(t)
	for name, args := range map[string][]string{
		"direct":      {"-no-proxy"},
		"proxy":       {"-proxy", "http://" + demoserver.User + ":" + demoserver.Password + "@" + proxy},
		"environment": {}, // loopback targets never take an environment proxy
	} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, "one\ntwo\n", append(args, "ws://"+echo+"/echo")...)
			if code != exitOK || stdout != "one\ntwo\n" {
				t.Errorf("exit %d, stdout %q; stderr:\n%s", code, stdout, stderr)
			}
		})
	}
}

func TestVerboseTrace(t *testing.T) {
	echo, _ := startServers(t)
	_, stderr, code := runCLI(t, "x\n", "-v", "-no-proxy", "ws://"+echo+"/echo")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	for _, want := range []string{"direct target=" + echo + " why=the -no-proxy flag", "tcp connect", "upgrade request sent", "upgraded status=101"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("the trace lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.HasPrefix(stderr, "[") || !strings.Contains(stderr, "ms] ") {
		t.Errorf("trace lines do not start with the time since start:\n%s", stderr)
	}
}

// TestFlagsReachTheServer checks headers, subprotocols and origin.
func TestFlagsReachTheServer(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.Header().Set("Sec-WebSocket-Protocol", "v2")
		upgradeAndClose(w, r)
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

// acceptUpgrade answers the upgrade with 101 and takes the connection over.
func acceptUpgrade(w http.ResponseWriter, r *http.Request) (net.Conn, *bufio.ReadWriter, error) {
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	w.Header().Set("Upgrade", "websocket")
	w.Header().Set("Connection", "Upgrade")
	w.Header().Set("Sec-WebSocket-Accept", base64.StdEncoding.EncodeToString(sum[:]))
	w.WriteHeader(http.StatusSwitchingProtocols)
	return http.NewResponseController(w).Hijack()
}

// upgradeAndClose accepts the upgrade, sends a binary message, then closes
// with 1000 once the client's close comes.
func upgradeAndClose(w http.ResponseWriter, r *http.Request) {
	c, brw, err := acceptUpgrade(w, r)
	if err != nil {
		return
	}
	defer c.Close()
	demoserver.WriteServerFrame(c, true, 0x2, []byte{0xde, 0xad, 0xbe, 0xef})
	for {
		_, op, payload, err := demoserver.ReadClientFrame(brw.Reader)
		if err != nil {
			return
		}
		if op == 0x8 {
			demoserver.WriteServerFrame(c, true, 0x8, payload)
			return
		}
	}
}

func TestBinaryOutput(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(upgradeAndClose))
	defer srv.Close()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
	if stdout, stderr, code := runCLI(t, "", "-no-proxy", u); code != exitOK || stdout != "deadbeef\n" {
		t.Errorf("hex: exit %d, stdout %q; stderr:\n%s", code, stdout, stderr)
	}
	if stdout, stderr, code := runCLI(t, "", "-no-proxy", "-raw", u); code != exitOK || stdout != "\xde\xad\xbe\xef" {
		t.Errorf("raw: exit %d, stdout %q; stderr:\n%s", code, stdout, stderr)
	}
}

func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(new(demoserver.Servers).Echo))
	defer srv.Close()
	u := "wss" + strings.TrimPrefix(srv.URL, "https") + "/"
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code := runCLI(t, "secure\n", "-no-proxy", "-cacert", ca, u); code != exitOK || stdout != "secure\n" {
		t.Errorf("with -cacert: exit %d, stdout %q; stderr:\n%s", code, stdout, stderr)
	}
	stdout, stderr, code := runCLI(t, "anyway\n", "-no-proxy", "-insecure", u)
	if code != exitOK || stdout != "anyway\n" || !strings.Contains(stderr, "WARNING") {
		t.Errorf("with -insecure: exit %d, stdout %q; stderr:\n%s", code, stdout, stderr)
	}
}

// TestExitCodes checks one failure of each kind: its code, and one line
// that names the stage.
func TestExitCodes(t *testing.T) {
	echo, proxy := startServers(t)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(new(demoserver.Servers).Echo))
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
		{"two URLs", []string{"ws://a/", "ws://b/"}, exitUsage, "usage"},
		{"unknown flag", []string{"-nope", "ws://a/"}, exitUsage, "flag provided but not defined"},
		{"bad header", []string{"-H", "no colon", "ws://a/"}, exitUsage, "Name: value"},
		{"proxy and no-proxy", []string{"-proxy", "http://p:1", "-no-proxy", "ws://a/"}, exitUsage, "exclude"},
		{"proxy refuses connection", []string{"-proxy", "http://" + closedAddr, "ws://" + echo + "/"}, exitProxy, "proxy"},
		{"proxy wants credentials", []string{"-proxy", "http://" + proxy, "ws://" + echo + "/"}, exitProxy, "407"},
		{"proxy scheme", []string{"-proxy", "ftp://" + proxy, "ws://" + echo + "/"}, exitUsage, "not supported"},
		{"untrusted certificate", []string{"-no-proxy", "wss" + strings.TrimPrefix(tlsSrv.URL, "https") + "/"}, exitTLS, "tls"},
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

// TestInterruptDuringBlockedWrite sends an endless input to a server that
// accepts the upgrade and then reads nothing, so that writes block, and
// checks that an interrupt still ends the command.
func TestInterruptDuringBlockedWrite(t *testing.T) {
	upgraded := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := acceptUpgrade(w, r)
		if err != nil {
			return
		}
		defer c.Close()
		// The first byte of a frame: the client is done with the
		// handshake and writing. From here on, read nothing.
		if _, err := brw.ReadByte(); err == nil {
			upgraded <- struct{}{}
		}
		<-release
	}))
	defer srv.Close()
	defer close(release)

	cmd := exec.Command(cliPath, "-no-proxy", "ws"+strings.TrimPrefix(srv.URL, "http")+"/")
	cmd.Stdin = endlessLines{}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Once connected the command writes until the buffers fill and the
	// write blocks; the interrupt must end it then, or before.
	select {
	case <-upgraded:
		cmd.Process.Signal(os.Interrupt)
	case err := <-done:
		t.Fatalf("the command ended before it was interrupted: %v; stderr:\n%s", err, stderr.String())
	}
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFailure {
			t.Errorf("exit %v, want code %d; stderr:\n%s", err, exitFailure, stderr.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("the interrupt did not end the command; stderr:\n%s", stderr.String())
	}
}

// endlessLines is an input that never ends.
type endlessLines struct{}

func (endlessLines) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
		if i%64 == 63 {
			p[i] = '\n'
		}
	}
	return len(p), nil
}
