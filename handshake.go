package wsdial

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// websocketGUID is the fixed string of RFC 6455 §1.3 that the server appends
// to the key before hashing.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// Handshake runs the client opening handshake of RFC 6455 §4.1 on c, a stream
// the caller already holds (plain or TLS). host becomes the Host header, in
// ASCII and without an IPv6 zone, and target, the request-target in
// origin-form such as "/chat?room=1". Of opts, the handshake options,
// WithCompression, WithReadLimit, WithKeepAlive, WithLogger and
// WithHandshakeTimeout apply. c is not closed on failure: it stays the
// caller's.
//
// The handshake is bounded by ctx's deadline or WithHandshakeTimeout's (30
// seconds by default), whichever comes first; while it runs, that bound is
// c's deadline, in place of any the caller had set. With neither (a context
// without a deadline and WithHandshakeTimeout(0)), a deadline the caller had
// set on c stays in force while it runs. Either way, when Handshake returns,
// success or failure, c has no deadline.
func Handshake(ctx context.Context, c net.Conn, host, target string, opts ...Option) (*Conn, error) {
	cfg := newConfig(opts)
	if cfg.err != nil {
		return nil, cfg.err
	}
	if c == nil {
		return nil, invalid("invalid handshake request", errors.New("no connection to run it on"))
	}
	ctx, cancel := bound(ctx, cfg.handshakeTimeout)
	defer cancel()
	return handshake(ctx, traceFor(ctx, cfg.logger), c, host, target, cfg)
}

// headBufs holds the buffers that handshake requests are written from and
// responses read into, so that a dial allocates none in the common case.
var headBufs = sync.Pool{New: func() any { b := make([]byte, 2048); return &b }}

// handshake writes the upgrade request to c, reads and checks the response,
// and returns the ready connection. Every failure is a *HandshakeError.
func handshake(ctx context.Context, tr dialTrace, c net.Conn, host, target string, cfg *config) (*Conn, error) {
	host, hostHeader, err := requestHost(host, target, cfg)
	if err != nil {
		return nil, invalid("invalid handshake request", err)
	}
	var key [24]byte
	if err := newKey(&key); err != nil {
		return nil, &HandshakeError{Err: err}
	}
	_, secure := c.(*tls.Conn)
	cookieURL := jarURL(cfg, secure, host, target)

	w := watchContext(ctx, c)
	bp := headBufs.Get().(*[]byte)
	conn, err := exchange(c, tr, hostHeader, target, key[:], cfg, cookieURL, *bp, &w)
	cerr := w.release()
	headBufs.Put(bp)
	if err == nil && cerr == nil {
		conn.startKeepAlive(cfg)
		return conn, nil
	}
	var he *HandshakeError
	if errors.As(err, &he) {
		return nil, he // a response came, and says more than the context could
	}
	switch {
	case err == nil:
		err = cerr
	case cerr != nil:
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	return nil, &HandshakeError{Err: err}
}

// exchange writes the request from buf, then reads the response into it.
func exchange(c net.Conn, tr dialTrace, host, target string, key []byte, cfg *config, cookieURL *url.URL, buf []byte, w *connWatch) (*Conn, error) {
	req := appendRequest(buf[:0], host, target, key, cfg, cookieURL)
	if _, err := c.Write(req); err != nil {
		return nil, fmt.Errorf("writing request: %w", err)
	}
	tr.wroteHeaders()
	if cap(req) > cap(buf) {
		buf = req[:cap(req)] // the request outgrew buf; reuse what it grew into
	}
	var fields [16]headerField
	head, h, ahead, err := readResponse(tr.firstByte(c), tr, buf[:cap(buf)], fields[:])
	if err != nil {
		return nil, err
	}
	if h.status != http.StatusSwitchingProtocols {
		resp := h.response(nil)
		w.hurry()
		readBody(resp, ahead, c, maxErrorBody)
		return nil, &HandshakeError{StatusCode: h.status, Response: resp, Err: ErrUpgradeDeclined}
	}
	subprotocol, err := checkResponse(&h, key, cfg.subprotocols)
	var deflate deflateParams
	if err == nil {
		deflate, err = negotiateDeflate(&h, cfg.compression)
	}
	if err != nil {
		return nil, &HandshakeError{StatusCode: h.status, Response: h.response(nil), Err: err}
	}
	tr.upgraded(h.status, subprotocol)
	conn := newConn(c, head, subprotocol, cfg)
	if deflate.on {
		conn.useCompression(deflate, cfg.compression)
	}
	if len(ahead) > 0 {
		conn.setPending(append([]byte(nil), ahead...))
	}
	storeCookies(conn, cfg, cookieURL)
	return conn, nil
}

// jarURL is the URL that the cookie jar sees for a handshake: http:// for
// ws:// and https:// for wss://. It is nil without a jar.
func jarURL(cfg *config, secure bool, host, target string) *url.URL {
	if cfg.jar == nil {
		return nil
	}
	u := &url.URL{Scheme: "http", Host: host, Path: target}
	if secure {
		u.Scheme = "https"
	}
	if t, err := url.ParseRequestURI(target); err == nil {
		u.Path, u.RawQuery = t.Path, t.RawQuery
	}
	return u
}

// cookieHeader is the Cookie header that the jar has for u, or "".
func cookieHeader(cfg *config, u *url.URL) string {
	if u == nil {
		return ""
	}
	cookies := cfg.jar.Cookies(u)
	if len(cookies) == 0 {
		return ""
	}
	r := http.Request{Header: http.Header{}}
	for _, ck := range cookies {
		r.AddCookie(ck)
	}
	return r.Header.Get("Cookie")
}

// storeCookies gives the jar the cookies of conn's response, if there is a
// jar (u is not nil).
func storeCookies(conn *Conn, cfg *config, u *url.URL) {
	if u == nil {
		return
	}
	if cookies := conn.Response().Cookies(); len(cookies) > 0 {
		cfg.jar.SetCookies(u, cookies)
	}
}

// requestHost checks host and target, and returns host as a peer is to see
// it (see wirehost.go) and the Host header: that, or WithHeader's Host.
func requestHost(host, target string, cfg *config) (wire, header string, err error) {
	if err := checkRequestLine(host, target); err != nil {
		return "", "", err
	}
	if wire, err = wireAuthority(host); err != nil {
		return "", "", err
	}
	header = wire
	if h := cfg.header["Host"]; len(h) > 0 {
		if err := checkRequestLine(h[0], target); err != nil {
			return "", "", fmt.Errorf("WithHeader's Host: %w", err)
		}
		if header, err = wireAuthority(h[0]); err != nil {
			return "", "", err
		}
	}
	return wire, header, nil
}

// checkRequestLine refuses a host or target that could break the request
// line or smuggle a header.
func checkRequestLine(host, target string) error {
	if host == "" || breaksLine(host) || strings.Contains(host, "/") {
		return fmt.Errorf("invalid host %q", host)
	}
	if !strings.HasPrefix(target, "/") || breaksLine(target) {
		return fmt.Errorf("invalid request-target %q: it must be in origin-form, such as /chat?room=1", target)
	}
	return nil
}

// newKey fills key with a fresh Sec-WebSocket-Key: 16 random bytes in base64.
func newKey(key *[24]byte) error {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	base64.StdEncoding.Encode(key[:], raw[:])
	return nil
}

// acceptKey computes the Sec-WebSocket-Accept value for key into dst.
func acceptKey(dst *[28]byte, key []byte) {
	var b [24 + len(websocketGUID)]byte
	copy(b[copy(b[:], key):], websocketGUID)
	sum := sha1.Sum(b[:])
	base64.StdEncoding.Encode(dst[:], sum[:])
}

func appendRequest(b []byte, host, target string, key []byte, cfg *config, cookieURL *url.URL) []byte {
	b = append(b, "GET "...)
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	b = append(b, key...)
	b = append(b, "\r\nSec-WebSocket-Version: 13\r\n"...)
	if cfg.origin != "" {
		b = appendField(b, "Origin", cfg.origin)
	}
	if len(cfg.subprotocols) > 0 {
		b = appendField(b, "Sec-WebSocket-Protocol", strings.Join(cfg.subprotocols, ", "))
	}
	if cfg.compression != nil {
		b = appendField(b, "Sec-WebSocket-Extensions", cfg.compression.offer)
	}
	if cookie := cookieHeader(cfg, cookieURL); cookie != "" {
		b = appendField(b, "Cookie", cookie)
	}
	for name, values := range cfg.header {
		if name == "Host" {
			continue
		}
		for _, v := range values {
			b = appendField(b, name, v)
		}
	}
	return append(b, "\r\n"...)
}

func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// checkResponse applies the rules of RFC 6455 §4.1 to a 101 response, in the
// order of DESIGN.md's sentinels, and returns the chosen subprotocol. The
// last rule, on extensions, is negotiateDeflate's.
func checkResponse(h *responseHead, key []byte, offered []string) (string, error) {
	if h.major != 1 || h.minor != 1 {
		return "", ErrBadHTTPVersion
	}
	if !h.hasToken("Connection", "upgrade") {
		return "", ErrNoConnectionUpgrade
	}
	if !h.hasToken("Upgrade", "websocket") {
		return "", ErrNoUpgradeWebSocket
	}
	var want [28]byte
	acceptKey(&want, key)
	if n, v := h.count("Sec-WebSocket-Accept"); n != 1 || v != string(want[:]) {
		return "", ErrBadAccept
	}
	return checkSubprotocol(h, offered)
}

// checkSubprotocol returns the subprotocol that the response chose, which
// must be one that was offered, named once.
func checkSubprotocol(h *responseHead, offered []string) (string, error) {
	n, protocol := h.count("Sec-WebSocket-Protocol")
	switch {
	case n > 1:
		return "", fmt.Errorf("%w: Sec-WebSocket-Protocol appears %d times", ErrBadSubprotocol, n)
	case n == 1 && protocol != "":
		found := false
		for _, p := range offered {
			found = found || p == protocol
		}
		if !found {
			return "", fmt.Errorf("%w: %q", ErrBadSubprotocol, clip(protocol))
		}
	}
	return protocol, nil
}
