package interop

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
)

// The environment that run.sh sets: where each peer listens, the test CA, and
// the credentials of the proxies that ask for them.
const (
	envCA   = "WSDIAL_INTEROP_CA"
	envUser = "WSDIAL_INTEROP_USER"
	envPass = "WSDIAL_INTEROP_PASS"
)

// The peers, each named by the suffix of its WSDIAL_INTEROP_* variable, whose
// value is the peer's "127.0.0.1:port".
const (
	squidPlain     = "SQUID_PLAIN"
	squidAuth      = "SQUID_AUTH"
	squidTLS       = "SQUID_TLS"
	tinyproxyPlain = "TINYPROXY_PLAIN"
	tinyproxyAuth  = "TINYPROXY_AUTH"
	tinyproxyPorts = "TINYPROXY_PORTS"
	danteOpen      = "DANTE_OPEN"
	danteAuth      = "DANTE_AUTH"
	microsocksOpen = "MICROSOCKS_OPEN"
	microsocksAuth = "MICROSOCKS_AUTH"
	pythonWS       = "PYTHON_WS"
	pythonWSS      = "PYTHON_WSS"
	nodeWS         = "NODE_WS"
	nodeWSS        = "NODE_WSS"
	nginxH1        = "NGINX_H1"
	nginxH2        = "NGINX_H2"
)

var allPeers = []string{
	squidPlain, squidAuth, squidTLS, tinyproxyPlain, tinyproxyAuth, tinyproxyPorts,
	danteOpen, danteAuth, microsocksOpen, microsocksAuth,
	pythonWS, pythonWSS, nodeWS, nodeWSS, nginxH1, nginxH2,
}

// peers is what run.sh told the tests.
type peers struct {
	roots      *x509.CertPool
	user, pass string
	addr       map[string]string // peer name to "127.0.0.1:port"
}

// port returns the port that peer listens on.
func (p *peers) port(peer string) string {
	_, port, _ := net.SplitHostPort(p.addr[peer])
	return port
}

// loadPeers reads the environment that run.sh sets. It skips the test when
// the suite runs outside run.sh, and fails it when the environment is only
// partly there.
func loadPeers(t *testing.T) *peers {
	t.Helper()
	caFile := os.Getenv(envCA)
	if caFile == "" {
		t.Skipf("%s is not set: the interop peers are not running; run bash interop/run.sh", envCA)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("reading the test CA: %v", err)
	}
	p := &peers{roots: x509.NewCertPool(), addr: make(map[string]string)}
	if !p.roots.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", caFile)
	}
	p.user, p.pass = os.Getenv(envUser), os.Getenv(envPass)
	if p.user == "" || p.pass == "" {
		t.Fatalf("%s and %s must be set with %s", envUser, envPass, envCA)
	}
	p.add(t, allPeers...)
	return p
}

// add reads the addresses of the peers named from their WSDIAL_INTEROP_*
// variables, failing t unless each is a loopback host:port.
func (p *peers) add(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		v := os.Getenv("WSDIAL_INTEROP_" + name)
		host, _, err := net.SplitHostPort(v)
		if err != nil {
			t.Fatalf("WSDIAL_INTEROP_%s=%q: %v", name, v, err)
		}
		// Never a byte beyond loopback.
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Fatalf("WSDIAL_INTEROP_%s=%q is not a loopback address", name, v)
		}
		p.addr[name] = v
	}
}

// results collects the outcome of every case for the matrix that TestMain
// prints after the run.
var results struct {
	sync.Mutex
	rows, cols []string
	cell       map[[2]string]string
	refusals   []string
}

// record notes the outcome of t, once it has ended, in the matrix cell
// (row, col).
func record(t *testing.T, row, col string) {
	t.Cleanup(func() {
		results.Lock()
		defer results.Unlock()
		if results.cell == nil {
			results.cell = make(map[[2]string]string)
		}
		if !contains(results.rows, row) {
			results.rows = append(results.rows, row)
		}
		if !contains(results.cols, col) {
			results.cols = append(results.cols, col)
		}
		results.cell[[2]string{row, col}] = outcome(t)
	})
}

// recordRefusal notes the outcome of t, a case where a peer must refuse.
func recordRefusal(t *testing.T, what string) {
	t.Cleanup(func() {
		results.Lock()
		defer results.Unlock()
		results.refusals = append(results.refusals, fmt.Sprintf("%-52s %s", what, outcome(t)))
	})
}

func outcome(t *testing.T) string {
	switch {
	case t.Failed():
		return "FAIL"
	case t.Skipped():
		return "SKIP"
	}
	return "pass"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// printMatrix prints the peer × target matrix and the refusals.
func printMatrix() {
	results.Lock()
	defer results.Unlock()
	if len(results.cell) == 0 && len(results.refusals) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString("\ninterop matrix (row: how the dial goes; column: what it reaches)\n")
	fmt.Fprintf(&b, "%-24s", "")
	for _, c := range results.cols {
		fmt.Fprintf(&b, " %-14s", c)
	}
	b.WriteString("\n")
	for _, r := range results.rows {
		fmt.Fprintf(&b, "%-24s", r)
		for _, c := range results.cols {
			v, ok := results.cell[[2]string{r, c}]
			if !ok {
				v = "-"
			}
			fmt.Fprintf(&b, " %-14s", v)
		}
		b.WriteString("\n")
	}
	if len(results.refusals) > 0 {
		b.WriteString("\nrefusals (the peer must say no, with the right typed error)\n")
		for _, r := range results.refusals {
			b.WriteString(r + "\n")
		}
	}
	fmt.Print(b.String())
}

func TestMain(m *testing.M) {
	code := m.Run()
	printMatrix()
	os.Exit(code)
}

// extraPeer returns the loopback address of a peer that a file in peers/
// starts, named by the suffix of its WSDIAL_INTEROP_* variable. Like
// loadPeers, it skips outside run.sh and fails on a value that is not a
// loopback host:port.
func extraPeer(t *testing.T, name string) string {
	t.Helper()
	if os.Getenv(envCA) == "" {
		t.Skipf("%s is not set: the interop peers are not running; run bash interop/run.sh", envCA)
	}
	v := os.Getenv("WSDIAL_INTEROP_" + name)
	host, _, err := net.SplitHostPort(v)
	if err != nil {
		t.Fatalf("WSDIAL_INTEROP_%s=%q: %v", name, v, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("WSDIAL_INTEROP_%s=%q is not a loopback address", name, v)
	}
	return v
}
