package wsdial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// maxDrainBody bounds the 407 body that is read off a connection to reuse it
// for the next round. A longer body costs a new connection instead.
const maxDrainBody = 64 << 10

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
	sess, authz, limit, err := d.beginAuth(ctx, px)
	if err != nil {
		return fail(err)
	}

	_, verifying := sess.(ProxyAuthVerifier)
	var last *http.Response // the 407 that the request on a kept connection answers
	for round := 1; ; round++ {
		// Kept: c carried the 407 before; not one that connectOn was given.
		kept := c != nil && last != nil
		if c == nil {
			if c, err = d.openProxy(ctx, tr, px); err != nil {
				return nil, err
			}
		}
		tunnel, resp, keep, err := connect(ctx, tr, c, connectRequest{address, authz, d.cfg.proxyHeader, round < limit, verifying})
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
		challenge := resp // what the session answers next
		if resp == nil {
			if !kept || round == limit || !errors.Is(err, errNoResponse) || ctxErr(ctx) != nil {
				return fail(err)
			}
			// The proxy closed the connection it had kept, before a byte of
			// its reply: as curl does, send the request again on a new one.
			// The session is told as a 407 that closed would tell it, so
			// that a connection-bound scheme starts over.
			again := *last
			again.Close = true
			if body, ok := last.Body.(keptBody); ok {
				again.Body = body.again()
			}
			challenge = &again
		} else {
			last = resp
			// Close tells the authenticator whether the next request shares
			// this connection, whatever the reason it cannot.
			resp.Close = !keep
			perr := &ProxyError{Proxy: px.redacted, Stage: "connect", StatusCode: resp.StatusCode, Response: resp}
			switch {
			case resp.StatusCode != http.StatusProxyAuthRequired:
				perr.Err = errors.New("proxy refused the tunnel")
				return nil, closeAnd(c, perr)
			case round == limit:
				perr.Err = fmt.Errorf("%w: still refused after %d requests", ErrProxyAuthRequired, round)
				return nil, closeAnd(c, perr)
			}
		}
		authz, err = nextAuthorization(ctx, sess, challenge)
		if err != nil || authz == "" {
			perr := &ProxyError{Proxy: px.redacted, Stage: "connect", StatusCode: challenge.StatusCode, Response: challenge, Err: ErrProxyAuthRequired}
			if err != nil {
				perr.Err = fmt.Errorf("%w: %w", ErrProxyAuthRequired, err)
			}
			return nil, closeAnd(c, perr)
		}
		if c != nil && freshConnection(sess) {
			c.Close()
			c = nil
		}
	}
}

// beginAuth begins the authentication of one tunnel through px, with the
// Dialer's authenticator or the built-in Basic: it returns the session, the
// Proxy-Authorization of the first request ("" for none), and how many
// requests the exchange may take.
func (d *Dialer) beginAuth(ctx context.Context, px *proxyTarget) (sess ProxyAuthSession, authz string, limit int, err error) {
	var auth ProxyAuthenticator = basicAuth{}
	if d.cfg.proxyAuth != nil {
		auth = d.cfg.proxyAuth
	}
	if sess, err = startAuth(ctx, auth, px.url); err != nil {
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
// verified against the proxy's host with WithProxyTLSConfig's configuration,
// offering http/1.1 alone by ALPN. The target's TLS configuration plays no
// part here.
func (d *Dialer) openProxy(ctx context.Context, tr dialTrace, px *proxyTarget) (net.Conn, error) {
	c, err := d.dialProxy(ctx, tr, px)
	if err != nil || !px.kind.tls {
		return c, err
	}
	tc, err := startTLS(ctx, c, px.host, d.tlsProxy)
	if err != nil {
		return nil, &ProxyError{Proxy: px.redacted, Stage: "tls", Err: withCause(ctxErr(ctx), err)}
	}
	return tc, nil
}

// authority checks that address is a host:port that can stand in a request
// line, and returns it as the proxy is to see it: an IPv6 host in brackets
// and without its zone, a name in ASCII.
func authority(address string) (string, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", fmt.Errorf("target address: %w", err)
	}
	if host == "" || port == "" || breaksLine(address) || strings.Contains(address, "/") {
		return "", fmt.Errorf("target address %q cannot stand in a CONNECT request", clip(address))
	}
	if host, err = wireHost(host); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, port), nil
}

// connectRequest is one CONNECT request of a dial, and what it asks of the
// reply.
type connectRequest struct {
	address, authz string
	header         http.Header
	reuse          bool // a 407 may leave the connection for another request
	reply          bool // a 2xx reply is wanted, for an authenticator that verifies it
}

// connect runs one CONNECT request and reply on c, under ctx. On 2xx it
// returns the tunnel: c itself, or c behind the bytes that came with the
// reply, and the reply if req asks for it. Otherwise it returns the refusal
// with at most 1 KiB of its body, and keep says whether c is ready for
// another request: only for a 407 when req allows reuse and the proxy kept
// the connection open. With neither a tunnel nor a response, err says what
// went wrong.
func connect(ctx context.Context, tr dialTrace, c net.Conn, req connectRequest) (tunnel net.Conn, resp *http.Response, keep bool, err error) {
	w := watchContext(ctx, c)
	bp := headBufs.Get().(*[]byte)
	tunnel, resp, keep, err = exchangeConnect(c, tr, req, *bp, &w)
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

// exchangeConnect writes the request from buf, then reads the reply into it,
// the body of a refusal in the time that w.hurry allows.
func exchangeConnect(c net.Conn, tr dialTrace, req connectRequest, buf []byte, w *connWatch) (net.Conn, *http.Response, bool, error) {
	b := appendConnect(buf[:0], req.address, req.authz, req.header)
	if _, err := c.Write(b); err != nil {
		return nil, nil, false, fmt.Errorf("%w: writing CONNECT request: %w", errNoResponse, err)
	}
	if cap(b) > cap(buf) {
		buf = b[:cap(b)]
	}
	var fields [16]headerField
	// The httptrace hooks are the upgrade request's: the proxy's interim
	// replies go to the log alone.
	_, h, ahead, err := readResponse(c, tr.logOnly(), buf[:cap(buf)], fields[:])
	if err != nil {
		return nil, nil, false, fmt.Errorf("reading CONNECT reply: %w", err)
	}
	tr.proxyReply(&h)
	if h.status/100 == 2 {
		// Any 2xx opens the tunnel (RFC 9110 §9.3.6), and such a reply has no
		// body: what came with it is the target's, a banner perhaps. The
		// reply is built only when asked for: most dials never look at it.
		var resp *http.Response
		if req.reply {
			resp = h.response(nil)
		}
		if len(ahead) > 0 {
			return &prefixConn{Conn: c, pending: bytes.Clone(ahead)}, resp, false, nil
		}
		return c, resp, false, nil
	}
	resp := h.response(nil)
	w.hurry()
	if req.reuse && resp.StatusCode == http.StatusProxyAuthRequired && !resp.Close {
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
		if name == "Proxy-Authorization" && authz != "" {
			continue // the authenticator's value wins over a fixed one
		}
		for _, v := range values {
			b = appendField(b, name, v)
		}
	}
	return append(b, "\r\n"...)
}
