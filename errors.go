package wsdial

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The classes of failure. Every error that New, a dial or Handshake returns
// matches exactly one of them with errors.Is, which names the stage that
// failed. A timeout or a cancellation matches its class and the context's
// error: errors.Is(err, context.DeadlineExceeded) holds after a timeout, in
// whichever stage it struck.
var (
	// ErrInvalid reports a call refused before any traffic: a URL that does
	// not parse or has the wrong scheme, user information or a fragment in a
	// WebSocket URL, a port out of range, an unsupported network, an
	// invalid option, or a proxy variable of the environment that is not a
	// proxy URL (see WithProxyFromEnvironment).
	ErrInvalid = errors.New("wsdial: invalid argument")
	// ErrProxy reports a failure to resolve, reach or pass through a proxy:
	// a WithProxyFunc that failed or answered a URL that is no proxy's, the
	// CGI guard of WithProxyFromEnvironment, a failed dial to the proxy, a
	// CONNECT reply other than 2xx, or a SOCKS refusal.
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
	// SOCKSReply is the reply code of a SOCKS5 proxy that refused the
	// connection (RFC 1928 §6), such as SOCKSConnectionRefused, or 0 when no
	// such reply came. Err is then that same code, so errors.Is(err,
	// SOCKSConnectionRefused) holds too.
	SOCKSReply SOCKSReply
	// Err is the cause.
	Err error
}

func (e *ProxyError) Error() string {
	s := "wsdial: proxy"
	if e.Proxy != "" {
		s += " " + printable(e.Proxy)
	}
	var cause string
	if e.Err != nil {
		cause = e.Err.Error()
	}
	if e.StatusCode != 0 {
		status := statusText(e.Response, e.StatusCode)
		// A cause that opens with what the status line says, as
		// ErrProxyAuthRequired's text after "407 Proxy Authentication
		// Required" does, is not said twice.
		if first, rest, _ := strings.Cut(cause, ": "); first != "" && strings.HasSuffix(strings.ToLower(status), strings.ToLower(first)) {
			cause = rest
		}
		cause = joinText(status, cause)
	}
	return s + ": " + withStage(e.Stage, cause)
}

// withStage puts stage before msg, unless msg opens with it already, as the
// standard library's "dial tcp …" and "tls: …" do.
func withStage(stage, msg string) string {
	first, _, _ := strings.Cut(msg, " ")
	if strings.TrimSuffix(first, ":") == stage {
		return msg
	}
	return joinText(stage, msg)
}

// joinText joins two parts of an error text with ": ", leaving out an empty one.
func joinText(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + ": " + b
}

// Unwrap returns the class ErrProxy and the cause.
func (e *ProxyError) Unwrap() []error { return []error{ErrProxy, e.Err} }

// SOCKSReply is the reply code of a SOCKS5 proxy's answer to a CONNECT
// request, as RFC 1928 §6 lists them. A code other than success is an error:
// a *ProxyError from such a refusal carries it in its SOCKSReply field and
// matches it with errors.Is.
type SOCKSReply uint8

// The SOCKS5 reply codes of RFC 1928 §6 that mean failure. Codes from 9 on
// are unassigned.
const (
	SOCKSGeneralFailure          SOCKSReply = 1 // general SOCKS server failure
	SOCKSConnectionNotAllowed    SOCKSReply = 2 // connection not allowed by ruleset
	SOCKSNetworkUnreachable      SOCKSReply = 3 // network unreachable
	SOCKSHostUnreachable         SOCKSReply = 4 // host unreachable
	SOCKSConnectionRefused       SOCKSReply = 5 // connection refused
	SOCKSTTLExpired              SOCKSReply = 6 // TTL expired
	SOCKSCommandNotSupported     SOCKSReply = 7 // command not supported
	SOCKSAddressTypeNotSupported SOCKSReply = 8 // address type not supported
)

var socksReplyNames = [...]string{
	"succeeded",
	"general SOCKS server failure",
	"connection not allowed by ruleset",
	"network unreachable",
	"host unreachable",
	"connection refused",
	"TTL expired",
	"command not supported",
	"address type not supported",
}

// String names the code as RFC 1928 §6 does.
func (r SOCKSReply) String() string {
	if int(r) < len(socksReplyNames) {
		return socksReplyNames[r]
	}
	return "unassigned"
}

// Error says "reply 5: connection refused".
func (r SOCKSReply) Error() string { return fmt.Sprintf("reply %d: %s", uint8(r), r.String()) }

// statusText renders a status as "407 Proxy Authentication Required", using
// the reason the peer sent, made printable, or the standard one when it sent
// none.
func statusText(resp *http.Response, code int) string {
	if resp != nil && resp.Status != "" {
		return printable(resp.Status)
	}
	return fmt.Sprintf("%d %s", code, http.StatusText(code))
}

// printable returns s as it is when it is UTF-8 made of printable runes and
// spaces, and otherwise quoted with Go's escapes. The parser lets through
// the obs-text of RFC 9112 §4 in a reason phrase, and that may spell a C1
// control, a bidirectional override or bytes that are not UTF-8, none of
// which may reach an error or a log as it came: a terminal could act on it.
func printable(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || r != ' ' && !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// stageError is a failure of a stage that has no error type of its own: an
// argument refused before any traffic, the direct TCP dial, or TLS with the
// target.
type stageError struct {
	stage string // what failed: "invalid URL", "dial", "tls" and so on
	class error  // ErrInvalid, ErrDial or ErrTLS
	err   error
}

func (e *stageError) Error() string { return "wsdial: " + withStage(e.stage, e.err.Error()) }

func (e *stageError) Unwrap() []error { return []error{e.class, e.err} }

// invalid reports an argument refused before any traffic; what names it.
func invalid(what string, err error) error {
	return &stageError{stage: what, class: ErrInvalid, err: err}
}

// ErrKeepAliveTimeout means the keepalive of WithKeepAlive found the
// connection dead: nothing came from the peer within the timeout of a ping.
// The connection is closed, and its reads and writes return an error that
// matches ErrKeepAliveTimeout and also os.ErrDeadlineExceeded, as an I/O
// timeout does; as a net.Error, its Timeout method reports true.
var ErrKeepAliveTimeout error = keepAliveTimeout{}

type keepAliveTimeout struct{}

func (keepAliveTimeout) Error() string { return "wsdial: keepalive timed out" }

// Is makes the error match os.ErrDeadlineExceeded too.
func (keepAliveTimeout) Is(target error) bool { return target == os.ErrDeadlineExceeded }

// Timeout reports true: the peer said nothing in time.
func (keepAliveTimeout) Timeout() bool { return true }

// Temporary reports false: the connection is gone.
func (keepAliveTimeout) Temporary() bool { return false }
