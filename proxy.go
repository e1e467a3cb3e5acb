package wsdial

import (
	"context"
	"errors"
	"fmt"
	"net"
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
	port string // the default port
	tls  bool   // whether the proxy itself is spoken to over TLS
	dial func(d *Dialer, ctx context.Context, tr dialTrace, px *proxyTarget, network, address string) (net.Conn, error)
}

// proxyKinds maps each supported scheme to its way through, so that adding a
// scheme is one line here rather than a switch in every function that cares.
var proxyKinds = map[string]proxyKind{
	"http":    {"80", false, (*Dialer).connectVia},
	"https":   {"443", true, (*Dialer).connectVia},
	"socks5":  {"1080", false, (*Dialer).socksVia},
	"socks5h": {"1080", false, (*Dialer).socksVia},
}

// proxyTarget is a proxy URL checked and taken apart. It is not changed
// once made, so a fixed proxy's serves every dial.
type proxyTarget struct {
	url      *url.URL
	kind     proxyKind
	host     string // without brackets: what TLS to an https proxy verifies
	address  string // host:port, with the scheme's default port filled in
	redacted string // for errors and logs
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
		d.proxy = cfg.proxyFunc
	case proxyFromList:
		d.list = newProxyList(cfg.proxyList, cfg.proxyRetry)
	default:
		d.proxy, d.envSource = proxyFromEnv()
	}
	return nil
}

// proxyFor returns the proxy for address, looked up as a target of scheme
// (http or https), or nil for a direct dial. Every failure is a *ProxyError.
func (d *Dialer) proxyFor(scheme, address string) (*proxyTarget, error) {
	if d.fixedProxy != nil || d.proxy == nil {
		return d.fixedProxy, nil
	}
	u, err := d.proxy(&url.URL{Scheme: scheme, Host: address})
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
	u, err := parseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid proxy URL: %w", err)
	}
	return u, nil
}

// checkProxy refuses a proxy URL that names no host or an unsupported
// scheme, and works out where to dial. Even on failure px.redacted is set.
func checkProxy(u *url.URL) (*proxyTarget, error) {
	px := &proxyTarget{url: u, redacted: u.Redacted()}
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
	}
	px.kind = kind
	px.host = u.Hostname()
	port := u.Port()
	if port == "" {
		port = kind.port
	}
	px.address = net.JoinHostPort(px.host, port)
	return px, nil
}

// proxyReason says why a target is dialled through proxy, or directly when
// proxy is nil: which option or environment variable decided. It runs only
// for the log.
func (d *Dialer) proxyReason(scheme string, proxied bool) string {
	switch d.cfg.proxyMode {
	case proxyNone:
		return "WithoutProxy"
	case proxyFixed:
		return "WithProxy"
	case proxyFromFunc:
		return "WithProxyFunc"
	}
	from := d.envSource[scheme]
	switch {
	case proxied:
		return "environment: " + from
	case from == "":
		return "environment: no proxy variable for " + scheme
	}
	return "environment: NO_PROXY, or a loopback target, excludes it from " + from
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
