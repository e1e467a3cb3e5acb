package wsdial

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

const (
	idnHost   = "bücher.example"
	idnALabel = "xn--bcher-kva.example"
)

// TestIDNHost dials an internationalized name every way there is and checks
// that each peer sees its A-label, as net/http sends it: the name lookup,
// the Host header, SNI (verified against a certificate for the A-label),
// the CONNECT authority and the name a socks5h:// proxy is sent (RFC 9112
// §3.2, RFC 6066 §3).
func TestIDNHost(t *testing.T) {
	cert, pool := newCert(t, idnALabel)
	var origin wsOrigin
	plain := origin.start(t, nil)
	secure := origin.start(t, cert)
	_, plainPort, _ := net.SplitHostPort(plain)
	_, securePort, _ := net.SplitHostPort(secure)
	routes := hosts{idnALabel + ":" + plainPort: plain, idnALabel + ":" + securePort: secure}
	connect := &connectProxy{hosts: routes}
	socks := &socksProxy{hosts: routes}
	connectAddr, socksAddr := connect.start(t), socks.start(t)
	tlsCfg := &tls.Config{RootCAs: pool}

	for _, tc := range []struct {
		name, proxy string
		lookup      bool // the name is looked up here
	}{
		{name: "direct", lookup: true},
		{name: "CONNECT", proxy: "http://" + connectAddr},
		{name: "socks5h", proxy: "socks5h://" + socksAddr},
		{name: "socks5", proxy: "socks5://" + socksAddr, lookup: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dns := &fakeDNS{hosts: map[string][]netip.Addr{idnALabel: {netip.MustParseAddr("127.0.0.1")}}}
			t.Cleanup(dns.wait)
			opts := []Option{WithNetDialer(&net.Dialer{Resolver: dns.resolver()}), WithTLSConfig(tlsCfg)}
			if tc.proxy == "" {
				opts = append(opts, WithoutProxy())
			} else {
				opts = append(opts, WithProxy(tc.proxy))
			}
			d := mustNew(t, opts...)
			before := len(origin.seen())
			for _, u := range []string{"ws://" + idnHost + ":" + plainPort + "/", "wss://" + idnHost + ":" + securePort + "/"} {
				c, err := d.DialWebSocket(context.Background(), u)
				if err != nil {
					t.Fatalf("%s: %v", u, err)
				}
				c.Close()
			}
			reqs := origin.seen()[before:]
			if len(reqs) != 2 || reqs[0].Host != idnALabel+":"+plainPort || reqs[1].Host != idnALabel+":"+securePort {
				t.Errorf("the origin saw Host %q", hostsOf(reqs))
			}
			if len(reqs) == 2 && (reqs[1].TLS == nil || reqs[1].TLS.ServerName != idnALabel) {
				t.Errorf("SNI %+v, want %s", reqs[1].TLS, idnALabel)
			}
			for _, name := range dns.names() {
				if name != idnALabel {
					t.Errorf("the resolver was asked for %q", name)
				}
			}
			if asked := len(dns.names()) > 0; asked != tc.lookup {
				t.Errorf("the name was looked up here: %v, want %v", asked, tc.lookup)
			}
		})
	}
	for _, r := range connect.seen() {
		if !strings.HasPrefix(r.RequestURI, idnALabel+":") || !strings.HasPrefix(r.Host, idnALabel+":") {
			t.Errorf("the CONNECT proxy was asked for %q with Host %q", r.RequestURI, r.Host)
		}
	}
	for _, s := range socks.seen() {
		if s.byName && !strings.HasPrefix(s.addr, idnALabel+":") {
			t.Errorf("the SOCKS proxy was sent the name %q", s.addr)
		}
	}

	// DialContext and DialTLSContext take the same path.
	dns := &fakeDNS{hosts: map[string][]netip.Addr{idnALabel: {netip.MustParseAddr("127.0.0.1")}}}
	t.Cleanup(dns.wait)
	d := mustNew(t, WithoutProxy(), WithNetDialer(&net.Dialer{Resolver: dns.resolver()}), WithTLSConfig(tlsCfg))
	c, err := d.DialTLSContext(context.Background(), "tcp", idnHost+":"+securePort)
	if err != nil {
		t.Fatal(err)
	}
	if st := c.(*tls.Conn).ConnectionState(); st.ServerName != idnALabel {
		t.Errorf("DialTLSContext: ServerName %q", st.ServerName)
	}
	c.Close()

	_, err = d.DialWebSocket(context.Background(), "ws://\u0301x.example/")
	checkClass(t, err, ErrInvalid)

	// Handshake's host, and WithHeader's Host, go on the wire the same way.
	for _, tc := range []struct {
		host string
		opts []Option
		want string
	}{
		{idnHost + ":" + plainPort, nil, idnALabel + ":" + plainPort},
		{"ws.example", []Option{WithHeader(http.Header{"Host": {idnHost}})}, idnALabel},
		{"[::1%lo]:80", nil, "[::1]:80"},
	} {
		nc, err := net.Dial("tcp", plain)
		if err != nil {
			t.Fatal(err)
		}
		before := len(origin.seen())
		c, err := Handshake(context.Background(), nc, tc.host, "/", tc.opts...)
		if err != nil {
			t.Fatalf("Handshake(%q): %v", tc.host, err)
		}
		c.Close()
		if reqs := origin.seen()[before:]; len(reqs) != 1 || reqs[0].Host != tc.want {
			t.Errorf("Handshake(%q): the origin saw Host %q, want %q", tc.host, hostsOf(reqs), tc.want)
		}
	}
}

func hostsOf(reqs []*http.Request) []string {
	var hs []string
	for _, r := range reqs {
		hs = append(hs, r.Host)
	}
	return hs
}

// TestIPv6Zone checks that a zone stays with the connection this machine
// opens and leaves everything sent to a peer (RFC 6874 §4): the Host
// header, the CONNECT request and the address a SOCKS5 proxy is sent.
func TestIPv6Zone(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback on this machine: %v", err)
	} else {
		ln.Close()
	}
	hostSeen := make(chan string, 1)
	addr := serveRaw(t, "tcp6", func(c net.Conn) {
		req, br, err := readUpgrade(c)
		if err != nil {
			return
		}
		hostSeen <- req.Host
		io.WriteString(c, upgradeResponse(req, ""))
		answerClose(c, br)
	})
	_, port, _ := net.SplitHostPort(addr)
	c, err := mustNew(t, WithoutProxy()).DialWebSocket(context.Background(), "ws://[::1%25lo]:"+port+"/")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if h := <-hostSeen; h != "[::1]:"+port {
		t.Errorf("Host %q, want [::1]:%s", h, port)
	}

	if head, want := connectSent(t, "[fe80::1%eth0]:8080"), "CONNECT [fe80::1]:8080 HTTP/1.1\r\nHost: [fe80::1]:8080\r\n"; !strings.HasPrefix(head, want) {
		t.Errorf("the proxy was sent\n%s\nwant\n%s", head, want)
	}

	socks := &socksProxy{hosts: hosts{"[fe80::1]:8080": addr}}
	sc, err := mustNew(t, WithProxy("socks5://"+socks.start(t))).DialContext(context.Background(), "tcp", "[fe80::1%eth0]:8080")
	if err != nil {
		t.Fatal(err)
	}
	sc.Close()
	if seen := socks.seen(); len(seen) != 1 || seen[0].byName || seen[0].addr != "[fe80::1]:8080" {
		t.Errorf("the SOCKS proxy was sent %+v", seen)
	}
}

// TestIPv6ZoneNotASCII dials through a proxy an address whose zone, an
// interface name of this machine, is not ASCII: the zone is no host name
// and has no A-label, so it must neither fail the dial as an invalid name
// nor reach the proxy, which is sent the bare address.
func TestIPv6ZoneNotASCII(t *testing.T) {
	if head, want := connectSent(t, "[fe80::1%wlän0]:8080"), "CONNECT [fe80::1]:8080 HTTP/1.1\r\nHost: [fe80::1]:8080\r\n"; !strings.HasPrefix(head, want) {
		t.Errorf("the proxy was sent\n%s\nwant\n%s", head, want)
	}
	if a, err := localAddress("fe80::1%wlän0", "8080"); a != "[fe80::1%wlän0]:8080" || err != nil {
		t.Errorf("localAddress = %q, %v; want the zone kept for the local connect", a, err)
	}
}

// connectSent dials address through a CONNECT proxy that grants every
// tunnel, and returns the head of the request the proxy was sent.
func connectSent(t *testing.T, address string) string {
	t.Helper()
	heads := make(chan string, 1)
	proxy := rawProxy(t, func(c net.Conn, head string) {
		heads <- head
		io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n")
	})
	c, err := mustNew(t, WithProxy("http://"+proxy)).DialContext(context.Background(), "tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	return <-heads
}
