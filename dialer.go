package wsdial

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/proxy"
)

// A Dialer opens streams and WebSocket connections, through whatever proxy
// applies to each target. It is safe for concurrent use, and its zero value
// is not usable: make one with New.
type Dialer struct {
	cfg *config
	// proxy resolves the proxy for a target; nil means every dial is direct.
	proxy      func(*url.URL) (*url.URL, error)
	fixedProxy *proxyTarget      // WithProxy's, checked once in New; then proxy is nil
	envSource  map[string]string // scheme to the variable that named its proxy, for the log
	netDialer  *net.Dialer
	tlsBase    *tls.Config // the target's TLS configuration for DialTLSContext
	tlsWS      *tls.Config // the same, offering only http/1.1 by ALPN, for wss://
}

var (
	_ proxy.Dialer        = (*Dialer)(nil)
	_ proxy.ContextDialer = (*Dialer)(nil)
)

// New returns a Dialer configured by opts. With no options it takes the proxy
// from the environment (read now, once), verifies TLS against the system
// roots, and bounds each dial by 30 seconds.
func New(opts ...Option) *Dialer {
	cfg := newConfig(opts)
	d := &Dialer{cfg: cfg, netDialer: cfg.netDialer, tlsBase: cfg.tlsConfig}
	if d.netDialer == nil {
		d.netDialer = &net.Dialer{}
	}
	if d.tlsBase == nil {
		d.tlsBase = &tls.Config{}
	}
	d.tlsWS = d.tlsBase.Clone()
	d.tlsWS.NextProtos = []string{"http/1.1"}
	if err := d.setProxy(cfg); err != nil && cfg.err == nil {
		cfg.err = err // a *ProxyError already says what failed
	}
	return d
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
	if err := d.check(network); err != nil {
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
	if err := d.check(network); err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("wsdial: %w", err)
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
	if d.cfg.err != nil {
		return nil, d.cfg.err
	}
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

// check refuses a dial before any traffic when an option was invalid or the
// network is not TCP.
func (d *Dialer) check(network string) error {
	if d.cfg.err != nil {
		return d.cfg.err
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
		return nil
	}
	return fmt.Errorf("wsdial: network %q is not supported; use tcp, tcp4 or tcp6", network)
}

// reach runs the first two stages of a dial: it resolves the proxy for the
// target, then connects to the target directly or through that proxy.
// scheme, http or https, is what the proxy is looked up for.
func (d *Dialer) reach(ctx context.Context, tr dialTrace, network, address, scheme string) (net.Conn, error) {
	px, err := d.proxyFor(scheme, address)
	if err != nil {
		return nil, err
	}
	tr.route(d, scheme, address, px)
	if px != nil {
		return px.kind.dial(d, ctx, tr, px, network, address)
	}
	c, err := d.dialTCP(ctx, tr, network, address)
	if err != nil {
		return nil, &stageError{stage: "dial", err: withCause(ctxErr(ctx), err)}
	}
	return c, nil
}

// target is a WebSocket URL taken apart for the stages of a dial.
type target struct {
	secure     bool
	host       string // the host alone, without brackets: for SNI
	address    string // host:port, to dial
	hostHeader string // the Host header: the URL's host[:port] as written
	target     string // the request-target in origin-form
}

func parseTarget(rawURL string) (target, error) {
	var t target
	u, err := parseURL(rawURL)
	if err != nil {
		return t, fmt.Errorf("wsdial: invalid URL: %w", err)
	}
	var port string
	switch strings.ToLower(u.Scheme) {
	case "ws", "http":
		port = "80"
	case "wss", "https":
		t.secure, port = true, "443"
	default:
		return t, fmt.Errorf("wsdial: invalid URL: scheme %q is not ws, wss, http or https", u.Scheme)
	}
	switch {
	case u.User != nil:
		return t, errors.New("wsdial: invalid URL: it holds user information, which a WebSocket URL must not")
	case u.Fragment != "" || strings.Contains(rawURL, "#"):
		return t, errors.New("wsdial: invalid URL: it has a fragment, which a WebSocket URL must not")
	case u.Opaque != "" || u.Hostname() == "":
		return t, fmt.Errorf("wsdial: invalid URL %q: no host", rawURL)
	}
	if p := u.Port(); p != "" {
		port = p
	}
	t.host = u.Hostname()
	t.address = net.JoinHostPort(t.host, port)
	t.hostHeader = u.Host
	t.target = u.RequestURI()
	return t, nil
}

// parseURL is url.Parse with errors that leave the URL out: url.Error quotes
// it whole, and it may hold a password.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return u, err
}
