package wsdial

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// dialH2 is DialWebSocket for a wss:// target with WithHTTP2: a stream on a
// kept connection to the origin if there is one with room; HTTP/1.1 if the
// origin is remembered as HTTP/1.1 only; otherwise a new connection, which
// is kept if it speaks h2 with extended CONNECT.
func (d *Dialer) dialH2(ctx context.Context, tr dialTrace, t target) (*Conn, error) {
	// :authority stands for the Host header: checked, and in ASCII, as it.
	_, authority, err := requestHost(t.hostHeader, t.target, d.cfg)
	if err != nil {
		return nil, invalid("invalid handshake request", err)
	}
	r, err := d.h2RouteTo(tr, t)
	if err != nil {
		return nil, err
	}
	r.authority = authority
	for tries := 0; ; tries++ {
		cc, h1, claim, err := d.h2.acquire(ctx, r.key)
		switch {
		case err != nil:
			return nil, waitError(r.px, t.address, err)
		case h1:
			return d.dialHTTP1(ctx, tr, t, r)
		case claim != nil:
			return d.dialH2New(ctx, tr, t, r, claim)
		}
		tr.h2Kept(t.address)
		conn, err := d.h2WebSocket(ctx, tr, cc, t, r.authority)
		if tries < h2Retries && errors.As(err, new(*h2Unprocessed)) {
			continue // the connection went away first; another, or a new one, takes it
		}
		return conn, err
	}
}

// h2Route is the way of a dial to an origin: the key of its kept
// connections, and how to reach the origin anew.
type h2Route struct {
	key       string
	px        *proxyTarget // the proxy, resolved once; nil for direct, or for a list
	list      bool         // WithProxyList decides the proxy at each new connection
	authority string       // the WebSocket's :authority
}

// h2RouteTo resolves the route to t, a wss:// target. A kept connection
// serves dials by the route that opened it: through the same proxy, or
// directly; with WithProxyList, through whichever entry of the list opened
// it, since the list only says how to reach the origin.
func (d *Dialer) h2RouteTo(tr dialTrace, t target) (h2Route, error) {
	if d.list != nil {
		return h2Route{key: "list " + t.address, list: true}, nil
	}
	px, err := d.proxyFor("https", t.address)
	if err != nil {
		return h2Route{}, err
	}
	tr.route(d, "https", t.address, px)
	return h2Route{key: h2TargetKey(px, t.address), px: px}, nil
}

// reachBy opens a new connection to t's origin by r.
func (d *Dialer) reachBy(ctx context.Context, tr dialTrace, r h2Route, t target) (net.Conn, error) {
	if r.list {
		return d.reachList(ctx, tr, "tcp", t.address, "https")
	}
	return d.via(ctx, tr, r.px, "tcp", t.address)
}

// dialHTTP1 is the HTTP/1.1 way to t, over a new connection by r, offering
// only http/1.1 by ALPN: for an origin that declined HTTP/2.
func (d *Dialer) dialHTTP1(ctx context.Context, tr dialTrace, t target, r h2Route) (*Conn, error) {
	c, err := d.reachBy(ctx, tr, r, t)
	if err != nil {
		return nil, err
	}
	tc, err := tlsTarget(ctx, tr, c, t.host, d.tlsWS)
	if err != nil {
		return nil, err
	}
	return upgradeOn(ctx, tr, tc, t, d.cfg)
}

// upgradeOn runs the HTTP/1.1 upgrade on c, which it closes on failure.
func upgradeOn(ctx context.Context, tr dialTrace, c net.Conn, t target, cfg *config) (*Conn, error) {
	conn, err := handshake(ctx, tr, c, t.hostHeader, t.target, cfg)
	if err != nil {
		c.Close()
		return nil, err
	}
	return conn, nil
}

// waitError is the error of a dial whose context ended while it waited for
// another dial's connection to the same place: a failure to reach it, of the
// class that the route gives.
func waitError(px *proxyTarget, address string, err error) error {
	err = fmt.Errorf("waiting for another dial's connection to %s: %w", address, err)
	if px != nil {
		return &ProxyError{Proxy: px.redacted, Stage: "dial", Err: err}
	}
	return &stageError{stage: "dial", class: ErrDial, err: err}
}

// dialH2New opens a connection to the origin, offering h2 and http/1.1, and
// hands it back to the pool as claim requires: kept if it speaks h2 with
// extended CONNECT; otherwise the origin is remembered as HTTP/1.1 only, and
// the WebSocket goes over HTTP/1.1, on this connection if ALPN chose
// http/1.1, on a new one if the server chose h2 without extended CONNECT.
func (d *Dialer) dialH2New(ctx context.Context, tr dialTrace, t target, r h2Route, claim *h2Dial) (*Conn, error) {
	var tc *tls.Conn
	c, err := d.reachBy(ctx, tr, r, t)
	if err == nil {
		tc, err = tlsTarget(ctx, tr, c, t.host, d.h2.targetTLS)
	}
	if err != nil {
		d.h2.dialed(r.key, claim, nil, false)
		return nil, err
	}
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		d.h2.dialed(r.key, claim, nil, true)
		tr.h2Fallback(t.address, "the server chose http/1.1 by ALPN")
		return upgradeOn(ctx, tr, tc, t, d.cfg)
	}
	cc := newH2Conn(tc, false)
	xconnect, err := cc.waitSettings(ctx)
	if err != nil {
		d.h2.dialed(r.key, claim, nil, false)
		cc.shutdown(err, true)
		return nil, &HandshakeError{Err: fmt.Errorf("HTTP/2 connection: %w", err)}
	}
	if !xconnect {
		d.h2.dialed(r.key, claim, nil, true)
		cc.shutdown(errors.New("the server does not enable extended CONNECT"), true)
		tr.h2Fallback(t.address, "the server chose h2 but does not enable extended CONNECT (RFC 8441)")
		return d.dialHTTP1(ctx, tr, t, r)
	}
	d.h2.dialed(r.key, claim, cc, false)
	return d.h2WebSocket(ctx, tr, cc, t, r.authority)
}

// h2WebSocket opens the WebSocket as an extended CONNECT stream of cc (RFC
// 8441 §4) and checks the response: any 2xx stands for 101 (§5), and
// sec-websocket-accept has no place in it.
func (d *Dialer) h2WebSocket(ctx context.Context, tr dialTrace, cc *h2Conn, t target, authority string) (*Conn, error) {
	cfg := d.cfg
	cookieURL := jarURL(cfg, true, t.hostHeader, t.target)
	s, err := cc.openStream(extendedConnect(authority, t.target, cfg, cookieHeader(cfg, cookieURL)))
	if err != nil {
		return nil, &HandshakeError{Err: err}
	}
	tr.wroteHeaders()
	h, err := s.awaitResponse(ctx)
	if err != nil {
		s.reset(http2.ErrCodeCancel)
		return nil, &HandshakeError{Err: err}
	}
	tr.gotFirstByte()
	if h.status/100 != 2 {
		resp := h2Response(h)
		resp.Body = io.NopCloser(bytes.NewReader(s.readBody(ctx, maxErrorBody)))
		s.reset(http2.ErrCodeCancel)
		return nil, &HandshakeError{StatusCode: h.status, Response: resp, Err: ErrUpgradeDeclined}
	}
	subprotocol, err := checkSubprotocol(h, cfg.subprotocols)
	var deflate deflateParams
	if err == nil {
		deflate, err = negotiateDeflate(h, cfg.compression)
	}
	if err != nil {
		s.reset(http2.ErrCodeCancel)
		return nil, &HandshakeError{StatusCode: h.status, Response: h2Response(h), Err: err}
	}
	tr.upgraded(h.status, subprotocol)
	s.leaveEndToServer()
	conn := newConn(s, h2HeadText(h), subprotocol, cfg)
	if deflate.on {
		conn.useCompression(deflate, cfg.compression)
	}
	storeCookies(conn, cfg, cookieURL)
	conn.startKeepAlive(cfg)
	return conn, nil
}

// extendedConnect is the header list of the extended CONNECT that opens a
// WebSocket (RFC 8441 §4): the pseudo-headers, then the handshake's fields
// in lower case, as HTTP/2 has them.
func extendedConnect(authority, path string, cfg *config, cookie string) []hpack.HeaderField {
	f := make([]hpack.HeaderField, 0, 10+len(cfg.header))
	f = append(f,
		hpack.HeaderField{Name: ":method", Value: "CONNECT"},
		hpack.HeaderField{Name: ":protocol", Value: "websocket"},
		hpack.HeaderField{Name: ":scheme", Value: "https"},
		hpack.HeaderField{Name: ":path", Value: path},
		hpack.HeaderField{Name: ":authority", Value: authority},
		hpack.HeaderField{Name: "sec-websocket-version", Value: "13"},
	)
	if cfg.origin != "" {
		f = append(f, hpack.HeaderField{Name: "origin", Value: cfg.origin})
	}
	if len(cfg.subprotocols) > 0 {
		f = append(f, hpack.HeaderField{Name: "sec-websocket-protocol", Value: strings.Join(cfg.subprotocols, ", ")})
	}
	if cfg.compression != nil {
		f = append(f, hpack.HeaderField{Name: "sec-websocket-extensions", Value: cfg.compression.offer})
	}
	if cookie != "" {
		f = append(f, hpack.HeaderField{Name: "cookie", Value: cookie, Sensitive: true})
	}
	return appendH2Fields(f, cfg.header, "Host")
}

// appendH2Fields adds h's fields to f in lower case, leaving out those
// named in skip (canonical names). The fields that HTTP/2 forbids as
// specific to a connection (RFC 9113 §8.2.2) never get here: WithHeader and
// WithProxyHeader refuse them. Credentials are never indexed by HPACK.
func appendH2Fields(f []hpack.HeaderField, h http.Header, skip ...string) []hpack.HeaderField {
	for name, values := range h {
		if slices.Contains(skip, name) {
			continue
		}
		lower := strings.ToLower(name)
		sensitive := name == "Authorization" || name == "Proxy-Authorization" || name == "Cookie"
		for _, v := range values {
			f = append(f, hpack.HeaderField{Name: lower, Value: v, Sensitive: sensitive})
		}
	}
	return f
}

// h2Response is the *http.Response of an HTTP/2 response head, which
// leaves the connection open, whatever an HTTP/1 reading of it would say.
func h2Response(h *responseHead) *http.Response {
	resp := h.response(nil)
	resp.Close = false
	return resp
}

// h2HeadText writes an HTTP/2 response head in the text form that Conn
// keeps for Response, with "HTTP/2.0" as its version, as net/http gives it.
// The Framer has refused any name or value that could break a line.
func h2HeadText(h *responseHead) string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/2.0 %03d\r\n", h.status)
	for _, f := range h.fields {
		b.WriteString(f.name)
		b.WriteString(": ")
		b.WriteString(f.value)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}
