package wsdial

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHTTPTransportThroughProxy plugs the Dialer into http.Transport, with
// Transport.Proxy left nil, and fetches http:// and https:// pages through a
// CONNECT proxy and a SOCKS5 proxy.
func TestHTTPTransportThroughProxy(t *testing.T) {
	checkGoroutines(t)
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != "" || r.Header.Get("X-Proxy-Token") != "" {
			http.Error(w, "proxy credentials reached the origin", http.StatusBadRequest)
			return
		}
		io.WriteString(w, "hello from "+r.URL.Scheme+r.Host)
	})
	plain := httptest.NewServer(page)
	t.Cleanup(plain.Close)
	secure := httptest.NewTLSServer(page)
	t.Cleanup(secure.Close)
	roots := x509.NewCertPool()
	roots.AddCert(secure.Certificate())

	connect := &connectProxy{user: "alice", pass: testPassword}
	connectAddr := connect.start(t)
	socks := &socksProxy{user: "alice", pass: testPassword}
	socksAddr := socks.start(t)

	for _, proxyURL := range []string{
		"http://alice:" + testPassword + "@" + connectAddr,
		"socks5://alice:" + testPassword + "@" + socksAddr,
	} {
		d := mustNew(t, WithProxy(proxyURL),
			WithProxyHeader(http.Header{"X-Proxy-Token": {"t"}}),
			WithTLSConfig(&tls.Config{RootCAs: roots}))
		tr := &http.Transport{DialContext: d.DialContext, DialTLSContext: d.DialTLSContext}
		client := &http.Client{Transport: tr}
		for _, srv := range []*httptest.Server{plain, secure} {
			resp, err := client.Get(srv.URL + "/page")
			if err != nil {
				t.Errorf("%s via %s: %v", srv.URL, proxyURL, err)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s via %s: %s: %s", srv.URL, proxyURL, resp.Status, body)
			}
		}
		tr.CloseIdleConnections()
	}
	if n := len(connect.seen()); n != 2 {
		t.Errorf("the CONNECT proxy saw %d requests, want 2", n)
	}
	if n := len(socks.seen()); n != 2 {
		t.Errorf("the SOCKS5 proxy saw %d requests, want 2", n)
	}
}

func BenchmarkDialWebSocketViaConnect(b *testing.B) {
	var origin wsOrigin
	originAddr := origin.start(b, nil)
	p := &connectProxy{}
	d := mustNew(b, WithProxy("http://"+p.start(b)))
	ctx := context.Background()
	url := "ws://" + originAddr + "/"
	b.ReportAllocs()
	for b.Loop() {
		conn, err := d.DialWebSocket(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		conn.Close()
	}
}

func BenchmarkDialViaSOCKS5(b *testing.B) {
	target, _ := serve(b, nil, func(c net.Conn) { io.Copy(io.Discard, c) })
	p := &socksProxy{}
	d := mustNew(b, WithProxy("socks5h://"+p.start(b)))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := d.DialContext(ctx, "tcp", target)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
