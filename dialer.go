package wsdial

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/net/proxy"
)

// A Dialer opens streams and WebSocket connections, through whatever proxy
// applies to each target. It is safe for concurrent use. The zero Dialer
// dials with the defaults of New(): it reads the proxy environment once, at
// its first use. A Dialer must not be copied after first use.
type Dialer struct {
	once sync.Once // makes a zero Dialer's settings at first use
	cfg  *config
	// At most one of these finds a target's proxy; with none, every dial
	// is direct.
	fixedProxy *proxyTarget                     // WithProxy's, checked once in New
	proxyFunc  func(*url.URL) (*url.URL, error) // WithProxyFunc's
	env        *envProxies                      // the environment's, read once in New
	list       *proxyList                       // WithProxyList's
	netDialer  *net.Dialer
	tlsBase    *tls.Config // the target's TLS configuration for DialTLSContext
	// tlsWS is for wss://: tlsBase itself when that names no ALPN protocol
	// and WithHTTP2 is off, so that nothing is offered; otherwise a clone
	// that offers http/1.1 alone.
	tlsWS *tls.Config
	// tlsProxy is WithProxyTLSConfig's, offering only http/1.1 by ALPN:
	// the CONNECT that follows is HTTP/1.1, and a proxy that picked h2
	// would not read it.
	tlsProxy *tls.Config
	h2       *h2Pool // WithHTTP2's kept connections; nil without it
}

var (
	_ proxy.Dialer        = (*Dialer)(nil)
	_ proxy.ContextDialer = (*Dialer)(nil)
)

// New returns a Dialer configured by opts. With no options it takes the proxy
// from the environment (read now, once), verifies TLS against the system
// roots, and bounds each dial by 30 seconds. An invalid option is reported
// here, as an error that matches ErrInvalid, and no Dialer is returned.
func New(opts ...Option) (*Dialer, error) {
	d := &Dialer{}
	if err := d.setup(newConfig(opts)); err != nil {
		return nil, err
	}
	return d, nil
}

// ready gives a zero Dialer the settings of New() at its first use, once,
// however many goroutines get there together.
func (d *Dialer) ready() {
	d.once.Do(func() {
		if d.cfg == nil {
			d.setup(newConfig(nil)) // no option, so nothing can be invalid
		}
	})
}

// setup fills in d from cfg, or reports the first invalid option.
func (d *Dialer) setup(cfg *config) error {
	if cfg.err != nil {
		return cfg.err
	}
	d.netDialer, d.tlsBase = cfg.netDialer, cfg.tlsConfig
	if d.netDialer == nil {
		d.netDialer = &net.Dialer{}
	}
	if d.tlsBase == nil {
		d.tlsBase = &tls.Config{}
	}
	// A WebSocket over TLS speaks HTTP/1.1, so a server that prefers h2 must
	// not be offered it, as a configuration copied from an HTTP/2 client
	// would; http/1.1 alone is offered instead. With no protocol named, none
	// is offered: a server without an offer speaks HTTP/1.1 all the same,
	// since HTTP/2 over TLS takes ALPN (RFC 9113 §3.2), and the offer, and
	// the server's answer, cost the dial seven allocations. WithHTTP2's
	// dials over HTTP/1.1, to a server that did not take h2, say so.
	d.tlsWS = d.tlsBase
	if len(d.tlsBase.NextProtos) > 0 || cfg.http2 {
		d.tlsWS = d.tlsBase.Clone()
		d.tlsWS.NextProtos = []string{"http/1.1"}
	}
	d.tlsProxy = &tls.Config{}
	if cfg.proxyTLS != nil {
		d.tlsProxy = cfg.proxyTLS.Clone()
	}
	d.tlsProxy.NextProtos = []string{"http/1.1"}
	if err := d.setProxy(cfg); err != nil {
		return err
	}
	if cfg.http2 {
		d.h2 = newH2Pool(d.tlsBase, d.tlsProxy)
	}
	d.cfg = cfg
	return nil
}

// Dial connects to address on the named network, through the proxy that
// applies to it. It is DialContext with a background context.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialContext connects to address ("host:port") on network "tcp", "tcp4" or
// "tcp6", through the proxy that applies to it, and returns the stream. It has
// the shape of net.Dialer.DialContext, so it fits http.Transport.DialContext
// and other dial hooks. For proxy selection an address on port 443 is looked
// up as an https:// target and any other as http://.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	address, _, err := d.check(network, address)
	if err != nil {
		return nil, err
	}
	ctx, cancel := bound(ctx, d.cfg.handshakeTimeout)
	defer cancel()
	scheme := "http"
	if _, port, _ := net.SplitHostPort(address); port == "443" {
		scheme = "https"
	}
	return d.reach(ctx, traceFor(ctx, d.cfg.logger), network, address, scheme)
}

// DialTLSContext connects to address as DialContext does, looking the proxy
// up as for an https:// target, and runs a TLS handshake with it over that
// stream. The returned *tls.Conn has completed its handshake; its ServerName
// is the address's host unless the WithTLSConfig configuration names one.
func (d *Dialer) DialTLSContext(ctx context.Context, network, address string) (net.Conn, error) {
	address, host, err := d.check(network, address)
	if err != nil {
		return nil, err
	}
	ctx, cancel := bound(ctx, d.cfg.handshakeTimeout)
	defer cancel()
	tr := traceFor(ctx, d.cfg.logger)
	c, err := d.reach(ctx, tr, network, address, "https")
	if err != nil {
		return nil, err
	}
	tc, err := tlsTarget(ctx, tr, c, host, d.tlsBase)
	if err != nil {
		return nil, err
	}
	return tc, nil
}

// DialWebSocket opens a WebSocket connection to rawURL: it reaches the host
// through the proxy that applies, adds TLS for wss://, and runs the opening
// handshake. The schemes are ws and wss, with http and https as aliases. A
// URL with user information or a fragment is refused before any traffic.
func (d *Dialer) DialWebSocket(ctx context.Context, rawURL string) (*Conn, error) {
	d.ready()
	t, err := parseTarget(rawURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := bound(ctx, d.cfg.handshakeTimeout)
	defer cancel()

	scheme := "http"
	if t.secure {
		scheme = "https"
	}
	tr := traceFor(ctx, d.cfg.logger)
	if d.h2 != nil && t.secure {
		return d.dialH2(ctx, tr, t) // h2_handshake.go
	}
	c, err := d.reach(ctx, tr, "tcp", t.address, scheme)
	if err != nil {
		return nil, err
	}
	if t.secure {
		if c, err = tlsTarget(ctx, tr, c, t.host, d.tlsWS); err != nil {
			return nil, err
		}
	}
	conn, err := handshake(ctx, tr, c, t.hostHeader, t.target, d.cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return conn, nil
}

// check readies d and refuses a stream dial before any traffic when the
// network is not TCP or the address is not host:port with a port in range.
// It returns the address as this machine dials it, its name in ASCII (see
// wirehost.go), and the host as a peer is to see it, for SNI.
func (d *Dialer) check(network, address string) (local, host string, err error) {
	d.ready()
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return "", "", invalid("invalid network", fmt.Errorf("%q is not supported; use tcp, tcp4 or tcp6", network))
	}
	host, port, err := net.SplitHostPort(address)
	switch {
	case err != nil:
	case host == "" || breaksLine(host) || strings.Contains(host, "/"):
		err = errors.New("the host is empty or holds a space, a slash or a control character")
	default:
		err = checkPort(port)
	}
	if err == nil {
		local, err = localAddress(host, port)
	}
	if err == nil {
		host, err = wireHost(host)
	}
	if err != nil {
		return "", "", invalid("invalid address", err)
	}
	return local, host, nil
}

// checkPort refuses a port that is not a decimal number from 1 to 65535:
// a service name would reach a proxy as is, and an out-of-range number would
// fail only at connect time.
func checkPort(port string) error {
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	return nil
}

// reach runs the first two stages of a dial: it resolves the proxy for the
// target, then connects to the target directly or through that proxy; with
// WithProxyList, reachList works through the list instead (proxy_list.go).
// scheme, http or https, is what the proxy is looked up for.
func (d *Dialer) reach(ctx context.Context, tr dialTrace, network, address, scheme string) (net.Conn, error) {
	if d.list != nil {
		return d.reachList(ctx, tr, network, address, scheme)
	}
	px, err := d.proxyFor(scheme, address)
	if err != nil {
		return nil, err
	}
	tr.route(d, scheme, address, px)
	return d.via(ctx, tr, px, network, address)
}

// via connects to address through px, or directly when px is nil. With
// WithHTTP2 an https:// proxy may carry the tunnel as an HTTP/2 stream.
func (d *Dialer) via(ctx context.Context, tr dialTrace, px *proxyTarget, network, address string) (net.Conn, error) {
	if px != nil {
		if d.h2 != nil && px.kind.tls {
			return d.h2Tunnel(ctx, tr, px, network, address) // h2_proxy.go
		}
		return px.kind.dial(d, ctx, tr, px, network, address)
	}
	c, err := d.dialTCP(ctx, tr, network, address)
	if err != nil {
		return nil, &stageError{stage: "dial", class: ErrDial, err: withCause(ctxErr(ctx), err)}
	}
	return c, nil
}

// target is a WebSocket URL taken apart for the stages of a dial. Its host
// is in ASCII, and an IPv6 zone stays in address alone (see wirehost.go).
type target struct {
	secure     bool
	host       string // the host alone, without brackets: for SNI
	address    string // host:port, to dial
	hostHeader string // the Host header: the URL's host[:port] as written, made ASCII
	target     string // the request-target in origin-form
}

func parseTarget(rawURL string) (target, error) {
	var t target
	u, err := parseURL(rawURL)
	if err != nil {
		return t, invalid("invalid URL", err)
	}
	var port string
	switch strings.ToLower(u.Scheme) {
	case "ws", "http":
		port = "80"
	case "wss", "https":
		t.secure, port = true, "443"
	default:
		return t, invalid("invalid URL", fmt.Errorf("scheme %q is not ws, wss, http or https", u.Scheme))
	}
	switch {
	case u.User != nil:
		return t, invalid("invalid URL", errors.New("it holds user information, which a WebSocket URL must not"))
	case u.Fragment != "" || strings.Contains(rawURL, "#"):
		return t, invalid("invalid URL", errors.New("it has a fragment, which a WebSocket URL must not"))
	case u.Opaque != "" || u.Hostname() == "":
		return t, invalid("invalid URL", errors.New("it names no host"))
	}
	if p := u.Port(); p != "" {
		if err := checkPort(p); err != nil {
			return t, invalid("invalid URL", err)
		}
		port = p
	}
	name := u.Hostname()
	t.address = u.Host // with its port and in ASCII, it is what localAddress would make again
	if u.Port() == "" || !isASCII(u.Host) {
		t.address, err = localAddress(name, port)
	}
	if err == nil {
		if t.host, err = wireHost(name); err == nil {
			t.hostHeader, err = wireAuthority(u.Host)
		}
	}
	if err != nil {
		return t, invalid("invalid URL", err)
	}
	t.target = u.RequestURI()
	// url.Parse lets a space through in an IPv6 zone and in a query. Either
	// would break the request line, so it is refused here, before a
	// connection to the server or a tunnel through a proxy is made for it.
	switch {
	case breaksLine(u.Host):
		return t, invalid("invalid URL", fmt.Errorf("host %q holds a space", u.Host))
	case breaksLine(t.target):
		return t, invalid("invalid URL", errors.New("its query holds a space, which must be written %20"))
	}
	return t, nil
}

// parseURL is url.Parse with errors that describe what is wrong without
// quoting any of the URL: url.Error quotes it whole, and the errors inside
// it quote the piece that failed, which for a password with an unencoded /,
// ?, # or % is the password itself.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err == nil {
		return u, nil // and the *url.Error below does not escape to the heap on every dial
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var esc url.EscapeError
	var host url.InvalidHostError
	msg := err.Error()
	switch {
	case errors.As(err, &esc):
		msg = "it holds a % that begins no escape such as %2F"
	case errors.As(err, &host):
		msg = "its host holds a character that no host name may"
	case strings.HasPrefix(msg, "invalid port"):
		msg = "its port is not a number"
	case strings.HasPrefix(msg, "invalid host"):
		msg = "its host in brackets is not an IPv6 address"
	default:
		// The other errors of net/url say what is wrong in words alone;
		// should one quote something, the quote is cut off.
		msg, _, _ = strings.Cut(strings.TrimPrefix(msg, "net/url: "), `"`)
	}
	msg = "it does not parse: " + strings.TrimSpace(msg)
	if strings.Contains(raw, "@") {
		msg += " (a /, ?, #, % or space in a user name or password must be percent-encoded)"
	}
	return nil, errors.New(msg)
}
