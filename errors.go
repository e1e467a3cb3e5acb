package wsdial

import (
	"errors"
	"fmt"
	"net/http"
)

// The classes of failure. Every error that New, a dial or Handshake returns
// matches exactly one of them with errors.Is, which names the stage that
// failed. A timeout or a cancellation matches its class and the context's
// error: errors.Is(err, context.DeadlineExceeded) holds after a timeout, in
// whichever stage it struck.
var (
	// ErrInvalid reports a call refused before any traffic: a URL that does
	// not parse or has the wrong scheme, user information or a fragment in a
	// WebSocket URL, a port out of range, an unsupported network, or an
	// invalid option.
	ErrInvalid = errors.New("wsdial: invalid argument")
	// ErrProxy reports a failure to resolve, reach or pass through a proxy:
	// a bad proxy URL, a failed dial to the proxy, a CONNECT reply other
	// than 2xx, or a SOCKS refusal.
	ErrProxy = errors.New("wsdial: proxy failed")
	// ErrDial reports a failure to reach the target without a proxy: the
	// name lookup, the TCP connect, or its timeout.
	ErrDial = errors.New("wsdial: dial failed")
	// ErrTLS reports a failed TLS handshake with the target.
	ErrTLS = errors.New("wsdial: TLS failed")
	// ErrHandshake reports a failed WebSocket opening handshake.
	ErrHandshake = errors.New("wsdial: WebSocket handshake failed")
)

// The handshake rules of RFC 6455 §4.1, one sentinel each. A *HandshakeError
// matches the sentinel of the rule the server's response broke.
var (
	// ErrUpgradeDeclined means the response had a status other than 101
	// (over HTTP/2, with WithHTTP2, other than 2xx).
	ErrUpgradeDeclined = errors.New("server declined the upgrade")
	// ErrBadHTTPVersion means the response was not HTTP/1.1.
	ErrBadHTTPVersion = errors.New("response is not HTTP/1.1")
	// ErrNoConnectionUpgrade means the Connection header had no "upgrade" token.
	ErrNoConnectionUpgrade = errors.New(`response has no "upgrade" token in Connection`)
	// ErrNoUpgradeWebSocket means the Upgrade header did not name "websocket".
	ErrNoUpgradeWebSocket = errors.New(`response has no "websocket" in Upgrade`)
	// ErrBadAccept means Sec-WebSocket-Accept was missing, wrong or repeated.
	ErrBadAccept = errors.New("response has a missing, wrong or repeated Sec-WebSocket-Accept")
	// ErrBadSubprotocol means the response named a subprotocol that was not
	// offered, or named one more than once.
	ErrBadSubprotocol = errors.New("response names a subprotocol that was not offered")
	// ErrBadExtension means the response named an extension that was not offered.
	ErrBadExtension = errors.New("response names an extension that was not offered")
)

// ErrProxyAuthRequired means the proxy answered 407 Proxy Authentication
// Required and no credentials it accepted were available.
var ErrProxyAuthRequired = errors.New("proxy authentication required")

// HandshakeError describes a failed opening handshake. It matches
// ErrHandshake and its cause with errors.Is.
type HandshakeError struct {
	// StatusCode is the response's status code, or 0 when no response came.
	StatusCode int
	// Response is the server's response, or nil when none came. Its Body holds
	// at most the first 1 KiB of the body, readable from memory; the network
	// body has been closed.
	Response *http.Response
	// Err is the cause: one of the handshake sentinels, or the I/O or
	// context error that ended the exchange.
	Err error
}

func (e *HandshakeError) Error() string {
	if e.Err == nil {
		return "wsdial: handshake failed"
	}
	if e.StatusCode != 0 && errors.Is(e.Err, ErrUpgradeDeclined) {
		return fmt.Sprintf("wsdial: handshake: %v: %s", e.Err, statusText(e.Response, e.StatusCode))
	}
	return "wsdial: handshake: " + e.Err.Error()
}

// Unwrap returns the class ErrHandshake and the cause.
func (e *HandshakeError) Unwrap() []error { return []error{ErrHandshake, e.Err} }

// ProxyError describes a failure at the proxy stage. It matches ErrProxy and
// its cause with errors.Is; a 407 also matches ErrProxyAuthRequired.
type ProxyError struct {
	// Proxy is the proxy URL with any password redacted.
	Proxy string
	// Stage says what was under way: "resolve", "dial", "tls", "connect" or "socks".
	Stage string
	// StatusCode is the status of the proxy's HTTP reply, or 0 when no HTTP
	// reply came.
	StatusCode int
	// Response is the proxy's reply, or nil when none came. Its Body holds at
	// most the first 1 KiB of the body, readable from memory.
	Response *http.Response
	// Err is the cause.
	Err error
}

func (e *ProxyError) Error() string {
	s := "wsdial: proxy"
	if e.Proxy != "" {
		s += " " + e.Proxy
	}
	s += ": " + e.Stage
	if e.StatusCode != 0 {
		s += ": " + statusText(e.Response, e.StatusCode)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the class ErrProxy and the cause.
func (e *ProxyError) Unwrap() []error { return []error{ErrProxy, e.Err} }

// statusText renders a status as "407 Proxy Authentication Required", using
// the reason the peer sent, or the standard one when it sent none.
func statusText(resp *http.Response, code int) string {
	if resp != nil && resp.Status != "" {
		return resp.Status
	}
	return fmt.Sprintf("%d %s", code, http.StatusText(code))
}

// stageError is a failure of a stage that has no error type of its own: an
// argument refused before any traffic, the direct TCP dial, or TLS with the
// target.
type stageError struct {
	stage string // what failed: "invalid URL", "dial", "tls" and so on
	class error  // ErrInvalid, ErrDial or ErrTLS
	err   error
}

func (e *stageError) Error() string { return "wsdial: " + e.stage + ": " + e.err.Error() }

func (e *stageError) Unwrap() []error { return []error{e.class, e.err} }

// invalid reports an argument refused before any traffic; what names it.
func invalid(what string, err error) error {
	return &stageError{stage: what, class: ErrInvalid, err: err}
}
