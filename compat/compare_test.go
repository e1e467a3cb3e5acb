package compat

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

// The comparison: one scenario a row, one client library a column. Each
// cell is what TestCompare observes that library do on loopback, and
// COMPARISON.md is rendered from these cells, so the file states nothing the
// tests do not check. After changing a cell, run
//
//	go test -run TestComparisonTable -update
//
// to rewrite COMPARISON.md; TestComparisonTable fails while it is stale.

var update = flag.Bool("update", false, "rewrite COMPARISON.md from the comparison's cells")

// The libraries, in column order, each with the module version go.mod
// requires of it.
var libraries = [...]struct{ name, module, version string }{
	{"wsdial", "github.com/wsdial/wsdial", ""}, // this repo
	{"gorilla/websocket", "github.com/gorilla/websocket", "v1.5.3"},
	{"coder/websocket", "github.com/coder/websocket", "v1.8.15"},
	{"gobwas/ws", "github.com/gobwas/ws", "v1.5.0"},
}

// The words of the cells that no probe checks.
const (
	noNative = "no native support"
	notRun   = "not run"
)

// A cell is one library's result in one scenario. probe is nil, and want
// starts with noNative or notRun, where the scenario was not run.
type cell struct {
	want  string
	probe func(t *testing.T) string
}

type scenario struct {
	name  string // the subtest's name
	what  string // the row's heading in the table
	cells [len(libraries)]cell
}

var scenarios = []scenario{{
	name: "ws-via-connect",
	what: "`ws://` through an `http://` CONNECT proxy, Basic credentials in the proxy URL",
	cells: [...]cell{
		{"works", echoViaProxy(false, false, wsdialEcho)},
		{"works", echoViaProxy(false, false, gorillaEchoClient)},
		{"no CONNECT: sends `GET http://…` to the proxy [^forward]", echoViaProxy(false, false, coderEchoClient)},
		{noNative, nil},
	},
}, {
	name: "wss-via-connect",
	what: "`wss://` through an `http://` CONNECT proxy, Basic credentials in the proxy URL; TLS to the target's name",
	cells: [...]cell{
		{"works", echoViaProxy(true, false, wsdialEcho)},
		{"works", echoViaProxy(true, false, gorillaEchoClient)},
		{"works", echoViaProxy(true, false, coderEchoClient)},
		{noNative, nil},
	},
}, {
	name: "wss-via-https-proxy",
	what: "`wss://` through an `https://` (TLS) proxy",
	cells: [...]cell{
		{"works", echoViaProxy(true, true, wsdialEcho)},
		{"fails: `proxy: unknown scheme: https`", echoViaProxy(true, true, gorillaEchoClient)},
		{"works [^onetls]", echoViaProxy(true, true, coderEchoClient)},
		{noNative, nil},
	},
}, {
	name: "connect-header",
	what: "An extra header on the CONNECT request",
	cells: [...]cell{
		{"sent (`WithProxyHeader`)", proxyHeaderSent("`WithProxyHeader`", wsdialEcho)},
		{noNative, nil},
		{"sent (`Transport.ProxyConnectHeader`)", proxyHeaderSent("`Transport.ProxyConnectHeader`", coderEchoClient)},
		{noNative, nil},
	},
}, {
	name: "407-no-reason",
	what: "The proxy answers `HTTP/1.1 407` with no reason phrase",
	cells: [...]cell{
		{"error; 407 in `*ProxyError.StatusCode`, `errors.Is(err, ErrProxyAuthRequired)`", wsdial407},
		{"panics (index out of range) [^panic]", gorilla407},
		{"error text only (`unknown status code`); 407 seen only by a `Transport.OnProxyConnectResponse` hook", coder407},
		{noNative, nil},
	},
}, {
	name: "403-with-body",
	what: "The WebSocket server answers 403 with a body",
	cells: [...]cell{
		{"`*HandshakeError`: 403 in `StatusCode`, body in `Response`", wsdial403},
		{"`ErrBadHandshake`; 403 and body in the returned `*http.Response`", gorilla403},
		{"error text; 403 and body in the returned `*http.Response`", coder403},
		{"`ws.StatusError(403)`; body only through an `OnStatusError` hook", gobwas403},
	},
}, {
	name: "cancel-at-proxy",
	what: "Context cancelled while a CONNECT proxy holds the request unanswered [^cancel]",
	cells: [...]cell{
		{"returns; `errors.Is(err, context.Canceled)`", cancelViaProxy(wsdialOnly)},
		{"still blocked 2 s after the cancel", cancelViaProxy(gorillaOnly)},
		{"returns; `errors.Is(err, context.Canceled)`", cancelViaProxy(coderOnly)},
		{noNative, nil},
	},
}, {
	name: "cancel-at-server",
	what: "Context cancelled while the WebSocket server holds the upgrade unanswered (no proxy) [^cancel]",
	cells: [...]cell{
		{"returns; `errors.Is(err, context.Canceled)`", cancelAtServer(wsdialOnly)},
		{"still blocked 2 s after the cancel", cancelAtServer(gorillaOnly)},
		{"returns; `errors.Is(err, context.Canceled)`", cancelAtServer(coderOnly)},
		{"returns; `errors.Is(err, context.Canceled)`", cancelAtServer(gobwasOnly)},
	},
}, {
	name: "frame-with-101",
	what: "The server sends a first frame in the same write as its 101",
	cells: [...]cell{
		{firstSeen + " (`ReadMessage`)", wsdialFirst},
		{firstSeen + " (`ReadMessage`)", gorillaFirst},
		{firstSeen + " (`Read`)", coderFirst},
		{"in the returned `*bufio.Reader`, not on the conn: the caller must read it first", gobwasFirst},
	},
}, {
	name: "concurrent-writes",
	what: fmt.Sprintf("%d goroutines write at once, with no lock of the caller's", writers),
	cells: [...]cell{
		{concurrentOK, wsdialConcurrent},
		{notRun + " [^gorillawrites]", nil},
		{concurrentOK, coderConcurrent},
		{notRun + " [^gobwaswrites]", nil},
	},
}, {
	name: "https-proxy-env",
	what: "`HTTPS_PROXY` from the environment, for a `wss://` target that is not loopback",
	cells: [...]cell{
		{"used (`New`'s default)", proxyFromEnv("`New`'s default", wsdialEcho)},
		{"used (`Proxy: http.ProxyFromEnvironment`) [^envonce]", proxyFromEnv("`Proxy: http.ProxyFromEnvironment`", gorillaEchoClient)},
		{"used (`Transport.Proxy: http.ProxyFromEnvironment`) [^envonce]", proxyFromEnv("`Transport.Proxy: http.ProxyFromEnvironment`", coderEchoClient)},
		{noNative, nil},
	},
}}

// notes are the table's footnotes: how the cells were reached, and what
// they leave out.
const notes = `Every library is driven the way its documentation shows: wsdial through
` + "`New`" + ` and its options; gorilla/websocket through ` + "`websocket.Dialer`" + ` with
` + "`Proxy`" + ` and ` + "`TLSClientConfig`" + `; coder/websocket through ` + "`websocket.Dial`" + ` with an
` + "`http.Client`" + ` whose ` + "`http.Transport`" + ` holds the proxy settings; gobwas/ws through
` + "`ws.Dialer`" + `. Each also gets a TCP dialer that reaches only loopback and resolves
no names, and a one-minute handshake timeout where it has one. The target's
name is ` + "`" + targetHost + "`" + `, which the test proxies map to a loopback server.

"No native support" means the library has no setting for the scenario; a
user could build it on a dial hook, which this table does not count. No
test runs those cells, nor the "not run" ones.

[^forward]: net/http sends a request for an ` + "`http://`" + ` target to an HTTP proxy as a
    forward-proxy request, not through a CONNECT tunnel. The test proxy only
    tunnels, and refuses it with 405. A forward proxy that passed the upgrade
    on might serve it; that is not tested.
[^onetls]: net/http has one ` + "`TLSClientConfig`" + ` for the proxy and the target, so the
    test's trusts both certificates. wsdial keeps them apart
    (` + "`WithProxyTLSConfig`" + `, ` + "`WithTLSConfig`" + `).
[^panic]: The test recovers the panic. In a program it ends the program
    unless the caller recovers it.
[^cancel]: Every library has a one-minute handshake timeout, so only the
    cancel can end the dial early. "Returns" means within 2 s of the cancel;
    a dial still blocked then is ended by closing the server's side.
[^gorillawrites]: gorilla/websocket allows one writer at a time and detects
    a second on a best-effort basis, with a panic. Provoking that is a data
    race, which the race detector CI runs under reports, and without it the
    panic is not certain; so it is not run.
[^gobwaswrites]: gobwas/ws writes frames with plain functions over the
    ` + "`net.Conn`" + `; whether concurrent frames interleave depends on the scheduler,
    so no run could show it reliably.
[^envonce]: net/http's ` + "`ProxyFromEnvironment`" + ` reads the environment once a
    process, at its first use (net/http's source; not tested here). wsdial
    reads it in each ` + "`New`" + `.
`

func TestCompare(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			for i, c := range sc.cells {
				t.Run(strings.ReplaceAll(libraries[i].name, "/", "-"), func(t *testing.T) {
					if c.probe == nil {
						if !strings.HasPrefix(c.want, noNative) && !strings.HasPrefix(c.want, notRun) {
							t.Fatalf("cell %q has no probe to check it", c.want)
						}
						t.Skip(c.want)
					}
					got := c.probe(t)
					if want := withRefs(c.want, func(string) string { return "" }); got != want {
						t.Errorf("%s, %s:\n got: %s\nwant: %s", sc.what, libraries[i].name, got, want)
					}
					t.Log(got)
				})
			}
		})
	}
}

func TestComparisonTable(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range libraries[1:] {
		if !strings.Contains(string(mod), "\t"+l.module+" "+l.version+"\n") {
			t.Errorf("go.mod does not require %s %s, the version the table names", l.module, l.version)
		}
	}

	want := renderComparison()
	if *update {
		if err := os.WriteFile("COMPARISON.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("COMPARISON.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("COMPARISON.md is stale; run: go test -run TestComparisonTable -update\nwant:\n%s", want)
	}

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(readme), readmeBegin)
	block, after, ok2 := strings.Cut(rest, readmeEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no comparison block between %q and %q", readmeBegin, readmeEnd)
	}
	wantBlock := "\n" + renderTable(func(string) string { return " \\*" })
	if *update && block != wantBlock {
		if err := os.WriteFile("../README.md", []byte(before+readmeBegin+wantBlock+readmeEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
	} else if block != wantBlock {
		t.Errorf("README.md's comparison table is stale; run: go test -run TestComparisonTable -update\nwant:\n%s", wantBlock)
	}
}

// The lines around the README's copy of the table. There, a cell's notes
// shrink to a star, and the notes stay in COMPARISON.md.
const (
	readmeBegin = "<!-- comparison: rendered by `go test -run TestComparisonTable -update` in compat/ -->"
	readmeEnd   = "<!-- end of comparison -->"
)

// renderComparison is COMPARISON.md.
func renderComparison() string {
	var b strings.Builder
	b.WriteString("# wsdial beside gorilla/websocket, coder/websocket and gobwas/ws\n\n")
	b.WriteString("<!-- Generated by `go test -run TestComparisonTable -update` in compat/; do not edit. -->\n\n")
	b.WriteString("Each cell is what `TestCompare` in `compare_test.go` observes the client do\n")
	b.WriteString("against servers and proxies it runs on loopback, and asserts, so that the\n")
	b.WriteString("test fails if the behaviour changes. Run it with `go test -run TestCompare -v`\n")
	b.WriteString("in `compat/`.\n\n")
	b.WriteString(renderTable(func(ref string) string { return ref }))
	b.WriteString("\n" + notes)
	return b.String()
}

// renderTable is the table alone, each footnote reference in a cell (" [^name]")
// written as ref makes it.
func renderTable(ref func(string) string) string {
	var b strings.Builder
	b.WriteString("| scenario |")
	for _, l := range libraries {
		b.WriteString(" " + strings.TrimSpace(l.name+" "+l.version) + " |")
	}
	b.WriteString("\n| --- |" + strings.Repeat(" --- |", len(libraries)) + "\n")
	for _, sc := range scenarios {
		b.WriteString("| " + withRefs(sc.what, ref) + " |")
		for _, c := range sc.cells {
			b.WriteString(" " + withRefs(c.want, ref) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// withRefs rewrites the footnote reference that ends s, if any, with ref.
func withRefs(s string, ref func(string) string) string {
	if i := strings.Index(s, " [^"); i >= 0 {
		return s[:i] + ref(s[i:])
	}
	return s
}

// TestMain owns the proxy of the environment scenario, which must live as
// long as the process does.
func TestMain(m *testing.M) {
	flag.Parse()
	envProxy = &connectProxy{auth: proxyBasic}
	if err := envProxy.listen(nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	envProxy.srv.stop()
	os.Exit(code)
}
