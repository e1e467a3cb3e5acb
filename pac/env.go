package pac

import (
	"context"
	"net/netip"

	"github.com/dop251/goja"
)

// env is what one call of a script runs in: a runtime of its own, with the
// PAC helpers defined as globals, and the state a call keeps (its DNS
// answers, its alerts). It is used by one goroutine, the call's.
//
// Every helper is Go, not JavaScript: a script that replaces
// String.prototype.split or Array.prototype.join changes nothing a helper
// computes, and a script that replaces a helper itself replaces it for its
// own call only.
type env struct {
	ctx context.Context
	s   *Script
	vm  *goja.Runtime

	lookups map[lookupKey][]netip.Addr
	alerts  int
	myIPs   []netip.Addr // found on first use, when WithMyIPAddress is unset
}

type lookupKey struct{ network, host string }

// A call's budgets: they stop a hostile script from flooding the resolver
// or the log within its timeout.
const (
	maxLookups = 128 // distinct names resolved in one call
	maxAlerts  = 32  // alert() messages logged in one call
)

// helpers are the functions every script finds defined: Netscape's set,
// then Microsoft's IPv6 set, which is defined for either entry point, as in
// pacparser and Chromium (Internet Explorer keeps it to FindProxyForURLEx).
var helpers = [...]struct {
	name string
	f    func(*env, goja.FunctionCall) goja.Value
}{
	{"isPlainHostName", (*env).isPlainHostName},
	{"dnsDomainIs", (*env).dnsDomainIs},
	{"localHostOrDomainIs", (*env).localHostOrDomainIs},
	{"isResolvable", (*env).isResolvable},
	{"isInNet", (*env).isInNet},
	{"dnsResolve", (*env).dnsResolve},
	{"convert_addr", (*env).convertAddr},
	{"myIpAddress", (*env).myIPAddress},
	{"dnsDomainLevels", (*env).dnsDomainLevels},
	{"shExpMatch", (*env).shExpMatch},
	{"weekdayRange", (*env).weekdayRange},
	{"dateRange", (*env).dateRange},
	{"timeRange", (*env).timeRange},
	{"alert", (*env).alert},

	{"isResolvableEx", (*env).isResolvableEx},
	{"isInNetEx", (*env).isInNetEx},
	{"dnsResolveEx", (*env).dnsResolveEx},
	{"myIpAddressEx", (*env).myIPAddressEx},
	{"sortIpAddressList", (*env).sortIPAddressList},
	{"getClientVersion", (*env).getClientVersion},
}

func newEnv(ctx context.Context, s *Script) *env {
	e := &env{ctx: ctx, s: s, vm: goja.New()}
	e.vm.SetMaxCallStackSize(maxDepth)
	e.vm.SetTimeSource(s.cfg.now)
	global := e.vm.GlobalObject()
	for _, h := range helpers {
		f := h.f
		fn := e.vm.ToValue(func(c goja.FunctionCall) goja.Value { return f(e, c) })
		if err := global.Set(h.name, fn); err != nil {
			panic("pac: defining " + h.name + ": " + err.Error()) // cannot fail on a fresh runtime
		}
	}
	if s.cfg.testHook != nil {
		s.cfg.testHook(e.vm)
	}
	return e
}

// arg returns argument i as a string, as JavaScript's String() would make
// it: "undefined" when it is missing.
func arg(call goja.FunctionCall, i int) string {
	return call.Argument(i).String()
}

// throw raises a JavaScript Error in the script from within a helper.
func (e *env) throw(msg string) {
	panic(e.vm.NewGoError(&helperError{msg}))
}

type helperError struct{ msg string }

func (h *helperError) Error() string { return h.msg }
