package pac

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/dop251/goja"
)

// Option sets how a Script is loaded and evaluated. Options are taken by
// Parse, Load and Discover; those that concern fetching (WithHTTPClient,
// WithMaxScriptSize) do nothing for Parse.
type Option func(*config)

// config is what the options set. It is copied once, in newConfig, and never
// changed afterwards, so a Script can share it between concurrent calls.
type config struct {
	myIP       netip.Addr // zero: probe the routing table on each call
	resolver   *net.Resolver
	timeout    time.Duration
	now        func() time.Time
	logger     *slog.Logger
	httpClient *http.Client
	maxSize    int64
	probes     [][]string                  // where routeAddrs looks for routes; tests point it at loopback
	testHook   func(*goja.Runtime)         // run on each new runtime; tests add globals with it
	afterFunc  func(time.Duration, func()) // time.AfterFunc; tests fire it themselves
}

// Defaults. The timeout and size follow Chromium, which gives a PAC fetch
// 30 seconds and 1 MB; a call gets one second, which is long for a script
// that does no DNS and ample for one that does a little.
const (
	defaultTimeout   = time.Second
	defaultMaxSize   = 1 << 20
	defaultFetchTime = 30 * time.Second
)

func newConfig(opts []Option) config {
	c := config{
		resolver:  net.DefaultResolver,
		timeout:   defaultTimeout,
		now:       time.Now,
		maxSize:   defaultMaxSize,
		probes:    routeProbes,
		afterFunc: func(d time.Duration, f func()) { time.AfterFunc(d, f) },
	}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// WithMyIPAddress fixes what myIpAddress() and myIpAddressEx() return. By
// default each call finds the address the machine would use to reach the
// internet, by asking the kernel which source address a UDP socket
// "connected" to a documentation address (192.0.2.1, 2001:db8::1) would
// get; a UDP connect sends no packet. When no route exists it tries private
// ranges, then falls back to 127.0.0.1, as Chromium does; myIpAddress()
// gives the IPv4 address found, or 127.0.0.1 where only IPv6 ones are, and
// myIpAddressEx() all of them. An invalid addr restores the default.
func WithMyIPAddress(addr netip.Addr) Option {
	return func(c *config) { c.myIP = addr.Unmap() }
}

// WithResolver sets the resolver of dnsResolve, dnsResolveEx, isResolvable,
// isResolvableEx, isInNet and isInNetEx. The default is net.DefaultResolver.
// Every lookup is bounded by the call's context and timeout.
func WithResolver(r *net.Resolver) Option {
	return func(c *config) {
		if r != nil {
			c.resolver = r
		}
	}
}

// WithTimeout bounds each evaluation of the script: the script's top level
// and its FindProxyForURL together, DNS lookups included. The default is one
// second. A script that runs past it is interrupted and the call fails with
// an error that matches context.DeadlineExceeded. A zero or negative d
// restores the default.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithClock sets the clock of weekdayRange, dateRange and timeRange, and of
// the script's own Date. The Location of the time it returns is the zone
// those helpers use when their last argument is not "GMT"; the script's Date
// object always uses the process's local zone (time.Local). The default is
// time.Now. It exists so that a script's time rules can be tested at a fixed
// instant. Calls running in parallel call it in parallel.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithLogger logs what a script says through alert() (at info level) and
// every entry of an answer that Proxies skips, with the reason (at warn
// level). By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithHTTPClient sets the client that Load and Discover fetch http and https
// scripts with. The default client uses no proxy, as browsers fetch PAC
// files directly: a proxy may be what the script is meant to choose.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) { c.httpClient = hc }
}

// WithMaxScriptSize caps the size of a script that Load or Discover reads;
// a larger one is refused. The default is 1 MiB, as in Chromium.
func WithMaxScriptSize(n int64) Option {
	return func(c *config) {
		if n > 0 {
			c.maxSize = n
		}
	}
}
