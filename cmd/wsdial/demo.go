package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/wsdial/wsdial/wsdialtest"
)

// The demo proxy's credentials. They exist only inside the process.
const demoUser, demoPassword = "demo", "wsdial-demo"

// demoInput is what the demo types.
const demoInput = "hello, world\nthrough an authenticating proxy\nbye\n"

// demo starts an echo server and a CONNECT proxy on loopback, dials the one
// through the other with the stage trace on, and shuts both down again.
func demo(ctx context.Context, f flags, stdout, stderr io.Writer) int {
	echo := wsdialtest.NewEchoServer()
	defer echo.Close()
	proxy := wsdialtest.NewProxy(wsdialtest.WithBasicAuth(demoUser, demoPassword))
	defer proxy.Close()
	fmt.Fprintf(stderr, "demo: echo server at %s, CONNECT proxy with Basic auth at %s\n", echo.URL, proxy.URL)

	u, err := url.Parse(proxy.URL)
	if err != nil {
		fmt.Fprintf(stderr, "wsdial: demo: %v\n", err)
		return exitFailure
	}
	u.User = url.UserPassword(demoUser, demoPassword)
	f.proxy = u.String()
	f.verbose, f.demo = true, true
	opts, err := f.options(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "wsdial: demo: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "demo: sending %q\n", strings.Split(strings.TrimSpace(demoInput), "\n"))
	code := session(ctx, echo.URL, opts, f.mode(stdout), strings.NewReader(demoInput), stdout, stderr)
	if code == exitOK {
		fmt.Fprintf(stderr, "demo: every message came back, through %d tunnel; closed cleanly with 1000\n", proxy.Tunnels())
	}
	return code
}
