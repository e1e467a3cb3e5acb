package wsdial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Tunnel opens a CONNECT tunnel to address through px, an https://
// proxy, with WithHTTP2: a stream of a kept HTTP/2 connection to the proxy
// when it has one with room (RFC 9113 §8.5); HTTP/1.1 CONNECT when the proxy
// is remembered as HTTP/1.1 only; otherwise over a new connection that
// offers h2 and http/1.1, kept if the proxy picks h2.
func (d *Dialer) h2Tunnel(ctx context.Context, tr dialTrace, px *proxyTarget, network, address string) (net.Conn, error) {
	target, err := authority(address)
	if err != nil {
		return nil, &ProxyError{Proxy: px.redacted, Stage: "connect", Err: err}
	}
	key := h2ProxyKey(px)
	for tries := 0; ; tries++ {
		cc, h1, claim, err := d.h2.acquire(ctx, key)
		switch {
		case err != nil:
			return nil, waitError(px, px.address, err)
		case h1:
			return d.connectVia(ctx, tr, px, network, address)
		case claim != nil:
			return d.h2NewTunnel(ctx, tr, px, target, key, claim)
		}
		tr.h2Kept(px.address)
		tunnel, err := d.h2Connect(ctx, tr, cc, px, target)
		if tries < h2Retries && errors.As(err, new(*h2Unprocessed)) {
			continue
		}
		return tunnel, err
	}
}

// h2NewTunnel connects to the proxy, offering h2 and http/1.1, and opens the
// tunnel over whichever the proxy picks, handing the connection back to the
// pool as claim requires.
func (d *Dialer) h2NewTunnel(ctx context.Context, tr dialTrace, px *proxyTarget, target, key string, claim *h2Dial) (net.Conn, error) {
	c, err := d.dialProxy(ctx, tr, px)
	if err != nil {
		d.h2.dialed(key, claim, nil, false)
		return nil, err
	}
	tc, err := startTLS(ctx, c, px.host, d.h2.proxyTLS)
	if err != nil {
		d.h2.dialed(key, claim, nil, false)
		return nil, &ProxyError{Proxy: px.redacted, Stage: "tls", Err: withCause(ctxErr(ctx), err)}
	}
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		d.h2.dialed(key, claim, nil, true)
		tr.h2Fallback(px.address, "the proxy chose http/1.1 by ALPN")
		return d.connectOn(ctx, tr, px, target, tc)
	}
	// The CONNECT goes out with the preface, without waiting for the
	// proxy's SETTINGS: a round trip less for the first tunnel.
	cc := newH2Conn(tc, true)
	d.h2.dialed(key, claim, cc, false)
	return d.h2Connect(ctx, tr, cc, px, target)
}

// h2Connect opens a CONNECT stream to target on cc, answering 407
// challenges on new streams of the same connection, as the Dialer's
// authenticator (or the built-in Basic) directs. The stream is the tunnel.
func (d *Dialer) h2Connect(ctx context.Context, tr dialTrace, cc *h2Conn, px *proxyTarget, target string) (net.Conn, error) {
	fail := func(err error) (net.Conn, error) {
		return nil, &ProxyError{Proxy: px.redacted, Stage: "connect", Err: err}
	}
	sess, authz, limit, err := d.beginAuth(ctx, px)
	if err != nil {
		return fail(err)
	}
	for round := 1; ; round++ {
		s, err := cc.openStream(connectFields(target, authz, d.cfg.proxyHeader))
		if err != nil {
			return fail(err)
		}
		h, err := s.awaitResponse(ctx)
		if err != nil {
			s.reset(http2.ErrCodeCancel)
			return fail(err)
		}
		tr.proxyReply(h)
		if h.status/100 == 2 {
			if err := verifyTunnel(ctx, sess, h2Response(h)); err != nil {
				s.reset(http2.ErrCodeCancel)
				return fail(err)
			}
			return s, nil
		}
		// The next request goes on a new stream of the same connection,
		// which resp.Close, false, tells the authenticator.
		resp := h2Response(h)
		resp.Body = io.NopCloser(bytes.NewReader(s.readBody(ctx, maxErrorBody)))
		s.reset(http2.ErrCodeCancel)
		perr := &ProxyError{Proxy: px.redacted, Stage: "connect", StatusCode: h.status, Response: resp}
		if h.status != http.StatusProxyAuthRequired {
			perr.Err = errors.New("proxy refused the tunnel")
			return nil, perr
		}
		perr.Err = ErrProxyAuthRequired
		if round == limit {
			perr.Err = fmt.Errorf("%w: still refused after %d requests", ErrProxyAuthRequired, round)
			return nil, perr
		}
		if authz, err = nextAuthorization(ctx, sess, resp); err != nil {
			perr.Err = fmt.Errorf("%w: %w", ErrProxyAuthRequired, err)
			return nil, perr
		}
		if authz == "" {
			return nil, perr
		}
		// A scheme that wants a connection of its own for its first
		// request has, over HTTP/2, a stream of its own, which is all HTTP/2
		// offers: schemes bound to a connection (NTLM) do not work over it.
		freshConnection(sess)
	}
}

// connectFields is the header list of a CONNECT request for a tunnel to
// target (RFC 9113 §8.5): :method and :authority only, then the proxy's
// headers, the authenticator's Proxy-Authorization taking the place of a
// fixed one.
func connectFields(target, authz string, header http.Header) []hpack.HeaderField {
	f := make([]hpack.HeaderField, 0, 3+len(header))
	f = append(f,
		hpack.HeaderField{Name: ":method", Value: "CONNECT"},
		hpack.HeaderField{Name: ":authority", Value: target},
	)
	if authz == "" {
		return appendH2Fields(f, header, "Host")
	}
	f = append(f, hpack.HeaderField{Name: "proxy-authorization", Value: authz, Sensitive: true})
	return appendH2Fields(f, header, "Host", "Proxy-Authorization")
}
