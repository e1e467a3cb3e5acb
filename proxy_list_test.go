package wsdial

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// listTimeout bounds the failover dials that wait out a silent proxy: each
// of two entries gets 2 s, which keeps those cases short while the live
// entry still has ample time.
const listTimeout = 4 * time.Second

// listTarget is a target whose name only the test proxies know: a direct
// dial to it fails to resolve, as an intranet name does outside the
// intranet, while a proxy reaches it.
type listTarget struct {
	url   string // ws://ws.wsdial-test.invalid:port/
	hosts hosts  // the name to the WebSocket origin on loopback
}

func newListTarget(t *testing.T) listTarget {
	t.Helper()
	origin := serveUpgrade(t, "")
	_, port, _ := net.SplitHostPort(origin)
	name := "ws.wsdial-test.invalid:" + port
	return listTarget{url: "ws://" + name + "/", hosts: hosts{name: origin}}
}

// nxResolver returns a net.Dialer whose resolver asks only a DNS server run
// here on 127.0.0.1, which answers every query NXDOMAIN: a name that does
// not resolve, with no query leaving the machine.
func nxResolver(t *testing.T) *net.Dialer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if reply := nxdomain(buf[:n]); reply != nil {
				pc.WriteTo(reply, from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	server := pc.LocalAddr().String()
	return &net.Dialer{Resolver: &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", server)
		},
	}}
}

// nxdomain answers a DNS query (RFC 1035 §4.1) with its question and the
// response code 3, name error; nil for what is not a query of one question.
func nxdomain(q []byte) []byte {
	if len(q) < 12 || q[2]&0x80 != 0 || q[4] != 0 || q[5] != 1 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	end := i + 5 // the root label, QTYPE and QCLASS
	if end > len(q) {
		return nil
	}
	r := bytes.Clone(q[:end])
	r[2] = 0x80 | q[2]&0x01 // a response, recursion desired as asked
	r[3] = 0x80 | 3         // recursion available, NXDOMAIN
	clear(r[6:12])          // no answer, authority or additional records
	return r
}

// refusedAddr returns a loopback address that refuses every connect: a
// socket bound there but never listening holds the port until the test
// ends, so that no other listener can take it meanwhile, as one could take
// a port that was merely closed.
func refusedAddr(t testing.TB) string {
	t.Helper()
	_, addr := boundSocket(t)
	return addr
}

// staticList is a WithProxyList function that answers raws, parsed, for
// every target; "DIRECT" stands for a nil entry.
func staticList(t testing.TB, raws ...string) func(context.Context, *url.URL) ([]*url.URL, error) {
	t.Helper()
	var list []*url.URL
	for _, raw := range raws {
		if raw == "DIRECT" {
			list = append(list, nil)
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, u)
	}
	return func(context.Context, *url.URL) ([]*url.URL, error) { return list, nil }
}

// logRecords is a slog.Handler that keeps every record, so that a test can
// read the values the library logged, errors included, as values.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }

func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}

func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// find returns the attributes of each record with message msg.
func (l *logRecords) find(msg string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, r := range l.recs {
		if r.Message != msg {
			continue
		}
		m := map[string]any{}
		r.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.Any()
			return true
		})
		out = append(out, m)
	}
	return out
}

func (l *logRecords) reset() {
	l.mu.Lock()
	l.recs = nil
	l.mu.Unlock()
}

// readRequestHead reads an HTTP request head from c and returns the rest
// of the stream's reader, or nil when the head never came.
func readRequestHead(c net.Conn) *bufio.Reader {
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil
		}
		if line == "\r\n" {
			return br
		}
	}
}

// TestProxyListFailover puts each kind of proxy that cannot be used first
// in a list, a live CONNECT proxy second, and checks that the dial gets
// through the second, that the log says why it moved on with the error's
// cause, and that the first is marked bad, so that the next dial tries the
// live one first. A DIRECT entry moves on too, and is never marked.
func TestProxyListFailover(t *testing.T) {
	target := newListTarget(t)
	live := &connectProxy{hosts: target.hosts}
	liveAddr := live.start(t)
	cert, pool := newCert(t, "127.0.0.1")
	tlsServer := &tls.Config{Certificates: []tls.Certificate{*cert}}
	trusted := WithProxyTLSConfig(&tls.Config{RootCAs: pool})
	isErr := func(target error) func(error) bool {
		return func(err error) bool { return errors.Is(err, target) }
	}
	asErr := func(target any) func(error) bool {
		return func(err error) bool { return errors.As(err, target) }
	}

	for _, tc := range []struct {
		name   string
		first  func(t *testing.T) string // the entry to put first
		opts   []Option
		cause  func(error) bool // what the first attempt's error must match
		direct bool             // the entry is DIRECT: never marked
	}{
		{
			name:  "proxy name does not resolve",
			first: func(*testing.T) string { return "http://proxy.wsdial-test.invalid:3128" },
			cause: func(err error) bool {
				var de *net.DNSError
				return errors.As(err, &de) && de.IsNotFound
			},
		},
		{
			name:  "connect refused",
			first: func(t *testing.T) string { return "http://" + refusedAddr(t) },
			cause: isErr(syscall.ECONNREFUSED),
		},
		{
			name:  "connect times out (blackholed: the listener's accept queue is full)",
			first: func(t *testing.T) string { return "http://" + fullBacklog(t) },
			cause: isErr(context.DeadlineExceeded),
		},
		{
			name:  "reset on accept",
			first: func(t *testing.T) string { return "http://" + serveRaw(t, "tcp", reset) },
			cause: isErr(syscall.ECONNRESET),
		},
		{
			name: "reset after the CONNECT request",
			first: func(t *testing.T) string {
				return "http://" + rawProxy(t, func(c net.Conn, _ string) { reset(c) })
			},
			cause: isErr(syscall.ECONNRESET),
		},
		{
			name:  "closed on accept",
			first: func(t *testing.T) string { return "http://" + serveRaw(t, "tcp", func(net.Conn) {}) },
			cause: isErr(errNoResponse),
		},
		{
			name:  "closed after the CONNECT request, before any reply",
			first: func(t *testing.T) string { return "http://" + rawProxy(t, func(net.Conn, string) {}) },
			cause: func(err error) bool { return errors.Is(err, errNoResponse) && errors.Is(err, io.EOF) },
		},
		{
			name:  "silent after the CONNECT request until its share is up",
			first: func(t *testing.T) string { return "http://" + rawProxy(t, func(c net.Conn, _ string) { stall(c) }) },
			cause: func(err error) bool {
				return errors.Is(err, errNoResponse) && errors.Is(err, context.DeadlineExceeded)
			},
		},
		{
			name: "https:// proxy whose certificate is not trusted",
			first: func(t *testing.T) string {
				return "https://" + (&connectProxy{hosts: target.hosts, tls: tlsServer}).start(t)
			},
			cause: asErr(new(*tls.CertificateVerificationError)),
		},
		{
			name: "https:// proxy that speaks plain HTTP",
			first: func(t *testing.T) string {
				return "https://" + serveRaw(t, "tcp", func(c net.Conn) {
					c.Read(make([]byte, 512))
					io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
				})
			},
			opts:  []Option{trusted},
			cause: asErr(new(tls.RecordHeaderError)),
		},
		{
			name: "https:// proxy closes after TLS, before any reply",
			first: func(t *testing.T) string {
				addr, _ := serve(t, func(ln net.Listener) net.Listener { return tls.NewListener(ln, tlsServer) },
					func(c net.Conn) { readRequestHead(c) })
				return "https://" + addr
			},
			opts:  []Option{trusted},
			cause: isErr(errNoResponse),
		},
		{
			name: "SOCKS proxy closes before any reply",
			first: func(t *testing.T) string {
				return "socks5h://" + serveRaw(t, "tcp", func(c net.Conn) { c.Read(make([]byte, 3)) })
			},
			cause: isErr(io.EOF),
		},
		{
			name: "SOCKS proxy resets before any reply",
			first: func(t *testing.T) string {
				return "socks5h://" + serveRaw(t, "tcp", func(c net.Conn) { c.Read(make([]byte, 3)); reset(c) })
			},
			cause: isErr(syscall.ECONNRESET),
		},
		{
			name:  "SOCKS proxy silent until its share is up",
			first: func(t *testing.T) string { return "socks5h://" + serveRaw(t, "tcp", stall) },
			cause: isErr(context.DeadlineExceeded),
		},
		{
			name:  "SOCKS proxy name does not resolve",
			first: func(*testing.T) string { return "socks5h://socks.wsdial-test.invalid" },
			cause: asErr(new(*net.DNSError)),
		},
		{
			name:   "DIRECT to a name only the proxy knows",
			first:  func(*testing.T) string { return "DIRECT" },
			cause:  asErr(new(*net.DNSError)),
			direct: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			first := tc.first(t)
			var log logRecords
			opts := append([]Option{
				WithProxyList(staticList(t, first, "http://"+liveAddr)),
				WithNetDialer(nxResolver(t)),
				WithHandshakeTimeout(listTimeout),
				WithLogger(slog.New(&log)),
			}, tc.opts...)
			d := mustNew(t, opts...)
			for round := 1; round <= 2; round++ {
				c, err := d.DialWebSocket(context.Background(), target.url)
				if err != nil {
					t.Fatalf("dial %d: %v", round, err)
				}
				remote := c.NetConn().RemoteAddr().String()
				c.Close()
				if remote != liveAddr {
					t.Errorf("dial %d went to %s, want the live proxy %s", round, remote, liveAddr)
				}
				order := log.find("wsdial: proxy list")
				next := log.find("wsdial: proxy list: next entry")
				switch {
				case round == 1 || tc.direct:
					// The entry is tried first and fails.
					if len(next) != 1 || next[0]["entry"] == nil {
						t.Fatalf("dial %d: the log has %d next-entry records, want 1: %v", round, len(next), next)
					}
					err, _ := next[0]["err"].(error)
					if !tc.cause(err) {
						t.Errorf("dial %d: the first attempt failed with %v, which lacks the cause this case wants", round, err)
					}
					_, marked := next[0]["marked_bad_for"]
					if marked == tc.direct {
						t.Errorf("dial %d: marked_bad_for present = %v for an entry that is DIRECT = %v", round, marked, tc.direct)
					}
				default:
					// Marked bad: tried after the live proxy, which takes it.
					if len(next) != 0 {
						t.Errorf("dial %d moved on %d times, want none: %v", round, len(next), next)
					}
					if len(order) != 1 || !strings.HasSuffix(order[0]["order"].(string), "(marked bad)") ||
						!strings.HasPrefix(order[0]["order"].(string), "http://"+liveAddr) {
						t.Errorf("dial %d tried the list in the order %v, want the live proxy first and the marked one last", round, order)
					}
				}
				log.reset()
			}
		})
	}
}

// TestProxyListAnswerEndsTheDial puts a proxy that answers first and a live
// one second: whatever the answer, the dial ends with it, the live proxy
// never hears of the dial, and the proxy that answered is not marked.
func TestProxyListAnswerEndsTheDial(t *testing.T) {
	target := newListTarget(t)
	reply := func(s string) func(*testing.T) string {
		return func(t *testing.T) string {
			return "http://" + rawProxy(t, func(c net.Conn, _ string) { io.WriteString(c, s) })
		}
	}
	status := func(code int) func(*testing.T, error) {
		return func(t *testing.T, err error) {
			var pe *ProxyError
			if !errors.As(err, &pe) || pe.StatusCode != code || pe.Response == nil {
				t.Errorf("error %v, want a *ProxyError with status %d and its response", err, code)
			}
			if got := errors.Is(err, ErrProxyAuthRequired); got != (code == http.StatusProxyAuthRequired) {
				t.Errorf("errors.Is(err, ErrProxyAuthRequired) = %v for %d", got, code)
			}
		}
	}
	is := func(want error) func(*testing.T, error) {
		return func(t *testing.T, err error) {
			if !errors.Is(err, want) {
				t.Errorf("error %v does not match %v", err, want)
			}
		}
	}
	socks := func(p *socksProxy) func(*testing.T) string {
		return func(t *testing.T) string {
			p.hosts = target.hosts
			return p.start(t)
		}
	}
	// greeted answers a SOCKS5 greeting with "no authentication", then runs then.
	greeted := func(then func(net.Conn)) func(*testing.T) string {
		return func(t *testing.T) string {
			return "socks5h://" + serveRaw(t, "tcp", func(c net.Conn) {
				if _, err := io.ReadFull(c, make([]byte, 3)); err == nil {
					c.Write([]byte{5, 0})
					then(c)
				}
			})
		}
	}

	for _, tc := range []struct {
		name  string
		first func(*testing.T) string
		opts  []Option
		check func(*testing.T, error)
	}{
		{name: "403 Forbidden", first: reply("HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nno way"), check: status(403)},
		{name: "407 Proxy Authentication Required", first: reply("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nConnection: close\r\n\r\n"), check: status(407)},
		{name: "502 Bad Gateway", first: reply("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"), check: status(502)},
		{name: "HTTP/1.0 404 and close", first: reply("HTTP/1.0 404 Not Found\r\n\r\n"), check: status(404)},
		{name: "a reply that is not HTTP", first: reply("SSH-2.0-OpenSSH_9.2\r\n\r\n"), check: is(errMalformedStatus)},
		{name: "a reply cut short", first: reply("HTTP/1.1 200 Connec"), check: is(io.ErrUnexpectedEOF)},
		{
			name: "a reply begun, then silence until the share is up",
			first: func(t *testing.T) string {
				return "http://" + rawProxy(t, func(c net.Conn, _ string) { io.WriteString(c, "HTTP/1.1 2"); stall(c) })
			},
			check: is(context.DeadlineExceeded),
		},
		{
			// Each kept connection dies before a reply to the credentials,
			// so the exchange goes on over new ones (challenge.Close) until
			// its bound, and ends in the proxy's 407, never in failover.
			name: "407 kept alive, then closed without a reply to the credentials",
			first: func(t *testing.T) string {
				return "http://" + rawProxy(t, func(c net.Conn, _ string) {
					io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n")
					readRequestHead(c)
				})
			},
			opts:  []Option{WithProxyAuthenticator(retryAuth{})},
			check: status(http.StatusProxyAuthRequired),
		},
		{name: "SOCKS refusal: not allowed by ruleset", first: func(t *testing.T) string { return "socks5h://" + socks(&socksProxy{reply: 2})(t) }, check: is(ErrProxy)},
		{name: "SOCKS refusal: host unreachable", first: func(t *testing.T) string { return "socks5h://" + socks(&socksProxy{reply: 4})(t) }, check: is(ErrProxy)},
		{
			name: "SOCKS refusal: no acceptable authentication method",
			first: func(t *testing.T) string {
				return "socks5h://" + socks(&socksProxy{user: "alice", pass: testPassword})(t)
			},
			check: is(ErrProxy),
		},
		{
			name: "SOCKS refusal: wrong password",
			first: func(t *testing.T) string {
				return "socks5h://alice:wrong@" + socks(&socksProxy{user: "alice", pass: testPassword})(t)
			},
			check: is(ErrProxy),
		},
		{name: "SOCKS greeting answered, then closed", first: greeted(func(net.Conn) {}), check: is(io.EOF)},
		{name: "SOCKS greeting answered, then silence until the share is up", first: greeted(stall), check: is(context.DeadlineExceeded)},
		{
			name:  "the authenticator fails before any traffic",
			first: reply("HTTP/1.1 200 OK\r\n\r\n"),
			opts:  []Option{WithProxyAuthenticator(failingAuth{})},
			check: is(errAuthBroken),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			live := &connectProxy{hosts: target.hosts}
			liveAddr := live.start(t)
			var log logRecords
			d := mustNew(t, append([]Option{
				WithProxyList(staticList(t, tc.first(t), "http://"+liveAddr)),
				WithNetDialer(nxResolver(t)),
				WithHandshakeTimeout(listTimeout),
				WithLogger(slog.New(&log)),
			}, tc.opts...)...)
			c, err := d.DialWebSocket(context.Background(), target.url)
			if err == nil {
				c.Close()
				t.Fatal("the dial succeeded")
			}
			checkClass(t, err, ErrProxy)
			var le *listError
			if errors.As(err, &le) {
				t.Errorf("one attempt ended the dial, yet the error is a list of attempts: %v", err)
			}
			tc.check(t, err)
			if n := len(live.seen()); n != 0 {
				t.Errorf("the live proxy saw %d requests; the dial must not fail over", n)
			}
			if n := len(d.list.bad); n != 0 {
				t.Errorf("%d proxies are marked bad; one that answered must not be", n)
			}
			if stops := log.find("wsdial: proxy list: stop"); len(stops) != 1 {
				t.Errorf("the log has %d stop records, want 1", len(stops))
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

var errAuthBroken = errors.New("no credentials cache")

// failingAuth is an authenticator that fails at once, before any request.
type failingAuth struct{}

func (failingAuth) Start(context.Context, *url.URL) (ProxyAuthSession, error) {
	return nil, errAuthBroken
}

// retryAuth answers every challenge with new credentials, so that a 407
// kept alive is followed by a second request on the same connection.
type retryAuth struct{}

func (retryAuth) Start(context.Context, *url.URL) (ProxyAuthSession, error) { return retryAuth{}, nil }

func (retryAuth) Next(_ context.Context, challenge *http.Response) (string, error) {
	if challenge == nil {
		return "", nil
	}
	return "Basic dXNlcjpwYXNz", nil
}

// TestProxyListAllFail runs lists in which no entry gets through, and
// checks that the error says what each attempt got, and that errors.Is and
// errors.As see the last attempt's error alone: its class and its cause,
// never an earlier entry's.
func TestProxyListAllFail(t *testing.T) {
	target := newListTarget(t)
	refused := "http://alice:" + testPassword + "@" + refusedAddr(t)
	closed := "http://" + rawProxy(t, func(net.Conn, string) {})
	forbidden := "http://" + rawProxy(t, func(c net.Conn, _ string) {
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
	})
	dnsErr := func(err error) bool {
		var de *net.DNSError
		return errors.As(err, &de)
	}
	isRefused := func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }
	isNoResponse := func(err error) bool { return errors.Is(err, errNoResponse) }
	for _, tc := range []struct {
		name    string
		list    []string
		class   error
		cause   func(error) bool   // the last attempt's, which errors.Is finds
		earlier []func(error) bool // the earlier attempts', which it must not
		says    []string           // in this order
		status  int                // of the *ProxyError that errors.As finds; 0: none found
	}{
		{
			name:    "proxy, proxy, then DIRECT",
			list:    []string{refused, closed, "DIRECT"},
			class:   ErrDial,
			cause:   dnsErr,
			earlier: []func(error) bool{isRefused, isNoResponse},
			says:    []string{"proxy http://alice:xxxxx@", "dial tcp", "connection refused", "; then proxy " + closed, "no response", "; then DIRECT: dial tcp"},
		},
		{
			name:    "DIRECT, then a proxy",
			list:    []string{"DIRECT", refused},
			class:   ErrProxy,
			cause:   isRefused,
			earlier: []func(error) bool{dnsErr},
			says:    []string{"wsdial: proxy list: DIRECT: dial tcp", "; then proxy http://alice:xxxxx@"},
			status:  -1, // a *ProxyError with no HTTP status
		},
		{
			name:    "a proxy that could not be used, then one that answered",
			list:    []string{refused, forbidden, "DIRECT"},
			class:   ErrProxy,
			cause:   func(err error) bool { return !errors.Is(err, ErrProxyAuthRequired) },
			earlier: []func(error) bool{isRefused},
			says:    []string{"connection refused", "; then proxy " + forbidden + ": connect: 403 Forbidden"},
			status:  403,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := mustNew(t, WithProxyList(staticList(t, tc.list...)), WithNetDialer(nxResolver(t)), WithHandshakeTimeout(listTimeout))
			_, err := d.DialWebSocket(context.Background(), target.url)
			checkClass(t, err, tc.class)
			if !tc.cause(err) {
				t.Errorf("errors.Is/As does not find the last attempt's cause in %v", err)
			}
			for i, cause := range tc.earlier {
				if cause(err) {
					t.Errorf("errors.Is/As finds the cause of attempt %d, which the dial moved past, in %v", i+1, err)
				}
			}
			text, at := err.Error(), 0
			for _, s := range tc.says {
				i := strings.Index(text[at:], s)
				if i < 0 {
					t.Errorf("the error does not say %q where expected:\n%s", s, text)
					break
				}
				at += i + len(s)
			}
			if strings.Contains(text, testPassword) {
				t.Errorf("the error shows the password: %s", text)
			}
			var pe *ProxyError
			switch found := errors.As(err, &pe); {
			case tc.status == 0 && found:
				t.Errorf("errors.As finds a *ProxyError (%v) though the last attempt was DIRECT", pe)
			case tc.status != 0 && !found:
				t.Errorf("errors.As finds no *ProxyError in %v", err)
			case tc.status > 0 && pe.StatusCode != tc.status:
				t.Errorf("errors.As finds a *ProxyError with status %d, want %d: the last attempt's", pe.StatusCode, tc.status)
			}
		})
	}
}

// fakeClock is a clock for the marks that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// switchProxy is a CONNECT proxy that can be turned off: while dead, it
// closes every connection on accept. It counts the connections.
type switchProxy struct {
	connectProxy
	dead  atomic.Bool
	conns atomic.Int32
}

func (p *switchProxy) start(t *testing.T) string {
	return "http://" + serveRaw(t, "tcp", func(c net.Conn) {
		p.conns.Add(1)
		if !p.dead.Load() {
			p.connectProxy.handle(c)
		}
	})
}

// TestProxyListMarks follows a bad proxy through its mark: tried after the
// others for 5 minutes, then first again; tried last, rather than never,
// when the others fail; and cleared once a dial gets through it.
func TestProxyListMarks(t *testing.T) {
	target := newListTarget(t)
	a := &switchProxy{connectProxy: connectProxy{hosts: target.hosts}}
	b := &switchProxy{connectProxy: connectProxy{hosts: target.hosts}}
	aURL, bURL := a.start(t), b.start(t)
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	d := mustNew(t, WithProxyList(staticList(t, aURL, bURL)), WithNetDialer(nxResolver(t)))
	d.list.now = clock.Now

	step := func(name string, wantA, wantB int32, via string) {
		t.Helper()
		a.conns.Store(0)
		b.conns.Store(0)
		c, err := d.DialWebSocket(context.Background(), target.url)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		remote := "http://" + c.NetConn().RemoteAddr().String()
		c.Close()
		if a.conns.Load() != wantA || b.conns.Load() != wantB || remote != via {
			t.Errorf("%s: A saw %d connections and B %d, the dial went via %s; want %d, %d and %s",
				name, a.conns.Load(), b.conns.Load(), remote, wantA, wantB, via)
		}
	}
	a.dead.Store(true)
	step("A dead", 1, 1, bURL)
	step("A marked: B first", 0, 1, bURL)
	clock.advance(5*time.Minute - time.Second)
	step("A marked for one more second", 0, 1, bURL)
	clock.advance(time.Second)
	step("A's mark over: A first again, and marked again", 1, 1, bURL)
	a.dead.Store(false)
	b.dead.Store(true)
	step("B dead, A marked: A last, not out", 1, 1, aURL)
	if _, ok := d.list.bad[keyOf(mustTarget(t, aURL))]; ok {
		t.Error("A is still marked after a dial got through it")
	}
	step("B marked, A cleared: A first", 1, 0, aURL)

	// The marks are the Dialer's: another Dialer with the same list has
	// none, and tries B, dead and marked in d, first.
	other := mustNew(t, WithProxyList(staticList(t, bURL, aURL)), WithNetDialer(nxResolver(t)))
	b.conns.Store(0)
	if c, err := other.DialWebSocket(context.Background(), target.url); err == nil {
		c.Close()
	}
	if n := b.conns.Load(); n != 1 {
		t.Errorf("another Dialer connected to B %d times, want 1: marks must not leak between Dialers", n)
	}
}

func mustTarget(t *testing.T, raw string) *proxyTarget {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	px, err := checkProxy(u)
	if err != nil {
		t.Fatal(err)
	}
	return px
}

// TestProxyRetryDelay sets the mark's length, and turns marks off.
func TestProxyRetryDelay(t *testing.T) {
	target := newListTarget(t)
	a := &switchProxy{connectProxy: connectProxy{hosts: target.hosts}}
	b := &switchProxy{connectProxy: connectProxy{hosts: target.hosts}}
	aURL, bURL := a.start(t), b.start(t)
	a.dead.Store(true)
	for _, tc := range []struct {
		name  string
		delay time.Duration
		after time.Duration // the clock moves on so far between dials
		want  []int32       // A's connections on each of three dials
	}{
		{"one minute, dials 59 s apart", time.Minute, 59 * time.Second, []int32{1, 0, 1}},
		{"one minute, dials 30 s apart", time.Minute, 30 * time.Second, []int32{1, 0, 1}},
		{"off", 0, 0, []int32{1, 1, 1}},
		{"off, below zero", -time.Second, 0, []int32{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1e9, 0)}
			d := mustNew(t, WithProxyList(staticList(t, aURL, bURL)), WithProxyRetryDelay(tc.delay), WithNetDialer(nxResolver(t)))
			d.list.now = clock.Now
			for i, want := range tc.want {
				a.conns.Store(0)
				c, err := d.DialWebSocket(context.Background(), target.url)
				if err != nil {
					t.Fatalf("dial %d: %v", i+1, err)
				}
				c.Close()
				if got := a.conns.Load(); got != want {
					t.Errorf("dial %d: the dead proxy saw %d connections, want %d", i+1, got, want)
				}
				clock.advance(tc.after)
			}
			if tc.delay <= 0 && len(d.list.bad) != 0 {
				t.Errorf("%d marks with marking off", len(d.list.bad))
			}
		})
	}
}

func TestAttemptShare(t *testing.T) {
	for _, tc := range []struct {
		remaining time.Duration
		left      int
		want      time.Duration
	}{
		{30 * time.Second, 1, 30 * time.Second},
		{30 * time.Second, 2, 15 * time.Second},
		{30 * time.Second, 3, 10 * time.Second},
		{30 * time.Second, 32, 2 * time.Second},
		{5 * time.Second, 2, 2500 * time.Millisecond},
		{8 * time.Second, 3, 2666666666 * time.Nanosecond},
		{6 * time.Second, 4, 2 * time.Second},
		{4 * time.Second, 2, 2 * time.Second},
		{3 * time.Second, 2, 1500 * time.Millisecond},
		{3 * time.Second, 3, 1500 * time.Millisecond},
		{2 * time.Second, 3, time.Second},
		{time.Second, 4, 500 * time.Millisecond},
		{0, 2, 0},
	} {
		if got := attemptShare(tc.remaining, tc.left); got != tc.want {
			t.Errorf("attemptShare(%v, %d) = %v, want %v", tc.remaining, tc.left, got, tc.want)
		}
	}
}

// TestProxyListShares dials through blackholed proxies ahead of a live one,
// under bounds that would let the first take all the time if it could: each
// attempt gets its share, and the live proxy is still reached in time.
func TestProxyListShares(t *testing.T) {
	target := newListTarget(t)
	live := "http://" + (&connectProxy{hosts: target.hosts}).start(t)
	// exactly and half are what an attempt's logged share must be: a
	// duration, or at most half of the bound, which is what two entries
	// left split evenly, the bound less the time spent before them.
	exactly := func(want string) func(string) bool { return func(got string) bool { return got == want } }
	half := func(bound time.Duration) func(string) bool {
		return func(got string) bool {
			d, err := time.ParseDuration(got)
			return err == nil && d > 0 && d <= bound/2
		}
	}
	for _, tc := range []struct {
		name   string
		dead   int // blackholed entries ahead of the live one
		bound  func(ctx context.Context) (context.Context, context.CancelFunc, []Option)
		shares []func(string) bool // one per attempt, as logged
	}{
		{
			name: "WithHandshakeTimeout, one dead entry",
			dead: 1,
			bound: func(ctx context.Context) (context.Context, context.CancelFunc, []Option) {
				return ctx, func() {}, []Option{WithHandshakeTimeout(4 * time.Second)}
			},
			shares: []func(string) bool{half(4 * time.Second), exactly("the rest of the dial")},
		},
		{
			name: "the context's deadline, two dead entries",
			dead: 2,
			bound: func(ctx context.Context) (context.Context, context.CancelFunc, []Option) {
				ctx, cancel := context.WithTimeout(ctx, 6*time.Second)
				return ctx, cancel, []Option{WithHandshakeTimeout(0)}
			},
			// The first's even share, under 2 s, is raised to 2 s, which
			// leaves the rest more; the second splits what is left.
			shares: []func(string) bool{exactly("2s"), half(4 * time.Second), exactly("the rest of the dial")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var list []string
			for range tc.dead {
				list = append(list, "http://"+fullBacklog(t))
			}
			var log logRecords
			ctx, cancel, opts := tc.bound(context.Background())
			defer cancel()
			d := mustNew(t, append(opts, WithProxyList(staticList(t, append(list, live)...)), WithLogger(slog.New(&log)))...)
			c, err := d.DialWebSocket(ctx, target.url)
			if err != nil {
				t.Fatalf("the dial failed: %v", err)
			}
			c.Close()
			var got []string
			for _, rec := range log.find("wsdial: proxy") {
				got = append(got, rec["share"].(string))
			}
			if len(got) != len(tc.shares) {
				t.Fatalf("the attempts had the shares %q, want %d of them", got, len(tc.shares))
			}
			for i, ok := range tc.shares {
				if !ok(got[i]) {
					t.Errorf("attempt %d had the share %q, which is not what it should be; all: %q", i+1, got[i], got)
				}
			}
			for _, next := range log.find("wsdial: proxy list: next entry") {
				if err, _ := next["err"].(error); !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("a blackholed entry failed with %v, want its share's deadline", err)
				}
			}
		})
	}
}

// TestProxyListShortBound dials through a blackholed proxy ahead of a live
// one under bounds of 2 s and less, the least share an attempt is given
// when there is time for it: the blackhole still gets only its part of the
// bound, half with two entries, and the live proxy the rest, so that a dead
// first proxy cannot eat the whole of a short bound either.
func TestProxyListShortBound(t *testing.T) {
	target := newListTarget(t)
	live := "http://" + (&connectProxy{hosts: target.hosts}).start(t)
	for _, tc := range []struct {
		name  string
		bound func(ctx context.Context) (context.Context, context.CancelFunc, []Option)
	}{
		{"WithHandshakeTimeout of 2 s", func(ctx context.Context) (context.Context, context.CancelFunc, []Option) {
			return ctx, func() {}, []Option{WithHandshakeTimeout(2 * time.Second)}
		}},
		{"the context's deadline of 1.5 s", func(ctx context.Context) (context.Context, context.CancelFunc, []Option) {
			ctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
			return ctx, cancel, []Option{WithHandshakeTimeout(0)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var log logRecords
			ctx, cancel, opts := tc.bound(context.Background())
			defer cancel()
			d := mustNew(t, append(opts, WithProxyList(staticList(t, "http://"+fullBacklog(t), live)), WithLogger(slog.New(&log)))...)
			c, err := d.DialWebSocket(ctx, target.url)
			if err != nil {
				t.Fatalf("the dial failed: %v", err)
			}
			c.Close()
			if next := log.find("wsdial: proxy list: next entry"); len(next) != 1 {
				t.Errorf("the dial moved on %d times, want once, past the blackhole", len(next))
			}
		})
	}
}

// TestProxyListContext cancels a dial while its first entry hangs in the
// connect: the dial ends at once with context.Canceled, no other entry is
// tried, and the entry is not marked, since the caller gave up, not the
// proxy. A dial whose bound runs out in its last attempt does not mark it
// either.
func TestProxyListContext(t *testing.T) {
	target := newListTarget(t)
	live := &connectProxy{hosts: target.hosts}
	liveURL := "http://" + live.start(t)
	t.Run("cancelled", func(t *testing.T) {
		blackhole := fullBacklog(t)
		d := mustNew(t, WithProxyList(staticList(t, "http://"+blackhole, liveURL)))
		base := runtime.NumGoroutine()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			ConnectStart: func(_, addr string) {
				if addr == blackhole {
					// Shortly after the connect began to hang; if the
					// cancel lands first, the dial must end the same way.
					stop := time.AfterFunc(100*time.Millisecond, cancel)
					t.Cleanup(func() { stop.Stop() })
				}
			},
		})
		_, err := d.DialWebSocket(ctx, target.url)
		checkClass(t, err, ErrProxy)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
		if n := len(live.seen()); n != 0 {
			t.Errorf("the live proxy saw %d requests after the cancel", n)
		}
		if n := len(d.list.bad); n != 0 {
			t.Errorf("%d proxies marked after the caller cancelled", n)
		}
		settleGoroutines(t, base)
	})
	t.Run("bound runs out in the last attempt", func(t *testing.T) {
		refused := "http://" + refusedAddr(t)
		silent := "http://" + rawProxy(t, func(c net.Conn, _ string) { stall(c) })
		d := mustNew(t, WithProxyList(staticList(t, refused, silent)), WithHandshakeTimeout(time.Second))
		_, err := d.DialWebSocket(context.Background(), target.url)
		checkClass(t, err, ErrProxy)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused; then proxy "+silent) {
			t.Errorf("error %v, want the deadline, and the refusal before it in the text", err)
		}
		if _, ok := d.list.bad[keyOf(mustTarget(t, refused))]; !ok || len(d.list.bad) != 1 {
			t.Errorf("marks %v, want the refused proxy's alone", d.list.bad)
		}
	})
}

// TestProxyListEntries covers what f may return: an error, nothing, entries
// that are not proxy URLs, repeats, and more entries than are tried.
func TestProxyListEntries(t *testing.T) {
	target := newListTarget(t)
	live := &connectProxy{hosts: target.hosts}
	liveURL := "http://" + live.start(t)
	origin := target.hosts[strings.TrimSuffix(strings.TrimPrefix(target.url, "ws://"), "/")]

	t.Run("f fails", func(t *testing.T) {
		broken := errors.New("PAC script threw")
		d := mustNew(t, WithProxyList(func(context.Context, *url.URL) ([]*url.URL, error) { return nil, broken }))
		_, err := d.DialWebSocket(context.Background(), target.url)
		checkClass(t, err, ErrProxy)
		checkResolveError(t, err, "PAC script threw")
		if !errors.Is(err, broken) {
			t.Errorf("error %v does not match f's error", err)
		}
	})
	t.Run("f is given the target and the dial's context", func(t *testing.T) {
		type key struct{}
		var got []string
		d := mustNew(t, WithProxyList(func(ctx context.Context, u *url.URL) ([]*url.URL, error) {
			_, bounded := ctx.Deadline()
			got = append(got, fmt.Sprintf("%s %v %v", u, ctx.Value(key{}), bounded))
			return nil, nil
		}))
		ctx := context.WithValue(context.Background(), key{}, "v")
		for _, u := range []string{"ws://" + origin + "/a?b", "wss://" + origin + "/"} {
			if c, err := d.DialWebSocket(ctx, u); err == nil {
				c.Close()
			}
		}
		want := []string{"http://" + origin + " v true", "https://" + origin + " v true"}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("f was given %q, want %q", got, want)
		}
	})
	t.Run("an empty list is DIRECT", func(t *testing.T) {
		d := mustNew(t, WithProxyList(func(context.Context, *url.URL) ([]*url.URL, error) { return []*url.URL{}, nil }))
		c, err := d.DialContext(context.Background(), "tcp", origin)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := c.RemoteAddr().String(); got != origin {
			t.Errorf("the stream runs to %s, want %s directly", got, origin)
		}
	})
	t.Run("entries that are not proxy URLs are skipped", func(t *testing.T) {
		var log logRecords
		d := mustNew(t, WithProxyList(staticList(t, "ftp://alice:"+testPassword+"@proxy.example", "http://", liveURL)), WithLogger(slog.New(&log)))
		c, err := d.DialWebSocket(context.Background(), target.url)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		skipped := log.find("wsdial: proxy list: entry skipped")
		if len(skipped) != 2 {
			t.Fatalf("%d entries logged as skipped, want 2", len(skipped))
		}
		for _, s := range skipped {
			if err, _ := s["err"].(error); !errors.Is(err, ErrProxy) || strings.Contains(err.Error(), testPassword) {
				t.Errorf("a skipped entry is logged with %v, want a resolve *ProxyError without the password", err)
			}
		}
		d = mustNew(t, WithProxyList(staticList(t, "ftp://proxy.example")))
		_, err = d.DialWebSocket(context.Background(), target.url)
		checkClass(t, err, ErrProxy)
		checkResolveError(t, err, `scheme "ftp" is not supported`)
	})
	t.Run("repeats are dropped", func(t *testing.T) {
		refused := refusedAddr(t)
		var log logRecords
		d := mustNew(t, WithProxyList(staticList(t, "http://"+refused, "HTTP://"+strings.ToUpper(refused), "DIRECT", "DIRECT", liveURL)),
			WithNetDialer(nxResolver(t)), WithLogger(slog.New(&log)))
		c, err := d.DialWebSocket(context.Background(), target.url)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := log.find("wsdial: proxy list")[0]["order"]; got != "http://"+refused+", DIRECT, "+liveURL {
			t.Errorf("the order tried is %q, want each entry once", got)
		}
		// socks5:// and socks5h:// to one proxy are two routes: who
		// resolves the target differs.
		log.reset()
		d = mustNew(t, WithProxyList(staticList(t, "socks5://"+refused, "socks5h://"+refused, liveURL)),
			WithNetDialer(nxResolver(t)), WithLogger(slog.New(&log)))
		c, err = d.DialWebSocket(context.Background(), target.url)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := log.find("wsdial: proxy list")[0]["order"]; got != "socks5://"+refused+", socks5h://"+refused+", "+liveURL {
			t.Errorf("the order tried is %q, want both SOCKS routes", got)
		}
		// socks5:// failed to resolve the target here, before it reached
		// the proxy, which is not marked for it; socks5h:// was refused.
		_, local := d.list.bad[proxyKey{"socks5", refused}]
		_, remote := d.list.bad[proxyKey{"socks5h", refused}]
		if local || !remote {
			t.Errorf("marked: socks5 %v, socks5h %v; want socks5h alone", local, remote)
		}
	})
	t.Run("at most 32 entries are tried", func(t *testing.T) {
		var list []string
		for range maxListEntries + 8 {
			list = append(list, "http://"+refusedAddr(t))
		}
		var log logRecords
		d := mustNew(t, WithProxyList(staticList(t, list...)), WithLogger(slog.New(&log)), WithProxyRetryDelay(0))
		_, err := d.DialWebSocket(context.Background(), target.url)
		checkClass(t, err, ErrProxy)
		if n := strings.Count(err.Error(), "connection refused"); n != maxListEntries {
			t.Errorf("the error tells of %d attempts, want %d", n, maxListEntries)
		}
		if got := log.find("wsdial: proxy list")[0]["dropped"]; got != "8 entries past the first 32" {
			t.Errorf("the log says %v of the entries dropped", got)
		}
	})
	t.Run("a nil function is refused by New", func(t *testing.T) {
		_, err := New(WithProxyList(nil))
		checkClass(t, err, ErrInvalid)
	})
}

// TestProxyListMarksBounded marks far more proxies than a Dialer keeps.
func TestProxyListMarksBounded(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	l := newProxyList(nil, time.Minute)
	l.now = clock.Now
	for i := range 3 * maxBadProxies {
		l.mark(proxyKey{"http", fmt.Sprintf("proxy-%d:8080", i)})
		clock.advance(time.Millisecond)
	}
	if n := len(l.bad); n > maxBadProxies {
		t.Errorf("%d marks kept, want at most %d", n, maxBadProxies)
	}
	if _, ok := l.bad[proxyKey{"http", fmt.Sprintf("proxy-%d:8080", 3*maxBadProxies-1)}]; !ok {
		t.Error("the newest mark was dropped")
	}
	clock.advance(time.Minute)
	l.mark(proxyKey{"http", "fresh:8080"})
	if n := len(l.bad); n != 1 {
		t.Errorf("%d marks kept after all but one ended, want 1", n)
	}
}

// TestProxyListSOCKSStream checks that the watch on a SOCKS proxy's first
// byte is gone from the stream the dial returns.
func TestProxyListSOCKSStream(t *testing.T) {
	target := newListTarget(t)
	origin := target.hosts[strings.TrimSuffix(strings.TrimPrefix(target.url, "ws://"), "/")]
	socks := &socksProxy{hosts: target.hosts}
	d := mustNew(t, WithProxyList(staticList(t, "socks5h://"+socks.start(t))))
	c, err := d.DialContext(context.Background(), "tcp", origin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*net.TCPConn); !ok {
		t.Errorf("the stream is a %T, want the *net.TCPConn itself", c)
	}
}

// TestProxyListTrace checks what the log and the httptrace hooks show of a
// failover: the list in order, each attempt and why the dial moved on, and
// the connect of each attempt; never the password.
func TestProxyListTrace(t *testing.T) {
	target := newListTarget(t)
	liveAddr := (&connectProxy{hosts: target.hosts}).start(t)
	refused := refusedAddr(t)
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := mustNew(t, WithProxyList(staticList(t, "http://alice:"+testPassword+"@"+refused, "DIRECT", "http://"+liveAddr)),
		WithNetDialer(nxResolver(t)), WithLogger(logger))
	var mu sync.Mutex
	var connects []string
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		ConnectStart: func(_, addr string) {
			mu.Lock()
			connects = append(connects, "start "+addr)
			mu.Unlock()
		},
		ConnectDone: func(_, addr string, err error) {
			mu.Lock()
			connects = append(connects, fmt.Sprintf("done %s %v", addr, err != nil))
			mu.Unlock()
		},
	})
	c, err := d.DialWebSocket(ctx, target.url)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	log := buf.String()
	for _, want := range []string{
		`msg="wsdial: proxy list" target=ws.wsdial-test.invalid:`,
		`order="http://alice:xxxxx@` + refused + `, DIRECT, http://` + liveAddr + `"`,
		`msg="wsdial: proxy" proxy=http://alice:xxxxx@` + refused,
		`why="WithProxyList, entry 1 of 3" share=`,
		`msg="wsdial: proxy list: next entry" entry=http://alice:xxxxx@` + refused + ` why="the proxy could not be reached"`,
		"connection refused",
		"marked_bad_for=5m0s",
		`msg="wsdial: direct" target=ws.wsdial-test.invalid:`,
		`why="WithProxyList, entry 2 of 3"`,
		`msg="wsdial: proxy list: next entry" entry=DIRECT why="the target could not be reached directly (DIRECT is never marked)"`,
		`msg="wsdial: proxy" proxy=http://` + liveAddr,
		`why="WithProxyList, entry 3 of 3" share="the rest of the dial"`,
		`reply="HTTP/1.1 200 Connection established"`,
		"upgraded",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, testPassword) {
		t.Errorf("log shows the password:\n%s", log)
	}
	want := []string{"start " + refused, "done " + refused + " true", "start " + liveAddr, "done " + liveAddr + " false"}
	if strings.Join(connects, "|") != strings.Join(want, "|") {
		t.Errorf("httptrace saw %q, want %q", connects, want)
	}
}

// TestProxyListConcurrent dials through one Dialer from many goroutines at
// once, while marks are made, expire and are cleared.
func TestProxyListConcurrent(t *testing.T) {
	target := newListTarget(t)
	live := "http://" + (&connectProxy{hosts: target.hosts}).start(t)
	refused := "http://" + refusedAddr(t)
	var calls atomic.Int32
	lists := [][]*url.URL{mustURLs(t, refused, live), mustURLs(t, live, refused)}
	d := mustNew(t, WithProxyRetryDelay(time.Millisecond), WithProxyList(func(context.Context, *url.URL) ([]*url.URL, error) {
		return lists[calls.Add(1)%2], nil
	}))
	dialAtOnce(t, d, target.url, 8, 8)
}

func mustURLs(t *testing.T, raws ...string) []*url.URL {
	var out []*url.URL
	for _, raw := range raws {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

// TestProxyListAllocations holds a dial through a list of one live proxy,
// and through a list whose dead first proxy is marked, close to a dial
// through WithProxy: the list costs a few allocations, not a new dial's worth.
func TestProxyListAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts; .ci/run runs this test without it")
	}
	target, _ := serve(t, nil, func(c net.Conn) { io.Copy(io.Discard, c) })
	proxy := "http://" + (&connectProxy{}).start(t)
	dead := "http://" + refusedAddr(t)
	allocs := func(d *Dialer) float64 {
		return testing.AllocsPerRun(50, func() {
			c, err := d.DialContext(context.Background(), "tcp", target)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		})
	}
	fixed := allocs(mustNew(t, WithProxy(proxy)))
	one := allocs(mustNew(t, WithProxyList(staticList(t, proxy))))
	marked := mustNew(t, WithProxyList(staticList(t, dead, proxy)))
	if c, err := marked.DialContext(context.Background(), "tcp", target); err == nil {
		c.Close() // marks the dead proxy
	}
	behind := allocs(marked)
	t.Logf("allocations per dial: WithProxy %v, a list of one %v, behind a marked dead proxy %v", fixed, one, behind)
	// A list of one costs the entry that WithProxy checks once in New (the
	// proxyTarget, its address and redacted URL), the target URL that f is
	// given and the attempt's record: 5, measured. Behind a marked entry,
	// the dial also checks that entry and gives the live one its share of
	// the time, a deadline context: 11 more. Two more each are allowed for
	// the test servers, which share the count.
	const oneCost, behindCost = 5 + 2, 5 + 11 + 2
	if one > fixed+oneCost || behind > fixed+behindCost {
		t.Errorf("allocations per dial: WithProxy %v, a list of one %v, behind a marked dead proxy %v; want at most %d and %d more",
			fixed, one, behind, oneCost, behindCost)
	}
}

// BenchmarkDialProxyList sets a dial through WithProxyList with a dead first
// proxy (connect refused) beside a dial straight to the live one: with the
// dead proxy marked, as a Dialer keeps it, and with marks off, so that every
// dial tries it first.
func BenchmarkDialProxyList(b *testing.B) {
	target, _ := serve(b, nil, func(c net.Conn) { io.Copy(io.Discard, c) })
	live := "http://" + (&connectProxy{}).start(b)
	dead := "http://" + refusedAddr(b)
	list := func(raws ...string) Option { return WithProxyList(staticList(b, raws...)) }
	for _, bc := range []struct {
		name string
		opts []Option
	}{
		{"WithProxy(live)", []Option{WithProxy(live)}},
		{"list(live)", []Option{list(live)}},
		{"list(dead,live)/dead-marked", []Option{list(dead, live)}},
		{"list(dead,live)/marks-off", []Option{list(dead, live), WithProxyRetryDelay(0)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := mustNew(b, bc.opts...)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c, err := d.DialContext(ctx, "tcp", target)
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// TestProxyListREADMESwitch runs the README's error switch on lists whose
// earlier entries failed in other ways than the last: the branch taken is
// the one of the error that ended the dial, not of an entry the dial moved
// past. A proxy that timed out within its share must not make a 407 behind
// it read as a timeout.
func TestProxyListREADMESwitch(t *testing.T) {
	target := newListTarget(t)
	silent := "http://" + rawProxy(t, func(c net.Conn, _ string) { stall(c) })
	refused := "http://" + refusedAddr(t)
	auth := "http://" + rawProxy(t, func(c net.Conn, _ string) {
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nConnection: close\r\n\r\n")
	})
	forbidden := "http://" + rawProxy(t, func(c net.Conn, _ string) {
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n")
	})
	for _, tc := range []struct {
		name string
		list []string
		want string
	}{
		{"a silent proxy, then a 407", []string{silent, auth}, "errors.Is(err, wsdial.ErrProxyAuthRequired)"},
		{"a silent proxy, then a 403", []string{silent, forbidden}, "errors.Is(err, wsdial.ErrProxy)"},
		{"a silent proxy, then DIRECT", []string{silent, "DIRECT"}, "errors.Is(err, wsdial.ErrDial)"},
		{"a refused proxy, then a silent one that the bound ends", []string{refused, silent}, "errors.Is(err, context.DeadlineExceeded)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := mustNew(t, WithProxyList(staticList(t, tc.list...)), WithNetDialer(nxResolver(t)), WithHandshakeTimeout(listTimeout))
			_, err := d.DialWebSocket(context.Background(), target.url)
			if got := branch(err); got != tc.want {
				t.Errorf("error %v takes the README's branch %q, want %q", err, got, tc.want)
			}
		})
	}
}
