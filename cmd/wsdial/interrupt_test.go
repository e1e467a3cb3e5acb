package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stallServer accepts connections and reads what they send, answering
// nothing; reached receives once a connection's first bytes arrive.
func stallServer(t *testing.T) (addr string, reached <-chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 1)
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			var b [1]byte
			if _, err := c.Read(b[:]); err == nil {
				ch <- struct{}{}
			}
			// The client or the cleanup's close ends this.
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	return ln.Addr().String(), ch
}

// TestInterrupt sends SIGINT and SIGTERM while the command dials (held by
// a server or by a proxy), while it loads a -pac script, and while it runs a session (idle, or blocked in
// a write to a server that reads nothing), and checks that it ends with
// 128 plus the signal's number and the one word "interrupted", blaming
// neither server nor proxy.
func TestInterrupt(t *testing.T) {
	upgraded := make(chan struct{}, 1)
	release := make(chan struct{})
	session := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := acceptUpgrade(w, r)
		if err != nil {
			return
		}
		defer c.Close()
		// The first byte of a frame: the client is done with the handshake
		// and writing. From here on, read nothing.
		if _, err := brw.ReadByte(); err == nil {
			upgraded <- struct{}{}
		}
		<-release
	}))
	defer session.Close()
	defer close(release)
	sessionURL := "ws" + strings.TrimPrefix(session.URL, "http") + "/"

	server, serverReached := stallServer(t)
	proxy, proxyReached := stallServer(t)
	for _, tt := range []struct {
		name    string
		args    []string
		stdin   io.Reader
		reached <-chan struct{}
	}{
		{"dial held by the server", []string{"-no-proxy", "ws://" + server + "/"}, strings.NewReader(""), serverReached},
		{"dial held by the proxy", []string{"-proxy", "http://" + proxy, "ws://" + server + "/"}, strings.NewReader(""), proxyReached},
		{"-pac script held by its server", []string{"-pac", "http://" + proxy + "/proxy.pac", "ws://" + server + "/"}, strings.NewReader(""), proxyReached},
		{"idle session", []string{"-no-proxy", sessionURL}, nil, upgraded},
		{"session blocked in a write", []string{"-no-proxy", sessionURL}, endlessLines{}, upgraded},
	} {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			t.Run(tt.name+"/"+sig.String(), func(t *testing.T) {
				cmd := command(tt.args)
				stdin := tt.stdin
				if stdin == nil {
					// One line, then an input that stays open.
					r, w, err := os.Pipe()
					if err != nil {
						t.Fatal(err)
					}
					defer r.Close()
					defer w.Close()
					w.Write([]byte("x\n"))
					stdin = r
				}
				cmd.Stdin = stdin
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				select {
				case <-tt.reached:
					cmd.Process.Signal(sig)
				case err := <-done:
					t.Fatalf("the command ended before it was interrupted: %v; stderr:\n%s", err, stderr.String())
				}
				select {
				case err := <-done:
					want := 128 + int(sig)
					if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != want {
						t.Errorf("exit %v, want code %d; stderr:\n%s", err, want, stderr.String())
					}
				case <-time.After(time.Minute):
					cmd.Process.Kill()
					<-done
					t.Fatalf("the interrupt did not end the command; stderr:\n%s", stderr.String())
				}
				if stderr.String() != "wsdial: interrupted\n" {
					t.Errorf("stderr %q, want only the interrupt", stderr.String())
				}
			})
		}
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
