package wsdial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/net/proxy"
)

// socksConnector is the part of the SOCKS5 dialer that golang.org/x/net/proxy
// returns which runs the exchange on a connection we opened ourselves, so that
// a failure to reach the proxy and a refusal by it stay apart.
type socksConnector interface {
	DialWithConn(ctx context.Context, c net.Conn, network, address string) (net.Addr, error)
}

// socksVia reaches address through a SOCKS5 proxy. For socks5:// the
// target's name is resolved here and the proxy is sent an address, as curl
// does; for socks5h:// the proxy is sent the name. User information in the
// proxy URL becomes username/password authentication (RFC 1929).
func (d *Dialer) socksVia(ctx context.Context, tr dialTrace, px *proxyTarget, network, address string) (net.Conn, error) {
	fail := func(err error) (net.Conn, error) {
		return nil, &ProxyError{Proxy: px.redacted, Stage: "socks", Err: withCause(ctxErr(ctx), err)}
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return fail(fmt.Errorf("target address: %w", err))
	}
	if strings.EqualFold(px.url.Scheme, "socks5") && net.ParseIP(host) == nil {
		ip, err := d.resolve(ctx, network, host)
		if err != nil {
			return fail(fmt.Errorf("resolving %s here, as socks5:// asks (socks5h:// lets the proxy resolve it): %w", host, err))
		}
		address = net.JoinHostPort(ip, port)
	}
	var auth *proxy.Auth
	if u := px.url.User; u != nil && u.Username() != "" {
		pass, _ := u.Password()
		auth = &proxy.Auth{User: u.Username(), Password: pass}
	}
	sd, err := proxy.SOCKS5("tcp", px.address, auth, nil)
	if err != nil {
		return fail(err)
	}
	sc, ok := sd.(socksConnector)
	if !ok {
		return fail(errors.New("golang.org/x/net/proxy's SOCKS5 dialer lacks DialWithConn"))
	}
	c, err := d.dialProxy(ctx, tr, px)
	if err != nil {
		return nil, err
	}
	// DialWithConn is given no context of ours: watchContext puts the
	// deadline on the connection and interrupts it on cancellation, where
	// x/net would start a goroutine to watch any context but Background, and
	// could report a bare i/o timeout from a deadline that beat the
	// context's own timer.
	w := watchContext(ctx, c)
	_, err = sc.DialWithConn(context.Background(), c, network, address)
	err = withCause(w.release(), err)
	if err != nil {
		c.Close()
		return fail(err)
	}
	tr.socksGranted()
	return c, nil
}

// resolve looks host up with the net.Dialer's resolver, in the address
// family that network asks for, and returns the first address.
func (d *Dialer) resolve(ctx context.Context, network, host string) (string, error) {
	r := d.netDialer.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	family := "ip"
	switch network {
	case "tcp4":
		family = "ip4"
	case "tcp6":
		family = "ip6"
	}
	ips, err := r.LookupNetIP(ctx, family, host)
	if err != nil {
		return "", err
	}
	if len(ips) == 0 {
		return "", &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return ips[0].Unmap().String(), nil
}
