package wsdial

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// An Option configures a Dialer, or a single call to Handshake.
type Option func(*config)

// defaultHandshakeTimeout bounds a dial whose context has no earlier deadline.
const defaultHandshakeTimeout = 30 * time.Second

// defaultReadLimit is the largest message a Conn accepts unless told otherwise.
const defaultReadLimit = 32 << 20

// proxyMode says where the proxy for a target comes from.
type proxyMode int

const (
	proxyFromEnvironment proxyMode = iota
	proxyFixed
	proxyFromFunc
	proxyNone
	proxyFromList
)

// config is what the options set. Options copy whatever the caller passes in,
// so nothing the caller changes later reaches a Dialer, and a Dialer never
// changes the caller's values.
type config struct {
	proxyMode   proxyMode
	proxyURL    string
	proxyFunc   func(*url.URL) (*url.URL, error)
	proxyList   func(context.Context, *url.URL) ([]*url.URL, error)
	proxyRetry  time.Duration // how long a proxy of the list stays marked bad
	proxyHeader http.Header
	proxyTLS    *tls.Config
	proxyAuth   ProxyAuthenticator

	netDialer        *net.Dialer
	tlsConfig        *tls.Config
	handshakeTimeout time.Duration

	header       http.Header
	subprotocols []string
	origin       string
	jar          http.CookieJar

	readLimit   int64
	compression *compression // nil: no permessage-deflate
	logger      *slog.Logger
	http2       bool

	keepAliveInterval time.Duration // 0: no keepalive
	keepAliveTimeout  time.Duration

	// err is the first invalid option; every dial reports it.
	err error
}

func newConfig(opts []Option) *config {
	c := &config{
		handshakeTimeout: defaultHandshakeTimeout,
		readLimit:        defaultReadLimit,
		proxyRetry:       defaultProxyRetryDelay,
	}
	for i, o := range opts {
		if o == nil {
			// Refused rather than skipped: a nil Option is an option the
			// caller meant to set and did not.
			c.fail(fmt.Errorf("option %d of %d is nil", i+1, len(opts)))
			continue
		}
		o(c)
	}
	return c
}

// fail records the first invalid option.
func (c *config) fail(err error) {
	if c.err == nil {
		c.err = invalid("invalid option", err)
	}
}

// WithProxy sends every dial through the proxy at rawURL, whatever the
// target, loopback included. The schemes are http, https, socks5 and socks5h;
// a bare "host:port" means http, and the default ports are 80, 443 and 1080.
// User information in the URL becomes Basic proxy authentication (HTTP) or
// username/password authentication (SOCKS5, RFC 1929). New fails with an
// ErrInvalid error, which quotes none of rawURL, when rawURL does not parse
// (a /, ?, # or % in a password must be percent-encoded), has another
// scheme, no host, a port out of range, a path or a query, or holds
// credentials that its scheme cannot carry: a user name with a colon for
// Basic, or for SOCKS5 a username or password that is empty or longer than
// 255 bytes.
//
// Through an http:// or https:// proxy every target, ws:// included, is
// reached with a CONNECT tunnel; an https:// proxy is verified as
// WithProxyTLSConfig says. Through socks5:// the target's name is resolved
// locally, with the WithNetDialer resolver, and the proxy is sent an
// address; through socks5h:// the proxy is sent the name.
func WithProxy(rawURL string) Option {
	return func(c *config) {
		c.proxyMode, c.proxyURL, c.proxyFunc = proxyFixed, rawURL, nil
	}
}

// WithProxyFunc asks f for the proxy of each target. f has the shape of
// httpproxy.Config.ProxyFunc: it is given the target as a URL whose scheme is
// http for ws:// and https for wss://, and returns nil for a direct dial.
// Its answer is checked as WithProxy checks its URL; one that fails, or an
// error from f, fails the dial with a *ProxyError of stage "resolve".
func WithProxyFunc(f func(*url.URL) (*url.URL, error)) Option {
	return func(c *config) {
		c.proxyMode, c.proxyURL, c.proxyFunc = proxyFromFunc, "", f
	}
}

// WithProxyList asks f, at each dial, for the proxies to try in turn, as a
// browser tries the answer of a PAC script ("PROXY a:8080; PROXY b:8080;
// DIRECT"). f is given the dial's context, bounded as the dial is, which it
// should honour, and the target as WithProxyFunc's function is (scheme http
// for ws://, https for wss://, and host:port). Each entry is a proxy URL as
// WithProxy takes it, or nil for a direct connection; an empty list means a
// direct connection. An error from f fails the dial with a *ProxyError of
// stage "resolve". Only the first 32 entries are looked at; of those, an
// entry that is not a usable proxy URL is skipped with a logged reason, and
// a repeat of an entry is left out. f may be called from several
// goroutines at once. Every dial takes this way, DialContext and
// DialTLSContext included.
//
// The list is worked through as Chromium does:
//
//   - An entry that cannot be used moves the dial on to the next one: the
//     proxy's name does not resolve, the TCP connection to it fails
//     (refused, reset, unreachable, or out of time), TLS with an https://
//     proxy fails, or the proxy closes or resets the connection, or stays
//     silent until the attempt's time is up, before it has sent any byte of
//     a reply. A DIRECT entry moves on when the TCP connection to the target
//     cannot be opened, its name not resolving included: the next entry may
//     be a proxy that knows it. So does a socks5:// entry whose target name
//     does not resolve here, where socks5:// resolves it.
//   - A proxy that answers ends the dial with what it said: any HTTP status
//     other than 2xx to CONNECT, 407 included, a SOCKS refusal, or a reply
//     that is malformed or cut short. Chromium stopped failing over on
//     these (crbug 680837): proxies refuse some targets on purpose, and a
//     fallback such as DIRECT would go around the refusal.
//   - Anything else ends the dial as well: the caller's context ending, the
//     dial's bound running out, or a failure on this side, such as an error
//     of the proxy authenticator. An attempt cut short by the context marks
//     nothing. TLS with the target and the WebSocket handshake come after
//     the list is done and never move it on.
//   - A proxy that could not be used is marked bad for 5 minutes (see
//     WithProxyRetryDelay). Meanwhile every dial tries it after the entries
//     that are not marked, keeping the list's order among the marked ones:
//     it moves to the end of the list rather than out of it. A dial that
//     gets through a marked proxy clears its mark. DIRECT is never marked,
//     nor is a proxy for a target name that did not resolve here.
//     The marks belong to the Dialer and are shared by its dials alone.
//   - Each attempt has its share of the time left of the dial's bound (the
//     context's deadline or WithHandshakeTimeout): that time divided by the
//     number of entries left to try, but at least 2 seconds, and at most
//     half of it while another entry waits. A proxy that never answers
//     cannot take the whole bound, however short, and the last entry has
//     all that remains. Without any bound an attempt lasts until the system
//     gives up on its connect.
//
// When the dial fails and more than one entry was tried or skipped, the
// error's text says what each got, in order, while errors.Is and errors.As
// see only the last attempt's error, which ended the dial: it matches
// ErrProxy or, when the last entry was DIRECT, ErrDial, and
// context.DeadlineExceeded only when the dial's own time ran out, never for
// an entry it moved past. When a single entry failed, the error is that
// entry's, as WithProxy would report it. The log has every attempt's error
// as a value.
//
// The log (WithLogger) shows the list in the order it is tried, each
// attempt with its share of time, and why the dial moved on or stopped; the
// httptrace hooks see the connects of every attempt.
func WithProxyList(f func(ctx context.Context, target *url.URL) ([]*url.URL, error)) Option {
	return func(c *config) {
		if f == nil {
			c.fail(errors.New("WithProxyList: the function is nil"))
			return
		}
		c.proxyMode, c.proxyURL, c.proxyFunc, c.proxyList = proxyFromList, "", nil, f
	}
}

// WithProxyRetryDelay sets how long a proxy of a WithProxyList list that
// could not be used stays marked bad, to be tried only after the entries
// that are not marked. The default is 5 minutes, as in Chromium. Zero or
// less turns marking off, so that every dial tries its list in the order
// given, which makes failover predictable at the cost of trying a dead
// proxy first every time. Without WithProxyList it has no effect.
func WithProxyRetryDelay(d time.Duration) Option {
	return func(c *config) { c.proxyRetry = d }
}

// WithProxyFromEnvironment takes the proxy from HTTP_PROXY, HTTPS_PROXY,
// ALL_PROXY and NO_PROXY (or their lower-case forms), read once when New
// runs. It is the default.
//
// The rules are those of golang.org/x/net/http/httpproxy, which net/http
// follows too: ws:// targets take HTTP_PROXY and wss:// targets HTTPS_PROXY;
// NO_PROXY lists hosts (each with its subdomains), host:port pairs, IP
// addresses, CIDR ranges or "*"; localhost and loopback addresses are never
// proxied; and in a CGI program (REQUEST_METHOD set) HTTP_PROXY is refused.
// ALL_PROXY serves any scheme whose own variable is empty, under the same
// NO_PROXY, which is how SOCKS proxies are usually given.
//
// Each value is checked when it is read, as WithProxy checks its URL. Where
// net/http drops a value that does not parse, and the dial goes direct, or
// reads it again as "http://" + value, wsdial fails every dial that the
// variable would serve (after NO_PROXY and the loopback rule) with an
// ErrInvalid error that names the variable and shows nothing of its value
// past the scheme. New itself does not fail for it, so that a bad
// HTTP_PROXY does not stop the wss:// dials that a good HTTPS_PROXY serves,
// and so that the zero Dialer, which has no New, behaves the same.
func WithProxyFromEnvironment() Option {
	return func(c *config) {
		c.proxyMode, c.proxyURL, c.proxyFunc = proxyFromEnvironment, "", nil
	}
}

// WithoutProxy dials every target directly.
func WithoutProxy() Option {
	return func(c *config) {
		c.proxyMode, c.proxyURL, c.proxyFunc = proxyNone, "", nil
	}
}

// WithProxyHeader adds h to every CONNECT request. These headers go only to
// the proxy, never to the target. A later WithProxyHeader replaces h. A
// Proxy-Authorization entry is sent only when no credentials come from the
// proxy URL or the authenticator. Host, which the request line fixes, and
// the fields that frame a message or steer the connection (Content-Length,
// Transfer-Encoding, TE, Trailer, Expect, Connection, Keep-Alive, Upgrade,
// Proxy-Connection) are refused, as is any name or value that holds CR, LF
// or NUL: a CONNECT has no content (RFC 9110 §9.3.6), and a proxy told
// otherwise would take the first tunnel bytes for it.
func WithProxyHeader(h http.Header) Option {
	return func(c *config) {
		if err := checkHeader(h, proxyOwned); err != nil {
			c.fail(err)
			return
		}
		c.proxyHeader = canonicalHeader(h)
	}
}

// WithProxyTLSConfig sets the TLS configuration for https:// proxies. It is
// kept apart from WithTLSConfig, which is for the target. When its ServerName
// is empty, the proxy's host is verified. The ALPN offer is always
// "http/1.1" alone, whatever NextProtos says: the CONNECT request is
// HTTP/1.1, so a proxy must not be let pick h2. With WithHTTP2 it is "h2"
// and "http/1.1", and a proxy that picks h2 carries the tunnels as streams.
func WithProxyTLSConfig(cfg *tls.Config) Option {
	return func(c *config) { c.proxyTLS = cloneTLS(cfg) }
}

// WithProxyAuthenticator answers HTTP proxies' 407 challenges with a, for
// schemes such as NTLM and Negotiate. Without it, user information in the
// proxy URL is sent as Basic authentication with the first CONNECT request.
// Given several authenticators, each of which names its scheme, a Dialer
// picks for each dial the strongest one the proxy offers, and falls back to
// the next when one fails (see ProxyAuthScheme); with none, it goes back to
// the built-in Basic. See ProxyAuthenticator.
func WithProxyAuthenticator(a ...ProxyAuthenticator) Option {
	return func(c *config) {
		switch len(a) {
		case 0:
			c.proxyAuth = nil
		case 1:
			c.proxyAuth = a[0]
		default:
			auth, err := newAnyAuth(a)
			if err != nil {
				c.fail(err)
				return
			}
			c.proxyAuth = auth
		}
	}
}

// WithNetDialer sets the dialer used for TCP connections to the proxy or the
// target, and its Resolver for the names that socks5:// resolves here. Its
// Timeout, KeepAlive, LocalAddr, Control and ControlContext apply.
func WithNetDialer(d *net.Dialer) Option {
	return func(c *config) {
		if d == nil {
			c.netDialer = nil
			return
		}
		nd := *d
		c.netDialer = &nd
	}
}

// WithTLSConfig sets the TLS configuration for the target. When its
// ServerName is empty, the target's host is verified. For wss:// the ALPN
// offer is "http/1.1" alone when NextProtos names any protocol, whichever it
// names, and none when it names none, which leaves a server HTTP/1.1 just
// the same; with WithHTTP2, "h2" and "http/1.1", and "http/1.1" alone when
// a server that did not take h2 is dialed again over HTTP/1.1.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) { c.tlsConfig = cloneTLS(cfg) }
}

// WithHandshakeTimeout bounds the whole dial, from the proxy to the 101
// response, when the context has no earlier deadline. The default is 30
// seconds; zero or less means no bound beyond the context.
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) { c.handshakeTimeout = d }
}

// WithHeader adds h to the opening handshake request; a later WithHeader
// replaces h. A Host entry, whatever its case, replaces the Host header.
// Headers that the handshake itself owns (Upgrade, Connection and the
// Sec-WebSocket-* fields) are refused, as are the fields that frame a
// message or steer the connection (Content-Length, Transfer-Encoding, TE,
// Trailer, Expect, Keep-Alive, Proxy-Connection) and any name or value that
// holds CR, LF or NUL.
func WithHeader(h http.Header) Option {
	return func(c *config) {
		if err := checkHeader(h, handshakeOwned); err != nil {
			c.fail(err)
			return
		}
		c.header = canonicalHeader(h)
	}
}

// WithSubprotocols offers the subprotocols, in order of preference, in
// Sec-WebSocket-Protocol. Each must be an RFC 7230 token, and none may repeat.
func WithSubprotocols(protocols ...string) Option {
	return func(c *config) {
		seen := make(map[string]bool, len(protocols))
		for _, p := range protocols {
			if !isToken(p) {
				c.fail(fmt.Errorf("subprotocol %q is not a token", p))
				return
			}
			if seen[p] {
				c.fail(fmt.Errorf("subprotocol %q is offered twice", p))
				return
			}
			seen[p] = true
		}
		c.subprotocols = append([]string(nil), protocols...)
	}
}

// WithOrigin sets the Origin header of the opening handshake.
func WithOrigin(origin string) Option {
	return func(c *config) {
		if hasCTL(origin) {
			c.fail(errors.New("origin holds a control character"))
			return
		}
		c.origin = origin
	}
}

// WithCookieJar sends the jar's cookies with the handshake and stores the
// cookies of the 101 response in it. The jar sees ws:// as http:// and
// wss:// as https://, so net/http/cookiejar works unchanged.
func WithCookieJar(jar http.CookieJar) Option {
	return func(c *config) { c.jar = jar }
}

// WithReadLimit sets the largest message, in bytes, that a Conn accepts. A
// message of exactly n bytes is allowed; a longer one ends the connection
// with status 1009. Zero or less removes the limit. The default is 32 MiB.
func WithReadLimit(n int64) Option {
	return func(c *config) { c.readLimit = n }
}

// WithKeepAlive keeps the connection alive through proxies and balancers
// that cut idle tunnels, and finds out when the path to the peer has died
// without a word. Whenever interval passes with nothing received from the
// peer, the connection sends a ping, whether or not anyone is reading;
// traffic from the peer in the meantime puts the ping off. The ping goes
// out within an eighth of interval after that, a lag drawn at random for
// each connection, so that connections dialled together do not all ping at
// once. When nothing at
// all arrives, a pong or any other frame, within timeout of a ping, the
// connection is dead: it closes its stream, and reads and writes from then
// on, one that is blocked included, fail with an error that matches
// ErrKeepAliveTimeout and os.ErrDeadlineExceeded.
//
// While a read is under way, the read sees everything that arrives, and the
// keepalive judges by what it saw. While none is, the keepalive looks at the
// stream itself at each of its turns: it takes in what has arrived, answers
// the peer's pings, hands pongs to the pong handler and takes the peer's
// close, and leaves the first data frame and what follows it in the
// connection's buffer for the next read. Bytes that such a look finds are
// taken to have come just after the look before, so that with nobody
// reading a ping goes out every interval, traffic or not; a look that comes
// while a read starts gives way to it at once. Data that nobody reads, once
// it fills the connection's 4 KiB buffer, hides what comes behind it: the
// connection is then taken to be alive, and only pings.
//
// The pings go out between the frames of any message being written, never
// inside one, under timeout as their write deadline, whatever the
// application's says: a ping that cannot go out within timeout, because
// the peer has taken nothing written to it for that long, fails the
// connection as one left unanswered does; one held up by a long frame whose
// bytes the peer takes meanwhile waits for the next interval instead. A timer per connection drives
// them, not a goroutine; it stops when the connection closes, and until
// then it keeps the connection: close one before dropping it, or it pings
// on. The keepalive does not run after reads have failed, nor once the
// close frame has gone out.
//
// interval zero, the default, turns the keepalive off; a negative interval,
// or a timeout that is not positive while interval is, is an invalid option.
// Durations beyond a hundred years count as a hundred years.
func WithKeepAlive(interval, timeout time.Duration) Option {
	return func(c *config) {
		switch {
		case interval < 0:
			c.fail(fmt.Errorf("keepalive interval %v is negative", interval))
			return
		case interval > 0 && timeout <= 0:
			c.fail(fmt.Errorf("keepalive timeout %v is not positive", timeout))
			return
		}
		// Beyond a century the keepalive's sums of times would overflow.
		c.keepAliveInterval, c.keepAliveTimeout = min(interval, maxKeepAlive), min(timeout, maxKeepAlive)
	}
}

// maxKeepAlive is the longest interval and timeout that WithKeepAlive
// takes; longer ones count as this.
const maxKeepAlive = 100 * 365 * 24 * time.Hour

// WithCompression offers permessage-deflate (RFC 7692) in the handshake,
// with the settings of c; see Compression for each and its default. When the
// server accepts, messages of at least c.Threshold bytes go out compressed
// and compressed messages from the server are decompressed, the read limit
// counting their decompressed length. When it declines, the connection works
// uncompressed. A Level out of range fails every dial. The offer is
// "permessage-deflate; client_max_window_bits", followed by
// "client_no_context_takeover" unless c.ClientContextTakeover is set and by
// "server_no_context_takeover" if c.ServerNoContextTakeover is.
//
// A window that the server sets with client_max_window_bits below 15 is
// honoured although compress/flate always compresses within 32 KiB: each
// message is compressed in independent pieces no longer than the window, at
// flate.BestSpeed, so that no back-reference can reach further. That costs
// some ratio; python-websockets, for one, sets 12 bits.
//
// Memory: an idle connection holds only the state that context takeover
// needs; a write or a read borrows the rest from pools while it runs.
// Measured on linux/amd64 with Go 1.26 after one compressed message each
// way, an idle connection holds this much more heap than an uncompressed
// one:
//
//	settings (as negotiated)                           idle connection
//	default: server's context kept, 15-bit window      32 KiB
//	default, server_max_window_bits=12                  4 KiB
//	ServerNoContextTakeover                             0.3 KiB
//	ClientContextTakeover, ServerNoContextTakeover      1.15 MiB
//	ClientContextTakeover                               1.18 MiB
//
// While a message is written, it borrows a compressor (1.1 MiB at
// flate.BestSpeed) and a 16 KiB buffer; while one is read, a decompressor
// (40 KiB). Both go back to pools shared by all connections.
//
// So the default costs 32 KiB per connection (the server's window, which
// ServerNoContextTakeover or a smaller server_max_window_bits shrink), and
// ClientContextTakeover is for a few busy connections, not for many idle
// ones.
func WithCompression(c Compression) Option {
	return func(cfg *config) {
		z, err := newCompression(c)
		if err != nil {
			cfg.fail(err)
			return
		}
		cfg.compression = z
	}
}

// WithHTTP2 lets wss:// WebSockets, and tunnels through https:// proxies,
// share HTTP/2 connections. A wss:// dial offers h2 and http/1.1 by ALPN;
// when the server picks h2 and enables extended CONNECT (RFC 8441), the
// WebSocket is a stream of that connection, which the Dialer keeps: a later
// dial to the same host and port by the same route opens a stream on it, in
// one round trip, instead of a connection. A server that picks h2 without
// enabling extended CONNECT is dialed again over HTTP/1.1, on a new
// connection, and is remembered as HTTP/1.1 only for ten minutes; so is one
// that picks http/1.1. ws:// stays HTTP/1.1. An https:// proxy is offered h2
// as well; one that takes it carries each CONNECT tunnel as a stream of one
// kept connection (RFC 9113 §8.5), with TLS to the target inside as ever.
//
// A WebSocket over HTTP/2 behaves as any other: Response().ProtoMajor is 2,
// a 2xx status stands for 101, and NetConn returns the stream. Closing it
// ends the stream, not the connection, which closes once it has carried
// nothing for 90 seconds, or at CloseIdleConnections. Proxy authentication
// bound to a connection (NTLM) cannot work over HTTP/2, where each request
// is a stream of a shared connection.
func WithHTTP2() Option {
	return func(c *config) { c.http2 = true }
}

// WithLogger logs each stage of a dial to l at debug level. Passwords and
// Proxy-Authorization values never appear in the log.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// canonicalHeader copies h with its keys in canonical form, so that "host"
// replaces the Host header as "Host" does, rather than adding a second one.
func canonicalHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		for _, v := range vs {
			out.Add(k, v)
		}
	}
	return out
}

func cloneTLS(cfg *tls.Config) *tls.Config {
	if cfg == nil {
		return nil
	}
	return cfg.Clone()
}

// framingReason is why a caller may not set the fields that frame a message
// or steer the connection (RFC 9110 §6.4, §7.6.1, §10.1.1; RFC 9112 §6,
// §9.6): the peer would read the stream otherwise than it is written.
const framingReason = "frames the message or steers the connection, so the peer would read the stream otherwise than it is sent"

// handshakeOwned maps the request headers that a caller may not give the
// upgrade request, in canonical form, to the reason.
var handshakeOwned = map[string]string{
	"Upgrade":                  "is set by the handshake itself",
	"Connection":               "is set by the handshake itself",
	"Sec-Websocket-Key":        "is set by the handshake itself",
	"Sec-Websocket-Version":    "is set by the handshake itself",
	"Sec-Websocket-Extensions": "is set by the handshake itself",
	"Sec-Websocket-Protocol":   "is set by the handshake itself",
	"Content-Length":           framingReason,
	"Transfer-Encoding":        framingReason,
	"Te":                       framingReason,
	"Trailer":                  framingReason,
	"Expect":                   framingReason,
	"Keep-Alive":               framingReason,
	"Proxy-Connection":         framingReason,
}

// proxyOwned is handshakeOwned's counterpart for the CONNECT request.
var proxyOwned = map[string]string{
	"Host":              "is fixed by the CONNECT request line",
	"Content-Length":    framingReason,
	"Transfer-Encoding": framingReason,
	"Te":                framingReason,
	"Trailer":           framingReason,
	"Expect":            framingReason,
	"Connection":        framingReason,
	"Keep-Alive":        framingReason,
	"Upgrade":           framingReason,
	"Proxy-Connection":  framingReason,
}

// checkHeader refuses names that are not tokens, values with CR, LF or NUL,
// and any name in owned.
func checkHeader(h http.Header, owned map[string]string) error {
	for name, values := range h {
		if !isToken(name) {
			return fmt.Errorf("header name %q is not a token", name)
		}
		if why, ok := owned[http.CanonicalHeaderKey(name)]; ok {
			return fmt.Errorf("header %q %s", name, why)
		}
		for _, v := range values {
			if hasCTL(v) {
				return fmt.Errorf("header %q has a control character in its value", name)
			}
		}
	}
	return nil
}

// hasCTL reports whether s holds CR, LF or NUL, the bytes that could end a
// header line early or smuggle another.
func hasCTL(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }

// breaksLine reports whether s holds a byte that would end or split a
// request line, where a host or target stands between spaces: CR, LF, NUL,
// space or tab.
func breaksLine(s string) bool { return strings.ContainsAny(s, "\r\n\x00 \t") }

// isToken reports whether s is an RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte(s[i]) {
			return false
		}
	}
	return true
}

func isTokenByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}
