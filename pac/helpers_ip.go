package pac

import (
	"context"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/dop251/goja"
)

// The helpers that resolve names and compare addresses: Netscape's IPv4
// ones, then Microsoft's IPv6-aware ones. Every lookup goes through the
// resolver of WithResolver under the call's context, and each name is looked
// up at most once a call.

// lookup resolves host ("ip4" or "ip" for network), or parses it when it is
// an address already. A failure is an empty list: the helpers report it to
// the script as null, "" or false, never as an exception.
func (e *env) lookup(network, host string) []netip.Addr {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}
	}
	if host == "" || len(host) > 253 {
		return nil
	}
	key := lookupKey{network, host}
	if addrs, ok := e.lookups[key]; ok {
		return addrs
	}
	if len(e.lookups) >= maxLookups {
		e.throw("pac: the script resolved more than " + strconv.Itoa(maxLookups) + " names in one call")
	}
	addrs, err := e.s.cfg.resolver.LookupNetIP(e.ctx, network, host)
	if err != nil {
		if e.ctx.Err() != nil {
			// The lookup failed because the call ran out of time or was
			// cancelled, which says nothing of the name: stop the script
			// (uncatchably) rather than let it answer as if the name did
			// not resolve.
			e.vm.Interrupt(context.Cause(e.ctx))
			return nil
		}
		addrs = nil
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	if e.lookups == nil {
		e.lookups = make(map[lookupKey][]netip.Addr)
	}
	e.lookups[key] = addrs
	return addrs
}

// resolve4 is the first IPv4 address of host, as dnsResolve gives it.
func (e *env) resolve4(host string) (netip.Addr, bool) {
	if a, ok := parseDottedQuad(host); ok {
		return a, true
	}
	for _, a := range e.lookup("ip4", host) {
		if a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// dnsResolve(host) is host's first IPv4 address, or null.
func (e *env) dnsResolve(c goja.FunctionCall) goja.Value {
	if a, ok := e.resolve4(arg(c, 0)); ok {
		return e.vm.ToValue(a.String())
	}
	return goja.Null()
}

// isResolvable(host) is true when host has an IPv4 address.
func (e *env) isResolvable(c goja.FunctionCall) goja.Value {
	_, ok := e.resolve4(arg(c, 0))
	return e.vm.ToValue(ok)
}

// isInNet(host, pattern, mask) is true when host's IPv4 address, host being
// resolved unless it is one, equals pattern in the bits set in mask. A
// pattern or mask that is not a dotted IPv4 address makes it false, as in
// Chromium.
func (e *env) isInNet(c goja.FunctionCall) goja.Value {
	pattern, ok1 := parseDottedQuad(arg(c, 1))
	mask, ok2 := parseDottedQuad(arg(c, 2))
	if !ok1 || !ok2 {
		return e.vm.ToValue(false)
	}
	h := arg(c, 0)
	if a, err := netip.ParseAddr(h); err == nil && a.Is6() {
		return e.vm.ToValue(false) // no IPv6 address is in an IPv4 net; not worth a lookup
	}
	a, ok := e.resolve4(h)
	if !ok {
		return e.vm.ToValue(false)
	}
	m := addr32(mask)
	return e.vm.ToValue(addr32(a)&m == addr32(pattern)&m)
}

// parseDottedQuad reads four decimal numbers of at most three digits, each
// at most 255, separated by dots: what the Netscape helpers take for an
// address. Unlike netip it allows leading zeros ("010.1.1.1" is 10.1.1.1,
// as in pacparser and the browsers), since such an address in a script
// would otherwise be sent to DNS as a name.
func parseDottedQuad(s string) (netip.Addr, bool) {
	var b [4]byte
	for i := range b {
		var part string
		if i < 3 {
			var ok bool
			if part, s, ok = strings.Cut(s, "."); !ok {
				return netip.Addr{}, false
			}
		} else {
			part = s
		}
		if len(part) == 0 || len(part) > 3 {
			return netip.Addr{}, false
		}
		n := 0
		for j := 0; j < len(part); j++ {
			if part[j] < '0' || part[j] > '9' {
				return netip.Addr{}, false
			}
			n = n*10 + int(part[j]-'0')
		}
		if n > 255 {
			return netip.Addr{}, false
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), true
}

func addr32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// convert_addr(ipchars) is the 32-bit number of a dotted address, computed
// as the Netscape-derived JavaScript of every browser and pacparser computes
// it: each of the first four dot-separated parts taken as a JavaScript
// number, its low byte kept, the result a signed 32-bit integer (so
// "255.0.0.0" is -16777216).
func (e *env) convertAddr(c goja.FunctionCall) goja.Value {
	parts := strings.SplitN(arg(c, 0), ".", 5)
	var n uint32
	for i := range 4 {
		var b uint32
		if i < len(parts) {
			b = uint32(toInt32(e.vm.ToValue(parts[i]).ToFloat())) & 0xff
		}
		n = n<<8 | b
	}
	return e.vm.ToValue(int32(n))
}

// toInt32 is ECMAScript's ToInt32 of a number.
func toInt32(f float64) int32 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return int32(uint32(int64(math.Mod(math.Trunc(f), 1<<32))))
}

// myIpAddress() is this machine's address (see WithMyIPAddress): found by
// probing, its IPv4 one, or 127.0.0.1 where it has none, as in Chromium,
// since scripts take it apart as a dotted quad.
func (e *env) myIPAddress(goja.FunctionCall) goja.Value {
	addrs := e.myAddrs()
	if e.s.cfg.myIP.IsValid() {
		return e.vm.ToValue(addrs[0].String())
	}
	for _, a := range addrs {
		if a.Is4() {
			return e.vm.ToValue(a.String())
		}
	}
	// The first tier with a route had IPv6 ones alone: ask the IPv4
	// probes of every tier, which end in 127.0.0.1 when none has a route.
	var v4 [][]string
	for _, tier := range e.s.cfg.probes {
		v4 = append(v4, slices.DeleteFunc(slices.Clone(tier), func(dst string) bool { return strings.HasPrefix(dst, "[") }))
	}
	for _, a := range routeAddrs(e.ctx, v4) {
		if a.Is4() {
			return e.vm.ToValue(a.String())
		}
	}
	return e.vm.ToValue("127.0.0.1")
}

// myAddrs is what myIpAddress and myIpAddressEx report, IPv4 first, never
// empty.
func (e *env) myAddrs() []netip.Addr {
	if e.s.cfg.myIP.IsValid() {
		return []netip.Addr{e.s.cfg.myIP}
	}
	if e.myIPs == nil {
		e.myIPs = routeAddrs(e.ctx, e.s.cfg.probes)
	}
	return e.myIPs
}

// dnsResolveEx(host) is every address of host, IPv6 ones first as Microsoft
// specifies, separated by ';'; "" when there is none.
func (e *env) dnsResolveEx(c goja.FunctionCall) goja.Value {
	return e.vm.ToValue(joinAddrs(sixFirst(e.lookup("ip", arg(c, 0)))))
}

// isResolvableEx(host) is true when host has any address.
func (e *env) isResolvableEx(c goja.FunctionCall) goja.Value {
	return e.vm.ToValue(len(e.lookup("ip", arg(c, 0))) > 0)
}

// isInNetEx(addresses, prefix) is true when one of the addresses is in the
// CIDR prefix ("10.0.0.0/8", "fd00::/8"). addresses is one address, or a
// ';'-separated list of them such as dnsResolveEx returns (Microsoft's
// wording allows several; Chromium and pacparser take one). A host name is
// not resolved, as in Chromium and pacparser: pass dnsResolveEx(host). An
// address of the other family than prefix never matches, as Microsoft
// specifies; a prefix that does not parse makes it false.
func (e *env) isInNetEx(c goja.FunctionCall) goja.Value {
	prefix, err := netip.ParsePrefix(strings.TrimSpace(arg(c, 1)))
	if err != nil || prefix.Addr().Is4In6() {
		return e.vm.ToValue(false)
	}
	prefix = prefix.Masked()
	for _, a := range parseAddrList(arg(c, 0)) {
		if prefix.Contains(a.WithZone("")) {
			return e.vm.ToValue(true)
		}
	}
	return e.vm.ToValue(false)
}

// parseAddrList parses a ';'-separated list of addresses, ignoring spaces
// and empty items; it is nil when an item is not an address or none is
// there.
func parseAddrList(s string) []netip.Addr {
	var out []netip.Addr
	for item := range strings.SplitSeq(s, ";") {
		item = strings.Trim(item, " \t")
		if item == "" {
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil
		}
		out = append(out, a.Unmap())
	}
	return out
}

// myIpAddressEx() is this machine's addresses, IPv6 first, separated by ';'.
func (e *env) myIPAddressEx(goja.FunctionCall) goja.Value {
	return e.vm.ToValue(joinAddrs(sixFirst(e.myAddrs())))
}

// sortIpAddressList(list) sorts a ';'-separated list of addresses, IPv6
// before IPv4 and each in ascending numeric order, keeping each as it was
// written (spaces and tabs aside); "" when the list is empty or an item is
// no address. Chromium sorts so too; Microsoft's own example lists
// fe80:: before 2001:, an order no rule given there explains.
func (e *env) sortIPAddressList(c goja.FunctionCall) goja.Value {
	type item struct {
		text string
		addr netip.Addr
	}
	var items []item
	for text := range strings.SplitSeq(strings.NewReplacer(" ", "", "\t", "").Replace(arg(c, 0)), ";") {
		if text == "" {
			continue
		}
		a, err := netip.ParseAddr(text)
		if err != nil {
			return e.vm.ToValue("")
		}
		items = append(items, item{text, a})
	}
	slices.SortStableFunc(items, func(x, y item) int {
		if x.addr.Is4() != y.addr.Is4() {
			if x.addr.Is6() {
				return -1
			}
			return 1
		}
		return x.addr.WithZone("").Compare(y.addr.WithZone(""))
	})
	texts := make([]string, len(items))
	for i, it := range items {
		texts[i] = it.text
	}
	return e.vm.ToValue(strings.Join(texts, ";"))
}

// getClientVersion() is "1.0", the version of Microsoft's API this
// implements.
func (e *env) getClientVersion(goja.FunctionCall) goja.Value {
	return e.vm.ToValue("1.0")
}

// sixFirst orders addrs IPv6 first, keeping the order within each family.
func sixFirst(addrs []netip.Addr) []netip.Addr {
	out := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		if a.Is6() {
			out = append(out, a)
		}
	}
	for _, a := range addrs {
		if !a.Is6() {
			out = append(out, a)
		}
	}
	return out
}

func joinAddrs(addrs []netip.Addr) string {
	var b strings.Builder
	for i, a := range addrs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(a.String())
	}
	return b.String()
}
