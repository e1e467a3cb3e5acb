package wsdial

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A hostilePeer misbehaves on purpose. Each case that must fail names what
// the dial's error must say: the sentinels it matches and, where the error
// has a field for it, the status code, the proxy stage and the SOCKS reply.
// The suite also checks that the error matches exactly one class, bounds the
// time and memory the dial takes, and checks that no goroutine outlives it.
type hostilePeer struct {
	name   string
	tls    bool           // dial wss:// to a TLS endpoint
	target func(net.Conn) // the WebSocket server's side of each connection
	// proxy, when set, is the proxy's side of each connection, and scheme
	// its URL's scheme (http when empty); the target is then a valid server.
	proxy  func(net.Conn)
	scheme string

	want   []error    // the dial's error must match all of these, its class among them
	status int        // the StatusCode of its *HandshakeError or *ProxyError: 0 when no HTTP reply came
	stage  string     // the Stage of its *ProxyError, if it is one
	reply  SOCKSReply // the SOCKSReply of its *ProxyError
	as     any        // if set, a pointer that errors.As must fill from the error

	check func(*Conn) error // for a dial that must succeed: what must hold

	// autobahn names the Autobahn testsuite cases that a crafted-frame case
	// stands for, with how it differs, or says that none does.
	autobahn string
}

const hostileTimeout = 300 * time.Millisecond

// hostileMemory bounds what one hostile dial may allocate: a few times the
// head limit, far below what a flood would cost without one.
const hostileMemory = 4 << 20

// answer writes resp in place of the handshake response, {accept} replaced
// by the right Sec-WebSocket-Accept, then holds the connection until the
// client is done.
func answer(resp string) func(net.Conn) {
	return func(c net.Conn) {
		req, br, err := readUpgrade(c)
		if err != nil {
			return
		}
		c.Write([]byte(strings.ReplaceAll(resp, "{accept}", acceptFor(req.Header.Get("Sec-WebSocket-Key")))))
		answerClose(c, br)
	}
}

// afterRequest reads the request, then runs f.
func afterRequest(f func(net.Conn)) func(net.Conn) {
	return func(c net.Conn) {
		if _, _, err := readUpgrade(c); err == nil {
			f(c)
		}
	}
}

// flood writes prefix, then unit over and over until the client goes away.
func flood(prefix, unit string) func(net.Conn) {
	return afterRequest(func(c net.Conn) {
		if _, err := c.Write([]byte(prefix)); err != nil {
			return
		}
		chunk := []byte(strings.Repeat(unit, 32<<10/len(unit)+1))
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
}

// drip writes s one byte at a time, with a pause between bytes, and then
// stalls: a slow-loris server.
func drip(s string) func(net.Conn) {
	return afterRequest(func(c net.Conn) {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			if _, err := c.Write([]byte{s[i%len(s)]}); err != nil {
				return
			}
			<-tick.C
		}
	})
}

// stall holds the connection, reading and dropping whatever comes, until the
// client closes it.
func stall(c net.Conn) { io.Copy(io.Discard, c) }

// reset closes the connection with a TCP RST rather than a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

const okHead = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"

var hostileTargets = []hostilePeer{
	{name: "200 instead of 101", target: answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"), want: []error{ErrHandshake, ErrUpgradeDeclined}, status: 200},
	{name: "100 Continue before 101", target: answer("HTTP/1.1 100 Continue\r\n\r\n" + okHead + "\r\n"), check: upgradedWith(101)},
	{name: "103 Early Hints before 101", target: answer("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" + okHead + "\r\n"), check: upgradedWith(101)},
	{name: "endless interim responses", target: flood("", "HTTP/1.1 100 Continue\r\n\r\n"), want: []error{ErrHandshake, errTooManyInterim}},
	{name: "interim response flooded with headers", target: flood("HTTP/1.1 103 Early Hints\r\n", "Link: </a>\r\n"), want: []error{ErrHandshake, errHeadTooLarge}},
	{name: "HTTP/1.0 101", target: answer(strings.Replace(okHead, "HTTP/1.1", "HTTP/1.0", 1) + "\r\n"), want: []error{ErrHandshake, ErrBadHTTPVersion}, status: 101},
	{name: "no Connection", target: answer(strings.Replace(okHead, "Connection: Upgrade\r\n", "", 1) + "\r\n"), want: []error{ErrHandshake, ErrNoConnectionUpgrade}, status: 101},
	{name: "no Upgrade", target: answer(strings.Replace(okHead, "Upgrade: websocket\r\n", "", 1) + "\r\n"), want: []error{ErrHandshake, ErrNoUpgradeWebSocket}, status: 101},
	{name: "accept of the RFC's sample key", target: answer(strings.Replace(okHead, "{accept}", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 1) + "\r\n"), want: []error{ErrHandshake, ErrBadAccept}, status: 101},
	{name: "accept repeated", target: answer(okHead + "Sec-WebSocket-Accept: {accept}\r\n\r\n"), want: []error{ErrHandshake, ErrBadAccept}, status: 101},
	{
		name: "101 sent before the request was read",
		target: func(c net.Conn) {
			c.Write([]byte(strings.Replace(okHead, "{accept}", acceptFor("AAAAAAAAAAAAAAAAAAAAAA=="), 1) + "\r\n"))
			stall(c)
		},
		want: []error{ErrHandshake, ErrBadAccept}, status: 101,
	},
	{name: "subprotocol not offered", target: answer(okHead + "Sec-WebSocket-Protocol: admin\r\n\r\n"), want: []error{ErrHandshake, ErrBadSubprotocol}, status: 101},
	{name: "extension not offered", target: answer(okHead + "Sec-WebSocket-Extensions: x-evil\r\n\r\n"), want: []error{ErrHandshake, ErrBadExtension}, status: 101},
	{name: "flood of header lines", target: flood(okHead, "X-Flood: aaaaaaaaaaaaaaaa\r\n"), want: []error{ErrHandshake, errHeadTooLarge}},
	{name: "endless header value", target: flood(okHead+"X-Long: ", "a"), want: []error{ErrHandshake, errHeadTooLarge}},
	{name: "endless status line", target: flood("HTTP/1.1 101 ", "S"), want: []error{ErrHandshake, errHeadTooLarge}},
	{name: "flood of empty-valued fields", target: answer(okHead + strings.Repeat("a:\r\n", 1000) + "\r\n"), want: []error{ErrHandshake, errTooManyFields}},
	{name: "binary garbage", target: answer("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"), want: []error{ErrHandshake, errMalformedStatus}},
	{name: "NUL in a header value", target: answer(okHead + "X-Evil: a\x00b\r\n\r\n"), want: []error{ErrHandshake, errMalformedField}},
	{name: "bare CR in a header value", target: answer(okHead + "X-Evil: a\rInjected: b\r\n\r\n"), want: []error{ErrHandshake, errMalformedField}},
	{name: "terminal escape in a header value", target: answer(okHead + "X-Evil: \x1b]0;owned\a\x1b[2J\r\n\r\n"), want: []error{ErrHandshake, errMalformedField}},
	{name: "terminal escape in the reason phrase", target: answer("HTTP/1.1 403 \x1b]0;owned\a\x1b[2J\r\n\r\n"), want: []error{ErrHandshake, errMalformedStatus}},
	{name: "header line without colon", target: answer(okHead + "garbage\r\n\r\n"), want: []error{ErrHandshake, errMalformedField}},
	{name: "silent after the request", target: stall, want: []error{ErrHandshake, context.DeadlineExceeded}},
	{name: "stall inside the status line", target: afterRequest(func(c net.Conn) { c.Write([]byte("HTTP/1.1 10")); stall(c) }), want: []error{ErrHandshake, context.DeadlineExceeded}},
	{name: "stall inside the headers", target: afterRequest(func(c net.Conn) { c.Write([]byte(okHead)); stall(c) }), want: []error{ErrHandshake, context.DeadlineExceeded}},
	{name: "slow drip of a valid head", target: drip(okHead), want: []error{ErrHandshake, context.DeadlineExceeded}},
	{name: "reset before any reply", target: afterRequest(reset), want: []error{ErrHandshake, errNoResponse, syscall.ECONNRESET}},
	{name: "reset inside the headers", target: afterRequest(func(c net.Conn) { c.Write([]byte("HTTP/1.1 101 OK\r\nUpg")); reset(c) }), want: []error{ErrHandshake, syscall.ECONNRESET}},
	{name: "close inside the headers", target: afterRequest(func(c net.Conn) { c.Write([]byte("HTTP/1.1 101 OK\r\nUpg")) }), want: []error{ErrHandshake, io.ErrUnexpectedEOF}},
	{name: "close without reply", target: afterRequest(func(net.Conn) {}), want: []error{ErrHandshake, errNoResponse, io.EOF}},
	{name: "refusal with an endless body", target: flood("HTTP/1.1 403 Forbidden\r\nContent-Length: 99999999999\r\n\r\n", "x"), want: []error{ErrHandshake, ErrUpgradeDeclined}, status: 403},
	{name: "refusal with an endless chunk", target: flood("HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n", "x"), want: []error{ErrHandshake, ErrUpgradeDeclined}, status: 403},
	{name: "refusal without framing, connection held", target: answer("HTTP/1.1 403 Forbidden\r\n\r\npartial body"), want: []error{ErrHandshake, ErrUpgradeDeclined}, status: 403},
	{
		name:   "frames in the same write as the 101",
		target: answer(okHead + "\r\n" + "\x81\x02hi\x89\x00"),
		check: func(c *Conn) error {
			b := make([]byte, 6)
			if _, err := io.ReadFull(c.NetConn(), b); err != nil || string(b) != "\x81\x02hi\x89\x00" {
				return errors.New("the bytes behind the 101 were lost")
			}
			return nil
		},
	},
	{name: "plaintext HTTP where TLS was expected", tls: true, target: func(c net.Conn) { io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n"); stall(c) }, want: []error{ErrTLS}, as: new(tls.RecordHeaderError)},
	// Closed with the rest of the ClientHello unread, the connection ends
	// in a reset.
	{name: "close during TLS handshake", tls: true, target: func(c net.Conn) { c.Read(make([]byte, 1)) }, want: []error{ErrTLS, syscall.ECONNRESET}},
	{name: "silent during TLS handshake", tls: true, target: stall, want: []error{ErrTLS, context.DeadlineExceeded}},
}

// upgradedWith checks a dial that must succeed: its response has status.
func upgradedWith(status int) func(*Conn) error {
	return func(c *Conn) error {
		if got := c.Response().StatusCode; got != status {
			return fmt.Errorf("the upgrade answered %d, want %d", got, status)
		}
		return nil
	}
}

// relay is a CONNECT proxy that does its job, opening the tunnel to whatever
// target is asked for, but answers with reply, however odd.
func relay(reply string) func(net.Conn) {
	return func(c net.Conn) { relayOnce(c, reply) }
}

func relayOnce(c net.Conn, reply string) {
	req, br, err := readUpgrade(c)
	if err != nil {
		return
	}
	target, err := net.Dial("tcp", req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	defer target.Close()
	io.WriteString(c, reply)
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(target, br)
		target.Close()
	}()
	io.Copy(c, target)
	c.Close()
	<-done
}

var hostileProxies = []hostilePeer{
	{name: "407 without a reason phrase", proxy: afterRequest(func(c net.Conn) { io.WriteString(c, "HTTP/1.1 407\r\n\r\n") }), want: []error{ErrProxy, ErrProxyAuthRequired}, status: 407, stage: "connect"},
	{name: "502 from the proxy", proxy: afterRequest(func(c net.Conn) { io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nbad") }), want: []error{ErrProxy}, status: 502, stage: "connect"},
	{name: "407 with an endless chunked body", proxy: flood("HTTP/1.1 407 Who\r\nProxy-Authenticate: Basic\r\nTransfer-Encoding: chunked\r\n\r\nfffffff\r\n", "z"), want: []error{ErrProxy, ErrProxyAuthRequired}, status: 407, stage: "connect"},
	{name: "flood of reply header lines", proxy: flood("HTTP/1.1 200 OK\r\n", "Via: x\r\n"), want: []error{ErrProxy, errHeadTooLarge}, stage: "connect"},
	{name: "SOCKS bytes to an HTTP client", proxy: afterRequest(func(c net.Conn) { c.Write([]byte{5, 0, 5, 0, 0, 1, 0, 0, 0, 0, 0, 0, '\r', '\n', '\r', '\n'}) }), want: []error{ErrProxy, errMalformedStatus}, stage: "connect"},
	{name: "escape sequence in the reason phrase", proxy: afterRequest(func(c net.Conn) { io.WriteString(c, "HTTP/1.1 403 \x1b]0;owned\a\x1b[2J\r\n\r\n") }), want: []error{ErrProxy, errMalformedStatus}, stage: "connect"},
	{name: "silent proxy", proxy: stall, want: []error{ErrProxy, context.DeadlineExceeded}, stage: "connect"},
	{name: "proxy stalls inside its reply", proxy: afterRequest(func(c net.Conn) { io.WriteString(c, "HTTP/1.1 200 Conn"); stall(c) }), want: []error{ErrProxy, context.DeadlineExceeded}, stage: "connect"},
	{name: "proxy resets inside its reply", proxy: afterRequest(func(c net.Conn) { io.WriteString(c, "HTTP/1.1 200 Conn"); reset(c) }), want: []error{ErrProxy, syscall.ECONNRESET}, stage: "connect"},
	{name: "proxy closes without a reply", proxy: afterRequest(func(net.Conn) {}), want: []error{ErrProxy, errNoResponse, io.EOF}, stage: "connect"},
	{name: "100 Continue before 200", proxy: relay("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Connection established\r\n\r\n"), check: upgradedWith(101)},
	{name: "101 to a CONNECT", proxy: afterRequest(func(c net.Conn) { io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\n\r\n") }), want: []error{ErrProxy}, status: 101, stage: "connect"},
	{name: "endless interim replies", proxy: flood("", "HTTP/1.1 100 Continue\r\n\r\n"), want: []error{ErrProxy, errTooManyInterim}, stage: "connect"},
	{name: "tunnel opens, target never answers", proxy: afterRequest(func(c net.Conn) { io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n"); stall(c) }), want: []error{ErrHandshake, context.DeadlineExceeded}},
	{name: "plaintext where a TLS proxy was named", scheme: "https", proxy: func(c net.Conn) { io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n"); stall(c) }, want: []error{ErrProxy}, stage: "tls", as: new(tls.RecordHeaderError)},
	{
		name:  "HTTP/1.0 200 with Connection: close",
		proxy: relay("HTTP/1.0 200 Connection established\r\nProxy-agent: odd/1.0\r\nConnection: close\r\n\r\n"),
		check: upgradedWith(101),
	},
	{name: "SOCKS proxy closes after the greeting", scheme: "socks5h", proxy: func(c net.Conn) { c.Read(make([]byte, 3)) }, want: []error{ErrProxy, io.EOF}, stage: "socks"},
	{name: "SOCKS proxy refuses the request", scheme: "socks5h", proxy: func(c net.Conn) {
		c.Read(make([]byte, 3))
		c.Write([]byte{5, 0})
		c.Read(make([]byte, 64))
		c.Write([]byte{5, 2, 0, 1, 0, 0, 0, 0, 0, 0})
	}, want: []error{ErrProxy, SOCKSConnectionNotAllowed}, stage: "socks", reply: SOCKSConnectionNotAllowed},
	{name: "SOCKS proxy answers as SOCKS4", scheme: "socks5h", proxy: func(c net.Conn) { c.Read(make([]byte, 3)); c.Write([]byte{0, 0x5a}) }, want: []error{ErrProxy}, stage: "socks"},
	{name: "SOCKS reply with an unknown address type", scheme: "socks5h", proxy: func(c net.Conn) {
		c.Read(make([]byte, 3))
		c.Write([]byte{5, 0})
		c.Read(make([]byte, 64))
		c.Write([]byte{5, 0, 0, 9, 0, 0, 0, 0, 0, 0})
	}, want: []error{ErrProxy}, stage: "socks"},
	{name: "SOCKS proxy silent after the greeting", scheme: "socks5h", proxy: func(c net.Conn) {
		c.Read(make([]byte, 3))
		c.Write([]byte{5, 0})
		stall(c)
	}, want: []error{ErrProxy, context.DeadlineExceeded}, stage: "socks"},
}

// hostileFrames answer the handshake properly, then send frames that break
// RFC 6455 §5. Each check reads until the read fails and wants the protocol
// error with the close code the client must send.
var hostileFrames = []hostilePeer{
	{name: "masked server frame", target: answer(okHead + "\r\n\x81\x82abcd\x00\x00"), check: readFails(StatusProtocolError),
		autobahn: "none: the testsuite's server never masks"},
	{name: "RSV1 without an extension", target: answer(okHead + "\r\n\xc1\x01a"), check: readFails(StatusProtocolError),
		autobahn: "3.4 (RSV = 4 on a text frame), without the message and ping around it"},
	{name: "reserved opcode", target: answer(okHead + "\r\n\x83\x00"), check: readFails(StatusProtocolError), autobahn: "4.1.1"},
	{name: "length of 2^63-1", target: answer(okHead + "\r\n\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff"), check: readFails(StatusMessageTooBig),
		autobahn: "none: the read limit is this library's"},
	{name: "ping of 126 bytes", target: answer(okHead + "\r\n\x89\x7e\x00\x7e" + strings.Repeat("p", 126)), check: readFails(StatusProtocolError), autobahn: "2.5"},
	{name: "fragmented ping", target: answer(okHead + "\r\n\x09\x00"), check: readFails(StatusProtocolError), autobahn: "5.1, its first fragment"},
	{name: "text that is not UTF-8", target: answer(okHead + "\r\n\x81\x02\xc3\x28"), check: readFails(StatusInvalidFramePayloadData),
		autobahn: "6.3.1, with another invalid sequence"},
	{name: "close frame with code 1005", target: answer(okHead + "\r\n\x88\x02\x03\xed"), check: readFails(StatusProtocolError), autobahn: "7.9.4"},
	{name: "close frame of one byte", target: answer(okHead + "\r\n\x88\x01\x03"), check: readFails(StatusProtocolError), autobahn: "7.3.2"},
	{name: "continuation without a start", target: answer(okHead + "\r\n\x80\x01a"), check: readFails(StatusProtocolError), autobahn: "5.9, without the text message after it"},
	{name: "new message inside a fragmented one", target: answer(okHead + "\r\n\x01\x01a\x81\x01b"), check: readFails(StatusProtocolError), autobahn: "5.18"},
}

// readFails reads until the read fails, within the suite's bounds, and wants
// a *ProtocolError with code.
func readFails(code StatusCode) func(*Conn) error {
	return func(c *Conn) error {
		c.SetReadDeadline(time.Now().Add(hostileTimeout))
		for {
			_, _, err := c.ReadMessage()
			if err == nil {
				continue
			}
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code != code {
				return fmt.Errorf("read failed with %v, want a protocol error with %d", err, code)
			}
			return nil
		}
	}
}

func TestHostileTargets(t *testing.T) {
	runHostile(t, append(hostileTargets, hostileFrames...), func(t *testing.T, p hostilePeer) (string, []Option) {
		scheme := "ws://"
		if p.tls {
			scheme = "wss://"
		}
		return scheme + serveRaw(t, "tcp", p.target) + "/", nil
	})
}

func TestHostileProxies(t *testing.T) {
	runHostile(t, hostileProxies, func(t *testing.T, p hostilePeer) (string, []Option) {
		scheme := p.scheme
		if scheme == "" {
			scheme = "http"
		}
		proxy := serveRaw(t, "tcp", p.proxy)
		return "ws://" + serveUpgrade(t, "") + "/", []Option{WithProxy(scheme + "://" + proxy)}
	})
}

// runHostile dials the URL that start sets up for each peer, with the
// options it gives, and checks the outcome and its bounds.
func runHostile(t *testing.T, peers []hostilePeer, start func(*testing.T, hostilePeer) (string, []Option)) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			u, extra := start(t, p)
			base := runtime.NumGoroutine()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			t0 := time.Now()
			opts := append([]Option{WithoutProxy(), WithHandshakeTimeout(hostileTimeout), WithTLSConfig(&tls.Config{InsecureSkipVerify: true})}, extra...)
			c, err := mustNew(t, opts...).DialWebSocket(context.Background(), u)
			elapsed := time.Since(t0)
			runtime.ReadMemStats(&after)
			if p.check != nil {
				if err != nil {
					t.Fatalf("dial failed: %v", err)
				}
				if err := p.check(c); err != nil {
					t.Error(err)
				}
				c.Close()
				elapsed = time.Since(t0)
				runtime.ReadMemStats(&after)
			} else {
				if err == nil {
					c.Close()
					t.Fatal("dial succeeded")
				}
				checkHostileError(t, p, err)
				if err.Error() == "" || len(err.Error()) > 512 {
					t.Errorf("error text of %d bytes: %q", len(err.Error()), clip(err.Error()))
				}
			}
			if elapsed > hostileTimeout+5*time.Second {
				t.Errorf("the dial took %v", elapsed)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > hostileMemory {
				t.Errorf("the dial allocated %d bytes", grew)
			}
			settleGoroutines(t, base)
		})
	}
}

// checkHostileError checks a failed dial's error against all that p says
// of it.
func checkHostileError(t *testing.T, p hostilePeer, err error) {
	t.Helper()
	if got := classes(err); len(got) != 1 {
		t.Errorf("error %q matches classes %v, want one", err, got)
	}
	for _, w := range p.want {
		if !errors.Is(err, w) {
			t.Errorf("error %q does not match %q", err, w)
		}
	}
	var he *HandshakeError
	var pe *ProxyError
	switch {
	case errors.As(err, &pe):
		if pe.StatusCode != p.status || pe.Stage != p.stage || pe.SOCKSReply != p.reply {
			t.Errorf("ProxyError{StatusCode: %d, Stage: %q, SOCKSReply: %d}, want {%d, %q, %d}",
				pe.StatusCode, pe.Stage, pe.SOCKSReply, p.status, p.stage, p.reply)
		}
	case errors.As(err, &he):
		if he.StatusCode != p.status || p.stage != "" {
			t.Errorf("HandshakeError{StatusCode: %d}, want %d (and a ProxyError of stage %q?)", he.StatusCode, p.status, p.stage)
		}
	case p.status != 0 || p.stage != "":
		t.Errorf("error %T carries no status or stage, want status %d, stage %q", err, p.status, p.stage)
	}
	if p.as != nil && !errors.As(err, p.as) {
		t.Errorf("error %q has no %T in it", err, p.as)
	}
}
