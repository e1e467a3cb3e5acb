package wsdial

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A hostilePeer misbehaves on purpose. Each case names the error the dial
// must end with; the suite also bounds the time and memory the dial takes and
// checks that no goroutine outlives it.
type hostilePeer struct {
	name   string
	tls    bool              // dial wss:// to a TLS endpoint
	opts   []Option          // beyond WithoutProxy and a short timeout
	target func(net.Conn)    // the WebSocket server's side of each connection
	want   []error           // the dial's error must match all of these
	check  func(*Conn) error // for a dial that must succeed: what must hold
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
		br.WriteTo(discard{})
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
	{name: "200 instead of 101", target: answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"), want: []error{ErrUpgradeDeclined}},
	{name: "100 Continue before 101", target: answer("HTTP/1.1 100 Continue\r\n\r\n" + okHead + "\r\n"), want: []error{ErrUpgradeDeclined}},
	{name: "HTTP/1.0 101", target: answer(strings.Replace(okHead, "HTTP/1.1", "HTTP/1.0", 1) + "\r\n"), want: []error{ErrBadHTTPVersion}},
	{name: "no Connection", target: answer(strings.Replace(okHead, "Connection: Upgrade\r\n", "", 1) + "\r\n"), want: []error{ErrNoConnectionUpgrade}},
	{name: "no Upgrade", target: answer(strings.Replace(okHead, "Upgrade: websocket\r\n", "", 1) + "\r\n"), want: []error{ErrNoUpgradeWebSocket}},
	{name: "accept of the RFC's sample key", target: answer(strings.Replace(okHead, "{accept}", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", 1) + "\r\n"), want: []error{ErrBadAccept}},
	{name: "accept repeated", target: answer(okHead + "Sec-WebSocket-Accept: {accept}\r\n\r\n"), want: []error{ErrBadAccept}},
	{
		name: "101 sent before the request was read",
		target: func(c net.Conn) {
			c.Write([]byte(strings.Replace(okHead, "{accept}", acceptFor("AAAAAAAAAAAAAAAAAAAAAA=="), 1) + "\r\n"))
			stall(c)
		},
		want: []error{ErrBadAccept},
	},
	{name: "subprotocol not offered", target: answer(okHead + "Sec-WebSocket-Protocol: admin\r\n\r\n"), want: []error{ErrBadSubprotocol}},
	{name: "extension not offered", target: answer(okHead + "Sec-WebSocket-Extensions: x-evil\r\n\r\n"), want: []error{ErrBadExtension}},
	{name: "flood of header lines", target: flood(okHead, "X-Flood: aaaaaaaaaaaaaaaa\r\n"), want: []error{errHeadTooLarge}},
	{name: "endless header value", target: flood(okHead+"X-Long: ", "a"), want: []error{errHeadTooLarge}},
	{name: "endless status line", target: flood("HTTP/1.1 101 ", "S"), want: []error{errHeadTooLarge}},
	{name: "flood of empty-valued fields", target: answer(okHead + strings.Repeat("a:\r\n", 1000) + "\r\n"), want: []error{errTooManyFields}},
	{name: "binary garbage", target: answer("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"), want: []error{errMalformedStatus}},
	{name: "NUL in a header value", target: answer(okHead + "X-Evil: a\x00b\r\n\r\n"), want: []error{ErrHandshake}},
	{name: "bare CR in a header value", target: answer(okHead + "X-Evil: a\rInjected: b\r\n\r\n"), want: []error{ErrHandshake}},
	{name: "header line without colon", target: answer(okHead + "garbage\r\n\r\n"), want: []error{ErrHandshake}},
	{name: "silent after the request", target: stall, want: []error{context.DeadlineExceeded}},
	{name: "stall inside the status line", target: afterRequest(func(c net.Conn) { c.Write([]byte("HTTP/1.1 10")); stall(c) }), want: []error{context.DeadlineExceeded}},
	{name: "stall inside the headers", target: afterRequest(func(c net.Conn) { c.Write([]byte(okHead)); stall(c) }), want: []error{context.DeadlineExceeded}},
	{name: "slow drip of a valid head", target: drip(okHead), want: []error{context.DeadlineExceeded}},
	{name: "reset before any reply", target: afterRequest(reset), want: []error{syscall.ECONNRESET}},
	{name: "reset inside the headers", target: afterRequest(func(c net.Conn) { c.Write([]byte("HTTP/1.1 101 OK\r\nUpg")); reset(c) }), want: []error{ErrHandshake}},
	{name: "close inside the headers", target: afterRequest(func(c net.Conn) { c.Write([]byte("HTTP/1.1 101 OK\r\nUpg")) }), want: []error{io.ErrUnexpectedEOF}},
	{name: "close without reply", target: afterRequest(func(net.Conn) {}), want: []error{io.EOF}},
	{name: "refusal with an endless body", target: flood("HTTP/1.1 403 Forbidden\r\nContent-Length: 99999999999\r\n\r\n", "x"), want: []error{ErrUpgradeDeclined}},
	{name: "refusal with an endless chunk", target: flood("HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n", "x"), want: []error{ErrUpgradeDeclined}},
	{name: "refusal without framing, connection held", target: answer("HTTP/1.1 403 Forbidden\r\n\r\npartial body"), want: []error{ErrUpgradeDeclined}},
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
	{name: "plaintext HTTP where TLS was expected", tls: true, target: answer("HTTP/1.1 400 Bad Request\r\n\r\n"), want: []error{ErrTLS}},
	{name: "close during TLS handshake", tls: true, target: func(c net.Conn) { c.Read(make([]byte, 1)) }, want: []error{ErrTLS}},
	{name: "silent during TLS handshake", tls: true, target: stall, want: []error{ErrTLS, context.DeadlineExceeded}},
}

func TestHostileTargets(t *testing.T) {
	runHostile(t, hostileTargets, func(t *testing.T, p hostilePeer) string {
		scheme := "ws://"
		if p.tls {
			scheme = "wss://"
		}
		return scheme + serveRaw(t, "tcp", p.target) + "/"
	})
}

// runHostile dials the URL that start sets up for each peer and checks the
// outcome and its bounds.
func runHostile(t *testing.T, peers []hostilePeer, start func(*testing.T, hostilePeer) string) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			u := start(t, p)
			base := runtime.NumGoroutine()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			t0 := time.Now()
			opts := append([]Option{WithoutProxy(), WithHandshakeTimeout(hostileTimeout), WithTLSConfig(&tls.Config{InsecureSkipVerify: true})}, p.opts...)
			c, err := New(opts...).DialWebSocket(context.Background(), u)
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
			} else {
				if err == nil {
					c.Close()
					t.Fatal("dial succeeded")
				}
				for _, w := range p.want {
					if !errors.Is(err, w) {
						t.Errorf("error %q does not match %q", err, w)
					}
				}
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
