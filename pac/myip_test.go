package pac

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestRouteProbeSendsNothing: finding this machine's address connects a
// UDP socket and sends nothing. The probe is pointed at a loopback
// listener; after it, a marker datagram is sent from another socket, and
// the first datagram the listener reads must be the marker.
func TestRouteProbeSendsNothing(t *testing.T) {
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := mustParse(t, `function FindProxyForURL(u, h) { return myIpAddress() + " " + myIpAddressEx(); }`,
		WithMyIPAddress(netip.Addr{}), // the default: probe
		func(c *config) { c.probes = [][]string{{l.LocalAddr().String()}} })
	if got := mustFind(t, s, "http://a/"); got != "127.0.0.1 127.0.0.1" {
		t.Errorf("answer %q", got)
	}
	marker, err := net.Dial("udp", l.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer marker.Close()
	if _, err := marker.Write([]byte("marker")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _, err := l.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "marker" {
		t.Fatalf("the listener's first datagram is %q, %v: the probe sent something", buf[:n], err)
	}
}

func TestRouteAddrsTiers(t *testing.T) {
	ctx := context.Background()
	lo4, lo6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	// Loopback sources are a last resort, kept across tiers, IPv4 first.
	if got := routeAddrs(ctx, [][]string{{"127.0.0.1:9"}, {"[::1]:9", "127.0.0.2:9"}}); !slices.Equal(got, []netip.Addr{lo4, lo6}) {
		t.Errorf("routeAddrs = %v", got)
	}
	if got := routeAddrs(ctx, nil); !slices.Equal(got, []netip.Addr{lo4}) {
		t.Errorf("routeAddrs with no route = %v", got)
	}
}

// TestMyIPAddressIsIPv4: myIpAddress() gives an IPv4 address, as its
// dotted form and every browser's promise it (Chromium falls back to
// 127.0.0.1), even where the only route found is IPv6; myIpAddressEx() has
// the IPv6 one.
func TestMyIPAddressIsIPv4(t *testing.T) {
	s := mustParse(t, `function FindProxyForURL(u, h) { return myIpAddress() + " " + myIpAddressEx(); }`,
		WithMyIPAddress(netip.Addr{}), // the default: probe
		func(c *config) { c.probes = [][]string{{"[::1]:9"}} })
	if got := mustFind(t, s, "http://a/"); got != "127.0.0.1 ::1" {
		t.Errorf("answer %q, want 127.0.0.1 from myIpAddress and ::1 from myIpAddressEx", got)
	}
}

// TestDefaultMyIPAddress asks this machine's routing table (no packet is
// sent): whatever the machine, the answer is one valid address, and Ex's
// answers are valid addresses too.
func TestDefaultMyIPAddress(t *testing.T) {
	s, err := Parse([]byte(`function FindProxyForURL(u, h) { return myIpAddress() + "|" + myIpAddressEx(); }`))
	if err != nil {
		t.Fatal(err)
	}
	got := mustFind(t, s, "http://a/")
	one, ex, _ := strings.Cut(got, "|")
	if a, err := netip.ParseAddr(one); err != nil || a.IsUnspecified() {
		t.Errorf("myIpAddress() = %q", one)
	}
	if parseAddrList(ex) == nil {
		t.Errorf("myIpAddressEx() = %q", ex)
	}
	t.Logf("this machine: myIpAddress() = %s, myIpAddressEx() = %s", one, ex)
}
