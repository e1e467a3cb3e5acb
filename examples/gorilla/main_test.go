package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/wsdial/wsdial"
)

// TestDemo runs the program as `go run .` does, with no URL: through the
// loopback proxy to the plain and the TLS echo server. The proxy's count
// shows that both went through the tunnel, and the TLS state that TLS ran
// inside it with the target's name.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, nil); err != nil {
		t.Fatalf("%v\noutput so far:\n%s", err, out.String())
	}
	want := `< hello (no TLS)
< hello (TLS to "echo.test", verified: true)
the proxy opened 2 tunnels
`
	if out.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", out.String(), want)
	}
}

// TestProxyRefusal checks that wsdial's typed errors come back through
// gorilla intact: a proxy that wants other credentials fails the run with a
// *wsdial.ProxyError that holds the 407.
func TestProxyRefusal(t *testing.T) {
	d, err := startDemo()
	if err != nil {
		t.Fatal(err)
	}
	defer d.stop()
	err = run(io.Discard, []string{"-proxy", "http://nobody:wrong@" + strings.TrimPrefix(d.proxy.URL, "http://"), d.wsURL})
	var pe *wsdial.ProxyError
	if !errors.As(err, &pe) || pe.StatusCode != 407 || !errors.Is(err, wsdial.ErrProxyAuthRequired) {
		t.Fatalf("run with the wrong proxy credentials: %v; want a *wsdial.ProxyError with status 407", err)
	}
}
