package pac

import (
	"context"
	"net"
	"net/netip"
	"slices"
)

// routeProbes are where routeAddrs asks the kernel for a route, in tiers as
// Chromium's myIpAddress does: first the internet, then the private ranges.
// A UDP socket that is "connected" learns the source address of its route
// and sends nothing, so no packet leaves for any of these. The internet tier
// uses documentation addresses (RFC 5737, RFC 3849), which the default route
// covers like any public address but which belong to no one. IPv4 comes
// first in each tier, so that myIpAddress prefers it, as Chromium does.
var routeProbes = [][]string{
	{"192.0.2.1:9", "[2001:db8::1]:9"},
	{"10.0.0.1:9", "172.16.0.1:9", "192.168.0.1:9", "[fc00::1]:9"},
}

// routeAddrs returns the source addresses of the first tier of probes that
// has a route with one that is neither loopback nor link-local; failing
// that, the loopback or link-local ones met; failing that, 127.0.0.1. It is
// never empty.
func routeAddrs(ctx context.Context, tiers [][]string) []netip.Addr {
	var lastResort []netip.Addr
	for _, tier := range tiers {
		var found []netip.Addr
		for _, dst := range tier {
			a, ok := routeSource(ctx, dst)
			switch {
			case !ok:
			case a.IsLoopback() || a.IsLinkLocalUnicast():
				if !slices.Contains(lastResort, a) {
					lastResort = append(lastResort, a)
				}
			case !slices.Contains(found, a):
				found = append(found, a)
			}
		}
		if len(found) > 0 {
			return found
		}
	}
	if len(lastResort) > 0 {
		return lastResort
	}
	return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
}

// routeSource returns the address this machine would send from to reach
// dst, found by connecting a UDP socket, which sends nothing.
func routeSource(ctx context.Context, dst string) (netip.Addr, bool) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", dst)
	if err != nil {
		return netip.Addr{}, false
	}
	defer c.Close()
	la, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	a := la.AddrPort().Addr().Unmap().WithZone("")
	return a, a.IsValid() && !a.IsUnspecified()
}
