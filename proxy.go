package wsdial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// The proxy stage of a dial: setProxy decides how the proxy of a target is
// found, proxyFor finds it, and its kind's dial reaches the target through
// it. Each kind of proxy has a
// file of its own: proxy_env.go (the environment), proxy_connect.go (HTTP
// CONNECT), proxy_auth.go (407 challenges) and proxy_socks.go (SOCKS5).

// proxyKind is how one proxy URL scheme reaches a target.
type proxyKind struct {
	port      string // the default port
	tls       bool   // whether the proxy itself is spoken to over TLS
	remoteDNS bool   // whether the proxy is sent the target's name (socks5h) rather than an address
	// checkUser refuses user information that this kind cannot send.
	checkUser func(*url.Userinfo) error
	dial      func(d *Dialer, ctx context.Context, tr dialTrace, px *proxyTarget, network, address string) (net.Conn, error)
}

// proxyKinds maps each supported scheme to its way through, so that adding a
// scheme is one line here rather than a switch in every function that cares.
var proxyKinds = map[string]proxyKind{
	"http":    {"80", false, false, checkBasicUser, (*Dialer).connectVia},
	"https":   {"443", true, false, checkBasicUser, (*Dialer).connectVia},
	"socks5":  {"1080", false, false, checkSOCKSUser, (*Dialer).socksVia},
	"socks5h": {"1080", false, true, checkSOCKSUser, (*Dialer).socksVia},
}

// proxyTarget is a proxy URL checked and taken apart. It is not changed
// once made, so a fixed proxy's serves every dial.
type proxyTarget struct {
	url       *url.URL
	kind      proxyKind
	remoteDNS bool   // the proxy is sent the target's name
	host      string // without brackets: what TLS to an https proxy verifies
	address   string // host:port, with the scheme's default port filled in
	redacted  string // for errors and logs
}

// setProxy sets how the Dialer finds the proxy of each target: d.proxy
// resolves it per target (given with scheme http or https), and a proxy named
// by WithProxy is checked here once, as d.fixedProxy, so that a bad one fails
// every dial before any traffic. Both stay nil when every dial is direct.
func (d *Dialer) setProxy(cfg *config) error {
	switch cfg.proxyMode {
	case proxyNone:
	case proxyFixed:
		u, err := parseProxyURL(cfg.proxyURL)
		if err == nil {
			d.fixedProxy, err = checkProxy(u)
		}
		if err != nil {
			return invalid("invalid option", fmt.Errorf("WithProxy: %w", err))
		}
	case proxyFromFunc:
		d.proxyFunc = cfg.proxyFunc
	case proxyFromList:
		d.list = newProxyList(cfg.proxyList, cfg.proxyRetry)
	default:
		d.env = readEnvProxies()
	}
	return nil
}

// proxyFor returns the proxy for address, looked up as a target of scheme
// (http or https), or nil for a direct dial. A failure is a *ProxyError, or
// the ErrInvalid of a bad proxy variable.
func (d *Dialer) proxyFor(scheme, address string) (*proxyTarget, error) {
	switch {
	case d.env != nil:
		return d.env.proxyFor(&url.URL{Scheme: scheme, Host: address})
	case d.proxyFunc == nil:
		return d.fixedProxy, nil
	}
	u, err := d.proxyFunc(&url.URL{Scheme: scheme, Host: address})
	if err != nil || u == nil {
		if err != nil {
			err = &ProxyError{Stage: "resolve", Err: err}
		}
		return nil, err
	}
	px, err := checkProxy(u)
	if err != nil {
		return nil, &ProxyError{Proxy: px.redacted, Stage: "resolve", Err: err}
	}
	return px, nil
}

// parseProxyURL parses a proxy URL as WithProxy and the environment accept it:
// a bare "host:port" means http://host:port.
func parseProxyURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	return parseURL(raw)
}

// checkProxy refuses a proxy URL that names no host, an unsupported
// scheme or a port out of range, and works out where to dial. Even on
// failure px.redacted is set.
func checkProxy(u *url.URL) (*proxyTarget, error) {
	// A path, query or fragment means nothing to a proxy, and the redacted
	// form would show them: a password with an unencoded / lands in the path.
	bare := *u
	bare.Path, bare.RawPath, bare.RawQuery, bare.ForceQuery, bare.Fragment, bare.RawFragment = "", "", "", false, "", ""
	px := &proxyTarget{url: u, redacted: bare.Redacted()}
	if strings.Contains(u.Path+u.RawQuery+u.Fragment, "@") {
		// The user information ended at an unencoded /, ? or #, and what
		// came before it became the host: "alice:4321/et@proxy" parses as
		// the host alice and the port 4321, the password's start.
		px.redacted = u.Scheme + "://…"
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme == "" {
		scheme = "http" // a function may hand back a URL with only a host
	}
	kind, ok := proxyKinds[scheme]
	switch {
	case !ok:
		return px, fmt.Errorf("proxy scheme %q is not supported; use http, https, socks5 or socks5h", u.Scheme)
	case u.Hostname() == "" || u.Opaque != "":
		return px, errors.New("proxy URL names no host")
	case breaksLine(u.Host):
		return px, errors.New("proxy host holds a space or control character")
	case u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return px, errors.New("proxy URL has a path, a query or a fragment, which a proxy URL does not take (a /, ? or # in a password must be percent-encoded)")
	}
	if u.User != nil && kind.checkUser != nil {
		if err := kind.checkUser(u.User); err != nil {
			return px, err
		}
	}
	// The errors below describe the port and the host without showing
	// them: a proxy variable's error shows nothing of its value past the
	// scheme.
	port := u.Port()
	if port == "" {
		port = kind.port
	} else if checkPort(port) != nil {
		return px, errors.New("the proxy's port is not a number from 1 to 65535")
	}
	var err error
	if px.address, err = localAddress(u.Hostname(), port); err == nil {
		px.host, err = wireHost(u.Hostname())
	}
	if err != nil {
		return px, errors.New("the proxy's host is no valid domain name in Unicode (RFC 5891)")
	}
	px.kind, px.remoteDNS = kind, kind.remoteDNS
	return px, nil
}

// proxyReason says why the target of scheme at address is dialled through
// a proxy, or directly: which option or environment variable decided, and
// for a direct dial that a variable would have served, whether NO_PROXY or
// a loopback target excluded it. It runs only for the log.
func (d *Dialer) proxyReason(scheme, address string, proxied bool) string {
	switch d.cfg.proxyMode {
	case proxyNone:
		return "WithoutProxy"
	case proxyFixed:
		return "WithProxy"
	case proxyFromFunc:
		return "WithProxyFunc"
	case proxyFromList:
		return "WithProxyList"
	}
	return d.env.reason(scheme, address, proxied)
}

// loopbackTarget reports whether address is one that httpproxy never
// proxies: the name localhost, as written, or a loopback IP address.
func loopbackTarget(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return host == "localhost" || err == nil && ip.IsLoopback()
}

// dialProxy opens the TCP connection to the proxy itself.
func (d *Dialer) dialProxy(ctx context.Context, tr dialTrace, px *proxyTarget) (net.Conn, error) {
	// The proxy is dialed over "tcp" whatever network the target asked for: a
	// tcp6 target says nothing about how the proxy is reached.
	c, err := d.dialTCP(ctx, tr, "tcp", px.address)
	if err != nil {
		return nil, &ProxyError{Proxy: px.redacted, Stage: "dial", Err: withCause(ctxErr(ctx), err)}
	}
	return c, nil
}
