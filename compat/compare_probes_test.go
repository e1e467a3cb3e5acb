package compat

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"
	"github.com/wsdial/wsdial"
)

// Each probe sets up its scenario's servers on loopback, drives one library
// through it, and returns what happened in the few words of a table cell.
// Anything other than the expected words fails the test, so a probe's words
// for an unexpected outcome say what went wrong instead.

// echoViaProxy: a WebSocket echo through a CONNECT proxy that demands Basic
// credentials and maps targetHost to a loopback echo server.
func echoViaProxy(secure, tlsProxy bool, echo dialFunc) func(t *testing.T) string {
	return func(t *testing.T) string {
		e := startEcho(t, secure)
		p := &connectProxy{auth: proxyBasic}
		var cfg *tls.Config
		proxyScheme := "http"
		if tlsProxy {
			cfg = &tls.Config{Certificates: []tls.Certificate{getCerts(t).proxy}}
			proxyScheme = "https"
		}
		addr := p.start(t, cfg)
		wsURL, authority := "ws://"+targetHost+"/echo", net.JoinHostPort(targetHost, "80")
		if secure {
			wsURL, authority = "wss://"+targetHost+"/echo", net.JoinHostPort(targetHost, "443")
		}
		p.route(authority, e.addr())
		err := safely(func() error {
			return echo(testContext(t), t, dialConfig{
				url:   wsURL,
				proxy: proxyScheme + "://" + proxyUser + ":" + proxyPassword + "@" + addr,
			})
		})
		return tunnelOutcome(err, p.seen(), authority, secure, e.serverNames())
	}
}

// tunnelOutcome puts into words how a dial through a proxy went.
func tunnelOutcome(err error, reqs []*http.Request, authority string, secure bool, sni []string) string {
	if len(reqs) == 1 && reqs[0].Method != http.MethodConnect {
		scheme, _, _ := strings.Cut(reqs[0].RequestURI, "://")
		return fmt.Sprintf("no CONNECT: sends `%s %s://…` to the proxy", reqs[0].Method, scheme)
	}
	if err != nil {
		return "fails: `" + err.Error() + "`"
	}
	if err := checkTunnel(reqs, authority); err != nil {
		return "unexpected: " + err.Error()
	}
	if secure && (len(sni) != 1 || sni[0] != targetHost) {
		return fmt.Sprintf("unexpected: TLS server names %q, want the target's", sni)
	}
	return "works"
}

// proxyHeaderSent: is an extra header on the CONNECT request? how names the
// library's way of adding it.
func proxyHeaderSent(how string, echo dialFunc) func(t *testing.T) string {
	return func(t *testing.T) string {
		e := startEcho(t, true)
		p := &connectProxy{auth: proxyBasic}
		addr := p.start(t, nil)
		authority := net.JoinHostPort(targetHost, "443")
		p.route(authority, e.addr())
		err := safely(func() error {
			return echo(testContext(t), t, dialConfig{
				url:         "wss://" + targetHost + "/echo",
				proxy:       "http://" + proxyUser + ":" + proxyPassword + "@" + addr,
				proxyHeader: http.Header{"X-Proxy-Token": {"t0ken"}},
			})
		})
		if err != nil {
			return "fails: `" + err.Error() + "`"
		}
		reqs := p.seen()
		if err := checkTunnel(reqs, authority); err != nil {
			return "unexpected: " + err.Error()
		}
		if got := reqs[0].Header.Get("X-Proxy-Token"); got != "t0ken" {
			return fmt.Sprintf("not sent (got %q)", got)
		}
		return "sent (" + how + ")"
	}
}

// The proxy's whole answer in the 407 scenario: a status line with no
// reason phrase, which RFC 9112 allows.
const bare407 = "HTTP/1.1 407\r\n\r\n"

// start407 starts a proxy that answers every request with bare407, and
// returns the dial configuration through it.
func start407(t *testing.T) dialConfig {
	p := &connectProxy{reply: bare407}
	return dialConfig{url: "wss://" + targetHost + "/", proxy: "http://" + p.start(t, nil)}
}

func wsdial407(t *testing.T) string {
	cfg := start407(t)
	_, err := wsdialDial(testContext(t), t, cfg)
	var pe *wsdial.ProxyError
	if !errors.As(err, &pe) || pe.StatusCode != 407 || !errors.Is(err, wsdial.ErrProxyAuthRequired) {
		return fmt.Sprintf("unexpected: %v", err)
	}
	return "error; 407 in `*ProxyError.StatusCode`, `errors.Is(err, ErrProxyAuthRequired)`"
}

func gorilla407(t *testing.T) string {
	cfg := start407(t)
	err := safely(func() error { return gorillaOnly(testContext(t), t, cfg) })
	var p *panicked
	if errors.As(err, &p) {
		if strings.Contains(fmt.Sprint(p.v), "index out of range") {
			return "panics (index out of range)"
		}
		return "panics: " + p.Error()
	}
	return fmt.Sprintf("unexpected: %v", err)
}

func coder407(t *testing.T) string {
	cfg := start407(t)
	tr := coderTransport(t, cfg)
	var hooked int
	tr.OnProxyConnectResponse = func(_ context.Context, _ *url.URL, _ *http.Request, resp *http.Response) error {
		hooked = resp.StatusCode
		return nil
	}
	_, resp, err := coderDial(testContext(t), tr, cfg.url)
	if err == nil || resp != nil || strings.Contains(err.Error(), "407") || !strings.Contains(err.Error(), "unknown status code") {
		return fmt.Sprintf("unexpected: response %v, error %v", resp, err)
	}
	if hooked != 407 {
		return fmt.Sprintf("unexpected: OnProxyConnectResponse saw %d", hooked)
	}
	return "error text only (`unknown status code`); 407 seen only by a `Transport.OnProxyConnectResponse` hook"
}

// The 403 scenario: the WebSocket server refuses the upgrade with a body.
const forbiddenBody = "no entry without a token"

func start403(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, forbiddenBody)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
}

// bodyOf reads a refusal's body, which every library keeps in memory.
func bodyOf(resp *http.Response) string {
	if resp == nil || resp.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func wsdial403(t *testing.T) string {
	_, err := wsdialDial(testContext(t), t, dialConfig{url: start403(t)})
	var he *wsdial.HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 403 || bodyOf(he.Response) != forbiddenBody {
		return fmt.Sprintf("unexpected: %v", err)
	}
	return "`*HandshakeError`: 403 in `StatusCode`, body in `Response`"
}

func gorilla403(t *testing.T) string {
	rawURL := start403(t)
	_, resp, err := gorillaDialer(t, dialConfig{}).DialContext(testContext(t), rawURL, nil)
	if err != websocket.ErrBadHandshake || resp == nil || resp.StatusCode != 403 || bodyOf(resp) != forbiddenBody {
		return fmt.Sprintf("unexpected: response %v, error %v", resp, err)
	}
	return "`ErrBadHandshake`; 403 and body in the returned `*http.Response`"
}

func coder403(t *testing.T) string {
	rawURL := start403(t)
	_, resp, err := coderDial(testContext(t), coderTransport(t, dialConfig{}), rawURL)
	if err == nil || resp == nil || resp.StatusCode != 403 || bodyOf(resp) != forbiddenBody {
		return fmt.Sprintf("unexpected: response %v, error %v", resp, err)
	}
	return "error text; 403 and body in the returned `*http.Response`"
}

func gobwas403(t *testing.T) string {
	rawURL := start403(t)
	d := gobwasDialer()
	var body string
	d.OnStatusError = func(status int, reason []byte, r io.Reader) {
		resp, err := http.ReadResponse(bufio.NewReader(r), nil)
		if err == nil {
			body = bodyOf(resp)
		}
	}
	conn, _, _, err := d.Dial(testContext(t), rawURL)
	if conn != nil {
		conn.Close()
	}
	var se ws.StatusError
	if !errors.As(err, &se) || se != 403 {
		return fmt.Sprintf("unexpected: %v", err)
	}
	if body != forbiddenBody {
		return fmt.Sprintf("unexpected: OnStatusError read body %q", body)
	}
	return "`ws.StatusError(403)`; body only through an `OnStatusError` hook"
}

// The cancel scenarios. The bound is generous: it tells a dial that
// returns from one that does not return at all.
const cancelBound = 2 * time.Second

// cancelViaProxy cancels a dial while a CONNECT proxy holds its request
// unanswered.
func cancelViaProxy(dial dialFunc) func(t *testing.T) string {
	return func(t *testing.T) string {
		p := &connectProxy{stall: true}
		addr := p.start(t, nil)
		cfg := dialConfig{url: "wss://" + targetHost + "/", proxy: "http://" + addr}
		return afterCancel(t, p.stalls, p.srv.closeConns, dial, cfg)
	}
}

// cancelAtServer cancels a dial while the WebSocket server holds its
// upgrade request unanswered. No proxy is involved.
func cancelAtServer(dial dialFunc) func(t *testing.T) string {
	return func(t *testing.T) string {
		stalls := make(chan struct{}, 1)
		srv := serveTCP(t, nil, func(c net.Conn) {
			if _, br, err := readHead(c); err == nil {
				stalls <- struct{}{}
				io.Copy(io.Discard, br) // until the client or the test closes c
			}
		})
		return afterCancel(t, stalls, srv.closeConns, dial, dialConfig{url: "ws://" + srv.addr() + "/"})
	}
}

// afterCancel dials, cancels once the server side reports that it holds
// the request, and says how the dial ended. A dial still running at the
// bound is ended by closing the server's side, so that no goroutine
// outlives the probe.
func afterCancel(t *testing.T, stalls <-chan struct{}, release func(), dial dialFunc, cfg dialConfig) string {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- safely(func() error { return dial(ctx, t, cfg) }) }()

	select {
	case <-stalls:
	case err := <-done:
		return fmt.Sprintf("unexpected: the dial ended before the stall: %v", err)
	case <-time.After(20 * time.Second):
		release()
		<-done
		return "unexpected: the request never reached the stalling server"
	}
	cancel()
	canceled := time.Now()
	select {
	case err := <-done:
		if errors.Is(err, context.Canceled) {
			return "returns; `errors.Is(err, context.Canceled)`"
		}
		return fmt.Sprintf("returns after %v, error not `context.Canceled`: %v", time.Since(canceled).Round(time.Millisecond), err)
	case <-time.After(cancelBound):
		release()
		<-done
		return "still blocked 2 s after the cancel"
	}
}

// The first-frame scenario: the server sends a text frame in the same
// write as its 101 response.
const firstMessage = "sent with the 101"

func startEager(t *testing.T) string {
	srv := serveTCP(t, nil, func(c net.Conn) {
		req, br, err := readHead(c)
		if err != nil {
			return
		}
		if _, err := c.Write(append([]byte(upgradeHead(req)), textFrame(firstMessage)...)); err != nil {
			return
		}
		io.Copy(io.Discard, br) // until the client or the test closes c
	})
	return "ws://" + srv.addr() + "/"
}

const firstSeen = "seen by the first read"

func wsdialFirst(t *testing.T) string {
	c, err := wsdialDial(testContext(t), t, dialConfig{url: startEager(t)})
	if err != nil {
		return fmt.Sprintf("unexpected: %v", err)
	}
	defer c.NetConn().Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, got, err := c.ReadMessage(); err != nil || string(got) != firstMessage {
		return fmt.Sprintf("not seen: %q, %v", got, err)
	}
	return firstSeen + " (`ReadMessage`)"
}

func gorillaFirst(t *testing.T) string {
	c, _, err := gorillaDialer(t, dialConfig{}).DialContext(testContext(t), startEager(t), nil)
	if err != nil {
		return fmt.Sprintf("unexpected: %v", err)
	}
	defer c.NetConn().Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, got, err := c.ReadMessage(); err != nil || string(got) != firstMessage {
		return fmt.Sprintf("not seen: %q, %v", got, err)
	}
	return firstSeen + " (`ReadMessage`)"
}

func coderFirst(t *testing.T) string {
	ctx := testContext(t)
	c, _, err := coderDial(ctx, coderTransport(t, dialConfig{}), startEager(t))
	if err != nil {
		return fmt.Sprintf("unexpected: %v", err)
	}
	defer c.CloseNow()
	if _, got, err := c.Read(ctx); err != nil || string(got) != firstMessage {
		return fmt.Sprintf("not seen: %q, %v", got, err)
	}
	return firstSeen + " (`Read`)"
}

func gobwasFirst(t *testing.T) string {
	conn, br, _, err := gobwasDialer().Dial(testContext(t), startEager(t))
	if err != nil {
		return fmt.Sprintf("unexpected: %v", err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if br == nil {
		// The frame came in a read of its own: this run cannot tell.
		return "unexpected: the frame did not arrive with the 101"
	}
	if got, err := gobwasRead(conn, br); err != nil || string(got) != firstMessage {
		return fmt.Sprintf("not seen: %q, %v", got, err)
	}
	return "in the returned `*bufio.Reader`, not on the conn: the caller must read it first"
}

// The concurrent-writes scenario: writers goroutines send perWriter
// messages each on one connection, with no lock of the caller's.
const (
	writers   = 8
	perWriter = 25
)

// concurrentMessage is message seq of writer w. Its sizes take every frame
// length encoding, and its bytes say who wrote it, so that a torn or
// interleaved frame shows.
func concurrentMessage(w, seq int) []byte {
	size := []int{1, 125, 126, 70000}[seq%4]
	head := fmt.Sprintf("%d:%d:", w, seq)
	return append([]byte(head), bytes.Repeat([]byte{byte('a' + w)}, size)...)
}

// startCounter serves one connection that reads writers×perWriter messages,
// checks each against concurrentMessage, and answers "ok" or what was wrong.
func startCounter(t *testing.T) string {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		c.SetReadLimit(1 << 20)
		next := make([]int, writers)
		verdict := "ok"
		for range writers * perWriter {
			_, msg, err := c.ReadMessage()
			if err != nil {
				verdict = "read: " + err.Error()
				break
			}
			var wr, seq int
			if _, err := fmt.Sscanf(string(msg), "%d:%d:", &wr, &seq); err != nil || wr < 0 || wr >= writers ||
				seq != next[wr] || !bytes.Equal(msg, concurrentMessage(wr, seq)) {
				verdict = fmt.Sprintf("corrupt message of %d bytes", len(msg))
				break
			}
			next[wr]++
		}
		c.WriteMessage(websocket.TextMessage, []byte(verdict))
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
}

// writeAll runs the writers, each calling write for its messages in order.
func writeAll(write func(msg []byte) error) error {
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			for seq := range perWriter {
				if err := write(concurrentMessage(w, seq)); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

var concurrentOK = fmt.Sprintf("works: %d×%d messages arrive intact", writers, perWriter)

func wsdialConcurrent(t *testing.T) string {
	c, err := wsdialDial(testContext(t), t, dialConfig{url: startCounter(t)})
	if err != nil {
		return fmt.Sprintf("unexpected: %v", err)
	}
	defer c.Close()
	err = safely(func() error {
		return writeAll(func(msg []byte) error { return c.WriteMessage(wsdial.BinaryMessage, msg) })
	})
	if err != nil {
		return "fails: " + err.Error()
	}
	if _, verdict, err := c.ReadMessage(); err != nil || string(verdict) != "ok" {
		return fmt.Sprintf("server says %q, %v", verdict, err)
	}
	return concurrentOK
}

func coderConcurrent(t *testing.T) string {
	ctx := testContext(t)
	c, _, err := coderDial(ctx, coderTransport(t, dialConfig{}), startCounter(t))
	if err != nil {
		return fmt.Sprintf("unexpected: %v", err)
	}
	defer c.CloseNow()
	err = safely(func() error {
		return writeAll(func(msg []byte) error { return c.Write(ctx, coder.MessageBinary, msg) })
	})
	if err != nil {
		return "fails: " + err.Error()
	}
	if _, verdict, err := c.Read(ctx); err != nil || string(verdict) != "ok" {
		return fmt.Sprintf("server says %q, %v", verdict, err)
	}
	return concurrentOK
}

// The environment scenario. net/http reads the environment once a process,
// at its first use, so the proxy named there must outlive any one test: it
// is envProxy, which TestMain starts and stops.
var envProxy *connectProxy

// proxyFromEnv: does the library take HTTPS_PROXY for a wss:// target?
// how names the setting that made it.
func proxyFromEnv(how string, echo dialFunc) func(t *testing.T) string {
	return func(t *testing.T) string {
		for _, name := range []string{
			"HTTP_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy",
			"NO_PROXY", "no_proxy", "REQUEST_METHOD",
		} {
			t.Setenv(name, "")
		}
		t.Setenv("HTTPS_PROXY", "http://"+proxyUser+":"+proxyPassword+"@"+envProxy.srv.addr())
		e := startEcho(t, true)
		authority := net.JoinHostPort(targetHost, "443")
		envProxy.route(authority, e.addr())
		envProxy.seen()
		err := safely(func() error {
			return echo(testContext(t), t, dialConfig{url: "wss://" + targetHost + "/echo", env: true})
		})
		if outcome := tunnelOutcome(err, envProxy.seen(), authority, true, e.serverNames()); outcome != "works" {
			return outcome
		}
		return "used (" + how + ")"
	}
}
