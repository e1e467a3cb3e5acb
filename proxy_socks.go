package wsdial

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strconv"
)

// The SOCKS5 client of RFC 1928, with the username/password method of RFC
// 1929. It is written here rather than taken from golang.org/x/net/proxy so
// that the proxy's reply code reaches the caller as a value, a refused
// address can be followed by the next one on a fresh connection, and the
// exchange runs under watchContext with no goroutine of its own.

const (
	socksVersion      = 5
	socksAuthVersion  = 1 // of the RFC 1929 sub-negotiation
	socksNoAuth       = 0
	socksUserPass     = 2
	socksNoAcceptable = 0xFF
	socksConnect      = 1
	socksIPv4         = 1
	socksDomain       = 3
	socksIPv6         = 4
)

// errSOCKSNameTooLong refuses a name that ATYP 3 cannot carry: its length
// is one byte (RFC 1928 §5).
var errSOCKSNameTooLong = errors.New("a host name longer than 255 bytes cannot be sent to a SOCKS5 proxy")

// socksVia reaches address through a SOCKS5 proxy. For socks5:// the
// target's name is resolved here, as curl does, and its addresses are tried
// in turn, each on a connection of its own, while the proxy reports the one
// it was given unreachable or refused, as net.Dialer tries a name's
// addresses; for socks5h:// the proxy is sent the name. User information in
// the proxy URL becomes username/password authentication (RFC 1929).
func (d *Dialer) socksVia(ctx context.Context, tr dialTrace, px *proxyTarget, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, socksFailure(ctx, px, fmt.Errorf("target address: %w", err))
	}
	if px.remoteDNS && len(host) > 255 {
		return nil, socksFailure(ctx, px, errSOCKSNameTooLong) // refused before the proxy is connected to
	}
	if px.remoteDNS || isIP(host) {
		return d.socksConnect(ctx, tr, px, host, port)
	}
	ips, err := d.resolve(ctx, network, host)
	if err != nil {
		return nil, socksFailure(ctx, px, fmt.Errorf("resolving %s here, as socks5:// asks (socks5h:// lets the proxy resolve it): %w", host, err))
	}
	var first error
	for _, ip := range ips {
		c, err := d.socksConnect(ctx, tr, px, ip.String(), port)
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if !addressRefused(err) || ctx.Err() != nil {
			return nil, first
		}
	}
	if len(ips) > 1 {
		pe := first.(*ProxyError) // as every error of socksConnect is
		pe.Err = fmt.Errorf("%w, and so were the other %d addresses of %s", pe.Err, len(ips)-1, host)
	}
	return nil, first
}

// addressRefused reports whether err is a proxy's refusal of the one address
// it was given, after which another address of the same name may fare better.
func addressRefused(err error) bool {
	var pe *ProxyError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.SOCKSReply {
	case SOCKSNetworkUnreachable, SOCKSHostUnreachable, SOCKSConnectionRefused, SOCKSTTLExpired:
		return true
	}
	return false
}

// socksConnect opens a connection to the proxy and asks it for host:port,
// host being a name or an address. Every failure is a *ProxyError.
func (d *Dialer) socksConnect(ctx context.Context, tr dialTrace, px *proxyTarget, host, port string) (net.Conn, error) {
	c, err := d.dialProxy(ctx, tr, px)
	if err != nil {
		return nil, err
	}
	w := watchContext(ctx, c)
	bp := headBufs.Get().(*[]byte)
	err = socksExchange(c, px.url.User, host, port, *bp)
	headBufs.Put(bp)
	err = withCause(w.release(), err)
	tr.socksReply(net.JoinHostPort(host, port), err)
	if err != nil {
		c.Close()
		return nil, socksFailure(ctx, px, err)
	}
	return c, nil
}

// socksFailure is the *ProxyError of the socks stage for err, with the
// proxy's reply code when it sent one.
func socksFailure(ctx context.Context, px *proxyTarget, err error) error {
	pe := &ProxyError{Proxy: px.redacted, Stage: "socks", Err: withCause(ctxErr(ctx), err)}
	errors.As(err, &pe.SOCKSReply)
	return pe
}

// socksExchange runs the method negotiation, the authentication if user is
// set, and the CONNECT request for host:port on c, using buf, and reads
// exactly the proxy's replies so that whatever follows them is the target's.
func socksExchange(c io.ReadWriter, user *url.Userinfo, host, port string, buf []byte) error {
	b := append(buf[:0], socksVersion, 1, socksNoAuth)
	if user != nil && user.Username() == "" {
		user = nil
	}
	if user != nil {
		b = append(b[:1], 2, socksNoAuth, socksUserPass)
	}
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("writing the greeting: %w", err)
	}
	if _, err := io.ReadFull(c, buf[:2]); err != nil {
		return fmt.Errorf("reading the method choice: %w", noReply(err))
	}
	switch {
	case buf[0] != socksVersion:
		return fmt.Errorf("the proxy answered with version %d, not SOCKS5", buf[0])
	case buf[1] == socksNoAcceptable:
		return errors.New("no acceptable authentication methods among those offered")
	case buf[1] == socksUserPass && user != nil:
		if err := socksAuthenticate(c, user, buf); err != nil {
			return err
		}
	case buf[1] != socksNoAuth:
		return fmt.Errorf("the proxy chose method %d, which was not offered", buf[1])
	}

	p, _ := strconv.ParseUint(port, 10, 16) // checked before any dial
	b = append(buf[:0], socksVersion, socksConnect, 0)
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.WithZone("").Unmap()
		if ip.Is4() {
			b = append(b, socksIPv4)
		} else {
			b = append(b, socksIPv6)
		}
		b = append(b, ip.AsSlice()...)
	} else {
		if len(host) > 255 {
			return errSOCKSNameTooLong
		}
		b = append(append(b, socksDomain, byte(len(host))), host...)
	}
	b = append(b, byte(p>>8), byte(p))
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("writing the request: %w", err)
	}
	return readSocksReply(c, buf)
}

// checkSOCKSUser refuses user information that RFC 1929 cannot carry: its
// username and its password are each 1 to 255 bytes. User information that
// is empty altogether ("socks5://@host") means no authentication.
func checkSOCKSUser(u *url.Userinfo) error {
	pass, hasPass := u.Password()
	name := u.Username()
	switch {
	case name == "" && !hasPass:
		return nil
	case name == "" || len(name) > 255:
		return fmt.Errorf("a SOCKS5 username is 1 to 255 bytes (RFC 1929), not %d", len(name))
	case pass == "" || len(pass) > 255:
		return fmt.Errorf("a SOCKS5 password is 1 to 255 bytes (RFC 1929), not %d", len(pass))
	}
	return nil
}

// socksAuthenticate runs the username/password sub-negotiation of RFC 1929.
// checkProxy has held both to 1 to 255 bytes.
func socksAuthenticate(c io.ReadWriter, user *url.Userinfo, buf []byte) error {
	pass, _ := user.Password()
	name := user.Username()
	b := append(buf[:0], socksAuthVersion, byte(len(name)))
	b = append(append(b, name...), byte(len(pass)))
	b = append(b, pass...)
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("writing the credentials: %w", err)
	}
	if _, err := io.ReadFull(c, buf[:2]); err != nil {
		return fmt.Errorf("reading the authentication status: %w", noReply(err))
	}
	if buf[1] != 0 {
		return fmt.Errorf("username/password authentication failed (status %d)", buf[1])
	}
	return nil
}

// readSocksReply reads the reply to a CONNECT request, exactly: its bound
// address has a length that its type gives, and nothing past it is read.
func readSocksReply(r io.Reader, buf []byte) error {
	// VER, REP, RSV, ATYP and the first byte of the address, which for a
	// name is its length.
	if _, err := io.ReadFull(r, buf[:5]); err != nil {
		return fmt.Errorf("reading the reply: %w", noReply(err))
	}
	if buf[0] != socksVersion {
		return fmt.Errorf("the proxy replied with version %d, not SOCKS5", buf[0])
	}
	if reply := SOCKSReply(buf[1]); reply != 0 {
		return reply
	}
	var rest int // what remains of the address, and the port
	switch buf[3] {
	case socksIPv4:
		rest = 4 - 1 + 2
	case socksIPv6:
		rest = 16 - 1 + 2
	case socksDomain:
		rest = int(buf[4]) + 2
	default:
		return fmt.Errorf("the reply has address type %d, which RFC 1928 does not define", buf[3])
	}
	if _, err := io.ReadFull(r, buf[:rest]); err != nil {
		return fmt.Errorf("reading the reply's address: %w", noReply(err))
	}
	return nil
}

// noReply says that a read's io.EOF was the proxy closing the connection
// before its reply ended, keeping io.EOF reachable with errors.Is.
func noReply(err error) error {
	if err == io.EOF {
		return fmt.Errorf("the proxy closed the connection: %w", err)
	}
	return err
}

// isIP reports whether host is an IP address, with or without a zone.
func isIP(host string) bool {
	_, err := netip.ParseAddr(host)
	return err == nil
}

// resolve looks host up with the net.Dialer's resolver, in the address
// family that network asks for, and returns its addresses in the order the
// resolver gives them.
func (d *Dialer) resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
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
		return nil, err
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	for i := range ips {
		ips[i] = ips[i].Unmap()
	}
	return ips, nil
}
