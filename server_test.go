package wsdial

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
)

// readUpgrade reads one HTTP request from c.
func readUpgrade(c net.Conn) (*http.Request, *bufio.Reader, error) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	return req, br, err
}

// acceptFor computes Sec-WebSocket-Accept the way a server does, written
// apart from the library's own code so that each checks the other.
func acceptFor(key string) string {
	h := sha1.New()
	h.Write([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// upgradeResponse is a valid 101 response for req with extra header lines.
func upgradeResponse(req *http.Request, extra string) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + acceptFor(req.Header.Get("Sec-WebSocket-Key")) + "\r\n" + extra + "\r\n"
}

// serveUpgrade answers every handshake with a valid 101 plus extra, then
// reads until the client's close and answers it, as a server does.
func serveUpgrade(t testing.TB, extra string) string {
	return serveRaw(t, "tcp", func(c net.Conn) {
		req, br, err := readUpgrade(c)
		if err != nil {
			return
		}
		c.Write([]byte(upgradeResponse(req, extra)))
		answerClose(c, br)
	})
}

// answerClose reads the client's frames from br until its close frame, and
// answers that, as a server does.
func answerClose(c net.Conn, br *bufio.Reader) {
	p := &peer{c: c, br: br}
	if end := p.readUntilClose(); end.closeCode != 0 {
		c.Write(frame(fin|opCls, closePayload(StatusNormalClosure, "")))
	}
}

// settleGoroutines waits, for at most five seconds, until no more goroutines
// run than base, and fails the test if that never happens. Goroutines that a
// dial ended may take a moment to leave the scheduler's count.
func settleGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines remain, want at most %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkGoroutines fails t if, once every later cleanup has run (the servers'
// included), more goroutines are left than when it was called. Call it
// before starting any server.
func checkGoroutines(t testing.TB) {
	base := runtime.NumGoroutine()
	t.Cleanup(func() { settleGoroutines(t, base) })
}

// tracker owns the goroutines and connections of one test server.
type tracker struct {
	mu     sync.Mutex
	conns  map[io.Closer]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newTracker(t testing.TB) *tracker {
	tr := &tracker{conns: map[io.Closer]struct{}{}}
	t.Cleanup(func() {
		tr.mu.Lock()
		tr.closed = true
		for c := range tr.conns {
			c.Close()
		}
		tr.mu.Unlock()
		tr.wg.Wait()
	})
	return tr
}

// add puts c in the tracker's care; after cleanup began it is closed at once.
func (tr *tracker) add(c io.Closer) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed {
		c.Close()
		return
	}
	tr.conns[c] = struct{}{}
}

// done releases c, closed by its owner.
func (tr *tracker) done(c io.Closer) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	delete(tr.conns, c)
}

func (tr *tracker) goFunc(f func()) {
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		f()
	}()
}

// serve accepts on a fresh 127.0.0.1 listener (wrapped by wrap, if not nil)
// and runs handle for each connection.
func serve(t testing.TB, wrap func(net.Listener) net.Listener, handle func(net.Conn)) (addr string, tr *tracker) {
	t.Helper()
	ln := listen(t, "tcp")
	tr = newTracker(t)
	tr.add(ln)
	if wrap != nil {
		ln = wrap(ln)
	}
	serveListener(tr, ln, handle)
	return ln.Addr().String(), tr
}

// serveRaw runs handle on every connection accepted on a loopback listener
// of network ("tcp" or "tcp6") until the test ends, and returns the
// listener's address. The test waits for every handler to return, so none
// outlives it.
func serveRaw(t testing.TB, network string, handle func(net.Conn)) string {
	t.Helper()
	ln := listen(t, network)
	tr := newTracker(t)
	tr.add(ln)
	serveListener(tr, ln, handle)
	return ln.Addr().String()
}

func listen(t testing.TB, network string) net.Listener {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// serveListener accepts on ln, in tr's care, and runs handle for each
// connection until ln closes.
func serveListener(tr *tracker, ln net.Listener, handle func(net.Conn)) {
	tr.goFunc(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tr.add(c)
			tr.goFunc(func() {
				defer tr.done(c)
				defer c.Close()
				handle(c)
			})
		}
	})
}

// newCert makes a self-signed certificate for names (DNS names or IP
// addresses), and a pool that trusts it.
func newCert(t testing.TB, names ...string) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: names[0]},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
