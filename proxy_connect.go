package wsdial

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// maxDrainBody bounds the 407 body that is read off a connection to reuse it
// for the next round. A longer body costs a new connection instead.
const maxDrainBody = 64 << 10

// noProxyTLS is the configuration for https:// proxies when the caller gave
// none: the system roots, and the proxy's host verified. startTLS never
// modifies it.
var noProxyTLS = &tls.Config{}

// connectVia opens an HTTP CONNECT tunnel to address through an http:// or
// https:// proxy, answering 407 challenges as the Dialer's authenticator (or
// the built-in Basic) directs. Every target is tunnelled, ws:// ones too: a
// forward-proxied GET would let the proxy rewrite the upgrade request.
func (d *Dialer) connectVia(ctx context.Context, tr dialTrace, px *proxyTarget, network, address string) (net.Conn, error) {
	return d.connectOn(ctx, tr, px, address, nil)
}

// connectOn is connectVia on c, a connection to the proxy that is open
// already, or on a new one when c is nil. On failure c is closed.
func (d *Dialer) connectOn(ctx context.Context, tr dialTrace, px *proxyTarget, address string, c net.Conn) (net.Conn, error) {
	fail := func(err error) (net.Conn, error) {
		return nil, closeAnd(c, &ProxyError{Proxy: px.redacted, Stage: "connect", Err: err})
	}
	address, err := authority(address)
	if err != nil {
		return fail(err)
	}
	sess, authz, limit, err := d.startAuth(ctx, px)
	if err != nil {
		return fail(err)
	}

	for round := 1; ; round++ {
		if c == nil {
			if c, err = d.openProxy(ctx, tr, px); err != nil {
				return nil, err
			}
		}
		tunnel, resp, keep, err := connect(ctx, tr, c, address, authz, d.cfg.proxyHeader, round < limit)
		if tunnel != nil {
			if err := verifyTunnel(ctx, sess, resp); err != nil {
				tunnel.Close()
				return fail(err)
			}
			return tunnel, nil
		}
		if !keep {
			c.Close()
			c = nil
		}
		if resp == nil {
			return fail(err)
		}
		// Close tells the authenticator whether the next request shares
		// this connection, whatever the reason it cannot.
		resp.Close = !keep
		perr := &ProxyError{Proxy: px.redacted, Stage: "connect", StatusCode: resp.StatusCode, Response: resp}
		if resp.StatusCode != http.StatusProxyAuthRequired {
			perr.Err = errors.New("proxy refused the tunnel")
			return nil, closeAnd(c, perr)
		}
		perr.Err = ErrProxyAuthRequired
		if round == limit {
			perr.Err = fmt.Errorf("%w: still refused after %d requests", ErrProxyAuthRequired, round)
			return nil, closeAnd(c, perr)
		}
		authz, err = nextAuthorization(ctx, sess, resp)
		switch {
		case err != nil:
			perr.Err = fmt.Errorf("%w: %w", ErrProxyAuthRequired, err)
			return nil, closeAnd(c, perr)
		case authz == "":
			return nil, closeAnd(c, perr)
		}
		if c != nil && freshConnection(sess) {
			c.Close()
			c = nil
		}
	}
}

// startAuth begins the authentication of one tunnel through px, with the
// Dialer's authenticator or the built-in Basic: it returns the session, the
// Proxy-Authorization of the first request ("" for none), and how many
// requests the exchange may take.
func (d *Dialer) startAuth(ctx context.Context, px *proxyTarget) (sess ProxyAuthSession, authz string, limit int, err error) {
	var auth ProxyAuthenticator = basicAuth{}
	if d.cfg.proxyAuth != nil {
		auth = d.cfg.proxyAuth
	}
	if sess, err = auth.Start(ctx, px.url); err != nil {
		return nil, "", 0, fmt.Errorf("starting proxy authentication: %w", err)
	}
	if authz, err = nextAuthorization(ctx, sess, nil); err != nil {
		return nil, "", 0, fmt.Errorf("proxy authentication: %w", err)
	}
	return sess, authz, authRounds(auth), nil
}

// nextAuthorization asks sess for the next Proxy-Authorization value, and
// refuses one that could end the header line and smuggle another.
func nextAuthorization(ctx context.Context, sess ProxyAuthSession, challenge *http.Response) (string, error) {
	authz, err := sess.Next(ctx, challenge)
	if err == nil && hasCTL(authz) {
		err = errors.New("the authenticator's Proxy-Authorization value holds a control character")
	}
	return authz, err
}

// closeAnd closes c, if there is one, and returns err.
func closeAnd(c net.Conn, err error) error {
	if c != nil {
		c.Close()
	}
	return err
}

// openProxy dials the proxy and, for an https:// proxy, runs TLS with it,
// verified against the proxy's host with WithProxyTLSConfig's configuration.
// The target's TLS configuration plays no part here.
func (d *Dialer) openProxy(ctx context.Context, tr dialTrace, px *proxyTarget) (net.Conn, error) {
	c, err := d.dialProxy(ctx, tr, px)
	if err != nil || !px.kind.tls {
		return c, err
	}
	cfg := d.cfg.proxyTLS
	if cfg == nil {
		cfg = noProxyTLS
	}
	tc, err := startTLS(ctx, c, px.host, cfg)
	if err != nil {
		return nil, &ProxyError{Proxy: px.redacted, Stage: "tls", Err: withCause(ctxErr(ctx), err)}
	}
	return tc, nil
}

// authority checks that address is a host:port that can stand in a request
// line, and brackets an IPv6 host.
func authority(address string) (string, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", fmt.Errorf("target address: %w", err)
	}
	if host == "" || port == "" || breaksLine(address) || strings.Contains(address, "/") {
		return "", fmt.Errorf("target address %q cannot stand in a CONNECT request", clip(address))
	}
	return net.JoinHostPort(host, port), nil
}

// connect runs one CONNECT request and reply on c, under ctx. On 2xx it
// returns the tunnel: c itself, or c behind the bytes that came with the
// reply, and the reply, for a verifying authenticator. Otherwise it returns
// the refusal with at most 1 KiB of its body, and
// keep says whether c is ready for another request: only for a 407 when
// reuse is asked for and the proxy kept the connection open. With neither a
// tunnel nor a response, err says what went wrong.
func connect(ctx context.Context, tr dialTrace, c net.Conn, address, authz string, header http.Header, reuse bool) (tunnel net.Conn, resp *http.Response, keep bool, err error) {
	w := watchContext(ctx, c)
	bp := headBufs.Get().(*[]byte)
	tunnel, resp, keep, err = exchangeConnect(c, tr, address, authz, header, reuse, *bp)
	cerr := w.release()
	headBufs.Put(bp)
	switch {
	case cerr == nil:
		return tunnel, resp, keep, err
	case err == nil && (resp == nil || tunnel != nil):
		err = cerr // the tunnel opened, but too late
	case err == nil:
		err = fmt.Errorf("%w: while reading the refusal's body", cerr)
	default:
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	return nil, nil, false, err
}

// exchangeConnect writes the request from buf, then reads the reply into it.
func exchangeConnect(c net.Conn, tr dialTrace, address, authz string, header http.Header, reuse bool, buf []byte) (net.Conn, *http.Response, bool, error) {
	req := appendConnect(buf[:0], address, authz, header)
	if _, err := c.Write(req); err != nil {
		return nil, nil, false, fmt.Errorf("writing CONNECT request: %w", err)
	}
	if cap(req) > cap(buf) {
		buf = req[:cap(req)]
	}
	var fields [16]headerField
	_, h, ahead, err := readResponse(c, buf[:cap(buf)], fields[:])
	if err != nil {
		return nil, nil, false, fmt.Errorf("reading CONNECT reply: %w", err)
	}
	tr.proxyReply(&h)
	if h.status/100 == 2 {
		// Any 2xx opens the tunnel (RFC 9110 §9.3.6), and such a reply has no
		// body: what came with it is the target's, a banner perhaps.
		resp := h.response(nil)
		if len(ahead) > 0 {
			return &prefixConn{Conn: c, pending: bytes.Clone(ahead)}, resp, false, nil
		}
		return c, resp, false, nil
	}
	resp := h.response(nil)
	if reuse && resp.StatusCode == http.StatusProxyAuthRequired && !resp.Close {
		// The next round may go on this connection, so the whole body must
		// come off it, and nothing past it.
		return nil, resp, readBody(resp, ahead, c, maxDrainBody), nil
	}
	readBody(resp, ahead, c, maxErrorBody)
	return nil, resp, false, nil
}

func appendConnect(b []byte, address, authz string, header http.Header) []byte {
	b = append(b, "CONNECT "...)
	b = append(b, address...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, address...)
	b = append(b, "\r\n"...)
	if authz != "" {
		b = appendField(b, "Proxy-Authorization", authz)
	}
	for name, values := range header {
		switch http.CanonicalHeaderKey(name) {
		case "Host":
			continue // the request line fixes it
		case "Proxy-Authorization":
			if authz != "" {
				continue // the authenticator's value wins over a fixed one
			}
		}
		for _, v := range values {
			b = appendField(b, name, v)
		}
	}
	return append(b, "\r\n"...)
}
