package pac

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const directScript = `function FindProxyForURL(url, host) { return isPlainHostName(host) ? "DIRECT" : "PROXY p.corp:8080"; }`

// pacServer serves PAC files from a map of paths on 127.0.0.1.
func pacServer(t *testing.T, tls bool, files map[string]string) *httptest.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect.pac":
			http.Redirect(w, r, "/proxy.pac", http.StatusFound)
			return
		case "/endless.pac":
			w.Write([]byte("function FindProxyForURL() { return 'DIRECT'; }\n"))
			for {
				if _, err := w.Write([]byte(strings.Repeat("//", 4096))); err != nil {
					return
				}
			}
		}
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/x-ns-proxy-autoconfig")
		fmt.Fprint(w, body)
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestLoadHTTPAndHTTPS(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		srv := pacServer(t, useTLS, map[string]string{"/proxy.pac": directScript})
		opts := []Option{WithMyIPAddress(fixedIP)}
		if useTLS {
			opts = append(opts, WithHTTPClient(srv.Client()))
		}
		for _, path := range []string{"/proxy.pac", "/redirect.pac"} {
			s, err := Load(context.Background(), srv.URL+path, opts...)
			if err != nil {
				t.Fatalf("Load(%s): %v", srv.URL+path, err)
			}
			if got := mustFind(t, s, "https://www.example.com/"); got != "PROXY p.corp:8080" {
				t.Errorf("answer %q", got)
			}
		}
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proxy script.pac")
	if err := os.WriteFile(path, []byte(directScript), 0o600); err != nil {
		t.Fatal(err)
	}
	u := (&url.URL{Scheme: "file", Path: path}).String()
	s, err := Load(context.Background(), u, WithMyIPAddress(fixedIP))
	if err != nil {
		t.Fatalf("Load(%s): %v", u, err)
	}
	if got := mustFind(t, s, "http://printer/"); got != "DIRECT" {
		t.Errorf("answer %q", got)
	}
	if _, err := Load(context.Background(), "file://fileserver/share/proxy.pac"); err == nil || !strings.Contains(err.Error(), "only local files") {
		t.Errorf("file URL with a host: %v", err)
	}
	if _, err := Load(context.Background(), "file://"+filepath.Join(t.TempDir(), "missing.pac")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadRefusals(t *testing.T) {
	big := "function FindProxyForURL() { return 'DIRECT'; }\n" + strings.Repeat("// filler\n", 200)
	srv := pacServer(t, false, map[string]string{
		"/bad.pac":   `function FindProxyForURL( {`,
		"/none.pac":  `function findProxy() {}`,
		"/big.pac":   big,
		"/empty.pac": ``,
	})
	for _, tc := range []struct {
		url  string
		opts []Option
		want string
	}{
		{srv.URL + "/missing.pac", nil, "status 404"},
		{srv.URL + "/bad.pac", nil, "does not compile"},
		{srv.URL + "/bad.pac", nil, "script from " + srv.URL + "/bad.pac"},
		{srv.URL + "/none.pac", nil, "defines no FindProxyForURL"},
		{srv.URL + "/big.pac", []Option{WithMaxScriptSize(1000)}, "the limit is 1000"},
		{srv.URL + "/endless.pac", []Option{WithMaxScriptSize(1 << 16)}, "larger than the limit of 65536 bytes"},
		{srv.URL + "/empty.pac", nil, "is empty"},
		{"ftp://example.com/proxy.pac", nil, `scheme "ftp" is not supported`},
		{"::not a url", nil, "script URL"},
	} {
		_, err := Load(context.Background(), tc.url, append([]Option{WithMyIPAddress(fixedIP)}, tc.opts...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) = %v, want an error saying %q", tc.url, err, tc.want)
		}
	}
	// The same size passes when the cap allows it.
	if _, err := Load(context.Background(), srv.URL+"/big.pac", WithMaxScriptSize(int64(len(big)))); err != nil {
		t.Errorf("Load at exactly the cap: %v", err)
	}
}

func TestLoadHonoursContext(t *testing.T) {
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done() // never answers
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	if _, err := Load(ctx, srv.URL+"/proxy.pac"); !errors.Is(err, context.Canceled) {
		t.Errorf("Load cancelled while waiting for the server = %v", err)
	}
}

// record is a list that a server's handler or a transport's dialer can add
// to from their own goroutines.
type record struct {
	mu    sync.Mutex
	items []string
}

func (r *record) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, s)
}

func (r *record) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.items, ",")
}

// TestDiscover: Discover asks for http://wpad/wpad.dat, the name "wpad" and
// nothing else; the test's client dials a loopback server for it.
func TestDiscover(t *testing.T) {
	var asked, dialed record
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.add(r.Host + r.URL.Path)
		if r.URL.Path != "/wpad.dat" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, directScript)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed.add(addr)
			if addr != "wpad:80" {
				return nil, fmt.Errorf("test: refusing to dial %s", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, "tcp", srv.Listener.Addr().String())
		},
	}}
	s, err := Discover(context.Background(), WithHTTPClient(client), WithMyIPAddress(fixedIP))
	if err != nil {
		t.Fatal(err)
	}
	if got := mustFind(t, s, "http://intranet/"); got != "DIRECT" {
		t.Errorf("answer %q", got)
	}
	if dialed.String() != "wpad:80" || asked.String() != "wpad/wpad.dat" {
		t.Errorf("dialed %v, asked %v; want wpad:80 and wpad/wpad.dat alone", &dialed, &asked)
	}
}

// TestDiscoverNeverWalksUp: when wpad does not answer, Discover fails; it
// does not try wpad's parent domains.
func TestDiscoverNeverWalksUp(t *testing.T) {
	var dialed record
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed.add(addr)
			return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
		},
	}}
	if _, err := Discover(context.Background(), WithHTTPClient(client)); err == nil {
		t.Fatal("Discover succeeded with no wpad")
	}
	if dialed.String() != "wpad:80" {
		t.Errorf("dialed %v, want wpad:80 alone", &dialed)
	}
}
