package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/wsdial/wsdial/internal/demoserver"
)

// demoInput is what the demo types.
const demoInput = "hello, world\nthrough an authenticating proxy\nbye\n"

// demo starts an echo server and a CONNECT proxy on loopback, dials the one
// through the other with the stage trace on, and shuts both down again.
func demo(ctx context.Context, f flags, stdout, stderr io.Writer) int {
	var servers demoserver.Servers
	defer servers.Stop()
	echo, err := servers.Listen(http.HandlerFunc(servers.Echo))
	if err != nil {
		fmt.Fprintf(stderr, "wsdial: demo: %v\n", err)
		return exitFailure
	}
	proxy, err := servers.Listen(http.HandlerFunc(servers.Proxy))
	if err != nil {
		fmt.Fprintf(stderr, "wsdial: demo: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "demo: echo server at ws://%s/echo, CONNECT proxy with Basic auth at %s\n", echo, proxy)
	f.proxy = fmt.Sprintf("http://%s:%s@%s", demoserver.User, demoserver.Password, proxy)
	f.verbose = true
	opts, err := f.options(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "wsdial: demo: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "demo: sending %q\n", strings.Split(strings.TrimSpace(demoInput), "\n"))
	code := session(ctx, "ws://"+echo+"/echo", opts, f.raw, strings.NewReader(demoInput), stdout, stderr)
	if code == exitOK {
		fmt.Fprintln(stderr, "demo: every message came back; closed cleanly with 1000")
	}
	return code
}
