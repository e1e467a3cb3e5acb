package wsdial

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsdial/wsdial/wsdialtest"
)

// echoOnce sends one message on c and checks that it comes back.
func echoOnce(t *testing.T, c *Conn) {
	t.Helper()
	if err := c.WriteMessage(TextMessage, []byte("zero")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "zero" {
		t.Fatalf("echo: %q, %v", msg, err)
	}
}

// TestZeroDialerDials dials with a zero Dialer, by each of its methods, and
// checks that its first use gave it exactly the settings of New().
func TestZeroDialerDials(t *testing.T) {
	setEnv(t, map[string]string{"HTTPS_PROXY": "http://127.0.0.1:1", "NO_PROXY": "example.test"})
	// Only proxyFor looks at the proxy here: nothing dials 127.0.0.1:1.
	srv := wsdialtest.NewEchoServer()
	defer srv.Close()
	addr := strings.TrimSuffix(strings.TrimPrefix(srv.URL, "ws://"), "/")

	var d Dialer
	c, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	echoOnce(t, c)
	c.Close()
	for name, dial := range map[string]func() (net.Conn, error){
		"Dial":        func() (net.Conn, error) { return d.Dial("tcp", addr) },
		"DialContext": func() (net.Conn, error) { return d.DialContext(context.Background(), "tcp", addr) },
	} {
		nc, err := dial()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		nc.Close()
	}

	want := mustNew(t)
	if !reflect.DeepEqual(d.cfg, want.cfg) {
		t.Errorf("the zero Dialer's settings\n%+v\ndiffer from New()'s\n%+v", *d.cfg, *want.cfg)
	}
	// The proxy each target takes, as the environment above says.
	for _, target := range []struct{ scheme, address string }{
		{"https", "chat.example:443"}, {"https", "intranet.example.test:443"},
		{"http", "chat.example:80"}, {"https", "127.0.0.1:443"},
	} {
		got, gotErr := d.proxyFor(target.scheme, target.address)
		wantPx, wantErr := want.proxyFor(target.scheme, target.address)
		if (got == nil) != (wantPx == nil) || got != nil && got.redacted != wantPx.redacted || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s://%s: the zero Dialer takes the proxy %v (%v), New()'s %v (%v)", target.scheme, target.address, got, gotErr, wantPx, wantErr)
		}
	}
	if d.cfg.handshakeTimeout != 30*time.Second || d.tlsBase.RootCAs != nil || d.netDialer == nil {
		t.Errorf("the zero Dialer has timeout %v, roots %v, dialer %v; want 30 s, the system roots and a net.Dialer",
			d.cfg.handshakeTimeout, d.tlsBase.RootCAs, d.netDialer)
	}
}

// TestZeroDialerReadsEnvironmentAtFirstUse checks the zero Dialer's
// promise: the environment is read at its first use, not when it is
// declared, and not again after.
func TestZeroDialerReadsEnvironmentAtFirstUse(t *testing.T) {
	setEnv(t, map[string]string{"HTTPS_PROXY": "http://declared.invalid:1"})
	var d Dialer
	t.Setenv("HTTPS_PROXY", "http://first-use.invalid:1")
	// The first use: a dial refused before any traffic readies d all the same.
	if _, err := d.DialWebSocket(context.Background(), "ftp://chat.example/"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("dial: %v, want ErrInvalid", err)
	}
	t.Setenv("HTTPS_PROXY", "http://later.invalid:1")
	px, err := d.proxyFor("https", "chat.example:443")
	if err != nil || px == nil || px.url.Host != "first-use.invalid:1" {
		t.Errorf("the zero Dialer takes the proxy %v (%v), want the one set at its first use", px, err)
	}
}

// TestZeroDialerThroughHTTPSProxy dials wss://echo.test/ with a zero Dialer,
// which must take the proxy from HTTPS_PROXY, as the name is not loopback,
// and verify the server against the system roots. The test's proxy alone
// knows echo.test, and routes it to a TLS echo server on loopback: nothing
// leaves the machine. The system roots are read once per process, so the
// dial runs in a child process whose SSL_CERT_FILE holds the server's
// certificate.
func TestZeroDialerThroughHTTPSProxy(t *testing.T) {
	if os.Getenv("WSDIAL_ZERO_CHILD") == "1" {
		var d Dialer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := d.DialWebSocket(ctx, "wss://echo.test/")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		echoOnce(t, c)
		return
	}
	srv := wsdialtest.NewTLSEchoServer()
	defer srv.Close()
	proxy := wsdialtest.NewProxy(wsdialtest.WithRoute("echo.test:443", strings.TrimPrefix(strings.TrimSuffix(srv.URL, "/"), "wss://")))
	defer proxy.Close()
	roots := filepath.Join(t.TempDir(), "roots.pem")
	if err := os.WriteFile(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		env    []string
		passes bool
	}{
		{"trusted", []string{"SSL_CERT_FILE=" + roots}, true},
		// Without the certificate in the system roots the same dial must fail:
		// the zero Dialer verifies.
		{"untrusted", []string{"SSL_CERT_FILE=" + filepath.Join(t.TempDir(), "none.pem")}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := proxy.Tunnels()
			cmd := exec.Command(os.Args[0], "-test.run=^TestZeroDialerThroughHTTPSProxy$", "-test.count=1")
			cmd.Env = append(os.Environ(), "WSDIAL_ZERO_CHILD=1", "HTTPS_PROXY="+proxy.URL, "https_proxy=", "NO_PROXY=", "no_proxy=",
				"ALL_PROXY=", "all_proxy=", "SSL_CERT_DIR="+t.TempDir())
			cmd.Env = append(cmd.Env, tt.env...)
			out, err := cmd.CombinedOutput()
			if (err == nil) != tt.passes {
				t.Fatalf("child: %v, want it to pass: %v\n%s", err, tt.passes, out)
			}
			if !tt.passes && !strings.Contains(string(out), "certificate") {
				t.Errorf("the child failed, but not on the certificate:\n%s", out)
			}
			if proxy.Tunnels() != before+1 {
				t.Errorf("the proxy opened %d tunnels, want 1", proxy.Tunnels()-before)
			}
		})
	}
}

// TestZeroDialerConcurrentFirstUse uses one zero Dialer from many goroutines
// at once, by all its methods, for the race detector to watch its first use.
func TestZeroDialerConcurrentFirstUse(t *testing.T) {
	setEnv(t, nil)
	srv := wsdialtest.NewEchoServer()
	defer srv.Close()
	tlsSrv := wsdialtest.NewTLSEchoServer()
	defer tlsSrv.Close()
	addr := strings.TrimSuffix(strings.TrimPrefix(srv.URL, "ws://"), "/")
	tlsAddr := strings.TrimSuffix(strings.TrimPrefix(tlsSrv.URL, "wss://"), "/")
	for range 4 {
		var d Dialer
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for i := range 16 {
			wg.Go(func() {
				<-start
				var err error
				switch i % 4 {
				case 0:
					var c *Conn
					if c, err = d.DialWebSocket(context.Background(), srv.URL); err == nil {
						c.Close()
					}
				case 1:
					var c net.Conn
					if c, err = d.DialContext(context.Background(), "tcp", addr); err == nil {
						c.Close()
					}
				case 2:
					var c net.Conn
					if c, err = d.Dial("tcp", addr); err == nil {
						c.Close()
					}
				case 3:
					// The server's certificate is not in the system roots:
					// the dial reaches TLS, and fails there.
					_, err = d.DialTLSContext(context.Background(), "tcp", tlsAddr)
					if err == nil || !strings.Contains(err.Error(), "certificate") {
						err = fmt.Errorf("DialTLSContext: %v, want a certificate error", err)
					} else {
						err = nil
					}
				}
				if err != nil {
					errs <- err
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

// zeroValues holds a zero value of each exported type whose methods
// TestZeroValuesDoNotPanic calls.
var zeroValues = []any{
	new(Dialer),
	new(Conn),
	new(HandshakeError),
	new(ProxyError),
	new(CloseError),
	new(ProtocolError),
	new(StatusCode),
	new(MessageType),
	new(Compression),
	new(SOCKSReply),
}

// notZeroCalled are the exported types that zeroValues leaves out, and why.
var notZeroCalled = map[string]string{
	"Option":             "a function type, without methods",
	"ProxyAuthenticator": "an interface",
	"ProxyAuthSession":   "an interface",
	"ProxyAuthScheme":    "an interface",
	"ProxyAuthVerifier":  "an interface",
}

// TestZeroValuesDoNotPanic calls every method of a zero value of each
// exported type, with zero arguments, and checks that none panics or hangs.
// A zero Dialer's dials fail on their empty arguments before any traffic.
func TestZeroValuesDoNotPanic(t *testing.T) {
	setEnv(t, nil)
	covered := map[string]bool{}
	for _, v := range zeroValues {
		covered[reflect.TypeOf(v).Elem().Name()] = true
		for i := range reflect.TypeOf(v).NumMethod() {
			// A value of its own for each method, so that none sees what
			// another left behind.
			ptr := reflect.New(reflect.TypeOf(v).Elem())
			m := ptr.Type().Method(i)
			args := []reflect.Value{ptr}
			for j := 1; j < m.Type.NumIn(); j++ {
				args = append(args, reflect.Zero(m.Type.In(j)))
			}
			name := ptr.Elem().Type().Name() + "." + m.Name
			done := make(chan any, 1)
			go func() {
				defer func() { done <- recover() }()
				m.Func.Call(args)
			}()
			select {
			case r := <-done:
				if r != nil {
					t.Errorf("%s panics on a zero value: %v", name, r)
				}
			case <-time.After(time.Minute):
				t.Errorf("%s hangs on a zero value", name)
			}
		}
	}
	// Every exported type of the package is either called or named above.
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var missing []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				name := spec.(*ast.TypeSpec).Name.Name
				if ast.IsExported(name) && !covered[name] && notZeroCalled[name] == "" {
					missing = append(missing, name)
				}
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("exported types with no zero value in zeroValues, nor a reason in notZeroCalled: %v", missing)
	}
}

// TestZeroConn calls every method of a zero Conn, one that no dial or
// Handshake made, with arguments that would be valid on an open one: each
// returns at once, and each error matches net.ErrClosed, as on a closed
// connection, so that a loop that reads until then ends.
func TestZeroConn(t *testing.T) {
	calls := map[string]func(c *Conn) error{
		"NextReader":       func(c *Conn) error { _, _, err := c.NextReader(); return err },
		"ReadMessage":      func(c *Conn) error { _, _, err := c.ReadMessage(); return err },
		"NextWriter":       func(c *Conn) error { _, err := c.NextWriter(TextMessage); return err },
		"WriteMessage":     func(c *Conn) error { return c.WriteMessage(BinaryMessage, []byte("x")) },
		"Ping":             func(c *Conn) error { return c.Ping([]byte("x")) },
		"Close":            func(c *Conn) error { return c.Close() },
		"CloseWithStatus":  func(c *Conn) error { return c.CloseWithStatus(StatusGoingAway, "bye") },
		"CloseWrite":       func(c *Conn) error { return c.CloseWrite() },
		"SetReadDeadline":  func(c *Conn) error { return c.SetReadDeadline(time.Now().Add(time.Hour)) },
		"SetWriteDeadline": func(c *Conn) error { return c.SetWriteDeadline(time.Now().Add(time.Hour)) },
	}
	for name, call := range calls {
		done := make(chan any, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- fmt.Sprintf("panics: %v", r)
				}
			}()
			done <- call(new(Conn))
		}()
		select {
		case r := <-done:
			if err, ok := r.(error); !ok || !errors.Is(err, net.ErrClosed) {
				t.Errorf("%s on a zero Conn: %v, want an error that matches net.ErrClosed", name, r)
			}
		case <-time.After(time.Minute): // a guard against hanging, not a bound the test measures
			t.Errorf("%s on a zero Conn hangs", name)
		}
	}
	var c Conn
	if c.LocalAddr() != nil || c.RemoteAddr() != nil || c.NetConn() != nil || c.Subprotocol() != "" {
		t.Errorf("a zero Conn has addresses %v, %v, stream %v, subprotocol %q; want none", c.LocalAddr(), c.RemoteAddr(), c.NetConn(), c.Subprotocol())
	}
}
