package wsdial

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// noDNS is a net.Dialer whose resolver answers from /etc/hosts alone: the
// tests never send a query off the machine, and a name it cannot answer shows
// that the dialer's own resolver was asked.
func noDNS() *net.Dialer {
	return &net.Dialer{Resolver: &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("no DNS in tests")
		},
	}}
}

func TestSOCKS5(t *testing.T) {
	var origin wsOrigin
	originAddr := origin.start(t, nil)
	_, port, _ := net.SplitHostPort(originAddr)
	named := "ws.example.invalid:" + port

	for _, tc := range []struct {
		name           string
		scheme         string
		userinfo       string
		proxyUser      string
		reply          byte
		network        string
		target         string
		wantByName     bool
		wantSent       string // what the proxy was asked for
		wantErr        string // the error holds it
		wantStageSocks bool
	}{
		{name: "socks5h sends the name", scheme: "socks5h", target: named, wantByName: true, wantSent: named},
		{name: "socks5 resolves here", scheme: "socks5", network: "tcp4", target: "localhost:" + port, wantSent: originAddr},
		{name: "socks5 address", scheme: "socks5", target: originAddr, wantSent: originAddr},
		{name: "socks5h address", scheme: "socks5h", target: originAddr, wantSent: originAddr},
		{name: "password", scheme: "socks5h", userinfo: "alice:" + testPassword + "@", proxyUser: "alice", target: named,
			wantByName: true, wantSent: named},
		{name: "wrong password", scheme: "socks5h", userinfo: "alice:bad" + testPassword + "@", proxyUser: "alice", target: named,
			wantErr: "username/password authentication failed"},
		{name: "no credentials", scheme: "socks5h", proxyUser: "alice", target: named,
			wantErr: "no acceptable authentication methods"},
		{name: "ruleset", scheme: "socks5h", reply: 2, target: named, wantErr: "connection not allowed by ruleset"},
		{name: "unreachable", scheme: "socks5h", reply: 4, target: named, wantErr: "host unreachable"},
		{name: "local resolution fails", scheme: "socks5", target: named, wantErr: "no DNS in tests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			p := &socksProxy{hosts: hosts{named: originAddr}, user: tc.proxyUser, pass: testPassword, reply: tc.reply}
			addr := p.start(t)
			d := mustNew(t, WithProxy(tc.scheme+"://"+tc.userinfo+addr), WithNetDialer(noDNS()))
			network := tc.network
			if network == "" {
				network = "tcp"
			}
			c, err := d.DialContext(context.Background(), network, tc.target)
			if tc.wantErr != "" {
				var pe *ProxyError
				if !errors.As(err, &pe) || pe.Stage != "socks" || !errors.Is(err, ErrProxy) {
					t.Fatalf("err = %v, want a socks *ProxyError", err)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want it to say %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), testPassword) {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			seen := p.seen()
			if len(seen) != 1 || seen[0].byName != tc.wantByName || seen[0].addr != tc.wantSent {
				t.Errorf("proxy was asked for %+v, want %s (by name: %v)", seen, tc.wantSent, tc.wantByName)
			}
		})
	}
}

// TestSOCKS5WebSocket runs the whole dial through a SOCKS5 proxy.
func TestSOCKS5WebSocket(t *testing.T) {
	checkGoroutines(t)
	var origin wsOrigin
	originAddr := origin.start(t, nil)
	_, port, _ := net.SplitHostPort(originAddr)
	target := "ws.example.invalid:" + port
	p := &socksProxy{hosts: hosts{target: originAddr}}
	d := mustNew(t, WithProxy("socks5h://"+p.start(t)))
	conn, err := d.DialWebSocket(context.Background(), "ws://"+target+"/")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Response().StatusCode != 101 {
		t.Errorf("status %d", conn.Response().StatusCode)
	}
	echo(t, conn.NetConn())
}

// TestSocksResolveBounded stalls the local name lookup that socks5:// makes
// and checks that the handshake timeout ends it, with a caller's context
// that cannot be cancelled.
func TestSocksResolveBounded(t *testing.T) {
	stalled := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	proxy := serveRaw(t, "tcp", stall)
	d := mustNew(t, WithProxy("socks5://"+proxy), WithNetDialer(&net.Dialer{Resolver: stalled}), WithHandshakeTimeout(200*time.Millisecond))
	start := time.Now()
	_, err := d.DialWebSocket(context.Background(), "ws://ws.example.invalid/")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrProxy) {
		t.Errorf("error %v, want ErrProxy and context.DeadlineExceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the dial took %v", time.Since(start))
	}
}

// TestSOCKS5Credentials checks RFC 1929's bounds before any traffic: a
// username and a password are each 1 to 255 bytes, so a user without a
// password, or with an empty one, cannot be sent; 255 bytes each can.
func TestSOCKS5Credentials(t *testing.T) {
	long := strings.Repeat("p", 256)
	for _, userinfo := range []string{
		"alice:" + testPassword + long,
		strings.Repeat("u", 256) + ":" + testPassword,
		"alice:",
		"alice",
		":" + testPassword,
	} {
		for _, scheme := range []string{"socks5", "socks5h"} {
			_, err := New(WithProxy(scheme + "://" + userinfo + "@127.0.0.1:1"))
			checkClass(t, err, ErrInvalid)
			if err != nil && strings.Contains(err.Error(), testPassword) {
				t.Errorf("the error shows the password: %v", err)
			}
		}
	}

	var origin wsOrigin
	originAddr := origin.start(t, nil)
	user, pass := strings.Repeat("u", 255), strings.Repeat("p", 255)
	p := &socksProxy{user: user, pass: pass}
	d := mustNew(t, WithProxy("socks5h://"+user+":"+pass+"@"+p.start(t)))
	c, err := d.DialContext(context.Background(), "tcp", originAddr)
	if err != nil {
		t.Fatalf("255-byte username and password: %v", err)
	}
	c.Close()
}

// TestSOCKS5NameLength sends a socks5h:// proxy a name of 255 bytes, the
// most ATYP 3 carries (RFC 1928 §5), and refuses one of 256 before the
// proxy is even connected to.
func TestSOCKS5NameLength(t *testing.T) {
	label := strings.Repeat("a", 63) + "."
	name := strings.Repeat(label, 3) + strings.Repeat("b", 255-3*len(label))
	var origin wsOrigin
	originAddr := origin.start(t, nil)
	p := &socksProxy{hosts: hosts{name + ":443": originAddr}}
	c, err := mustNew(t, WithProxy("socks5h://"+p.start(t))).DialContext(context.Background(), "tcp", name+":443")
	if err != nil {
		t.Fatalf("a 255-byte name: %v", err)
	}
	c.Close()
	if seen := p.seen(); len(seen) != 1 || !seen[0].byName || seen[0].addr != name+":443" {
		t.Errorf("the proxy was sent %+v", seen)
	}

	var mu sync.Mutex
	conns := 0
	addr, _ := serve(t, nil, func(net.Conn) {
		mu.Lock()
		conns++
		mu.Unlock()
	})
	_, err = mustNew(t, WithProxy("socks5h://"+addr)).DialContext(context.Background(), "tcp", name+"b:443")
	checkClass(t, err, ErrProxy)
	mu.Lock()
	defer mu.Unlock()
	if conns != 0 {
		t.Errorf("the proxy was connected to %d times for a name it cannot be sent", conns)
	}
}

// TestSOCKS5ReplyCodes checks that the proxy's reply code reaches the caller
// in *ProxyError.SOCKSReply and through errors.Is, named as RFC 1928 §6
// names it.
func TestSOCKS5ReplyCodes(t *testing.T) {
	for _, tc := range []struct {
		code  byte
		reply SOCKSReply
		name  string
	}{
		{1, SOCKSGeneralFailure, "general SOCKS server failure"},
		{2, SOCKSConnectionNotAllowed, "connection not allowed by ruleset"},
		{3, SOCKSNetworkUnreachable, "network unreachable"},
		{4, SOCKSHostUnreachable, "host unreachable"},
		{5, SOCKSConnectionRefused, "connection refused"},
		{6, SOCKSTTLExpired, "TTL expired"},
		{7, SOCKSCommandNotSupported, "command not supported"},
		{8, SOCKSAddressTypeNotSupported, "address type not supported"},
		{9, SOCKSReply(9), "unassigned"},
		{0xFF, SOCKSReply(0xFF), "unassigned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &socksProxy{reply: tc.code}
			d := mustNew(t, WithProxy("socks5h://"+p.start(t)))
			_, err := d.DialContext(context.Background(), "tcp", "ws.example.invalid:80")
			checkClass(t, err, ErrProxy)
			var pe *ProxyError
			if !errors.As(err, &pe) || pe.Stage != "socks" || pe.SOCKSReply != tc.reply {
				t.Fatalf("err = %v, want a socks *ProxyError with SOCKSReply %d", err, tc.code)
			}
			if !errors.Is(err, tc.reply) {
				t.Errorf("errors.Is(%v, %v) is false", err, tc.reply)
			}
			for _, other := range []SOCKSReply{SOCKSConnectionNotAllowed, SOCKSHostUnreachable, SOCKSConnectionRefused} {
				if other != tc.reply && errors.Is(err, other) {
					t.Errorf("%v also matches %v", err, other)
				}
			}
			if want := fmt.Sprintf("reply %d: %s", tc.code, tc.name); !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want it to say %q", err, want)
			}
		})
	}
}

// TestSOCKS5TriesEveryAddress gives a name two loopback addresses and a
// socks5:// proxy that refuses the first one asked for: the dial goes on
// to the next, as net.Dialer does, and the log says which one served.
// A refusal that is not about the address ends the dial at once.
func TestSOCKS5TriesEveryAddress(t *testing.T) {
	var origin wsOrigin
	originAddr := origin.start(t, nil)
	_, port, _ := net.SplitHostPort(originAddr)
	v4, v6 := net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port)
	for _, tc := range []struct {
		name     string
		replies  []byte
		wantReqs int
		wantErr  SOCKSReply // 0: the dial succeeds
	}{
		{"first refused", []byte{5}, 2, 0},
		{"first unreachable", []byte{4}, 2, 0},
		{"network unreachable", []byte{3}, 2, 0},
		{"every one refused", []byte{5, 5}, 2, SOCKSConnectionRefused},
		{"not allowed", []byte{2}, 1, SOCKSConnectionNotAllowed},
		{"general failure", []byte{1}, 1, SOCKSGeneralFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			dns := &fakeDNS{hosts: map[string][]netip.Addr{
				"multi.example": {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
			}}
			t.Cleanup(dns.wait)
			p := &socksProxy{hosts: hosts{v4: originAddr, v6: originAddr}, replies: tc.replies}
			var log bytes.Buffer
			d := mustNew(t, WithProxy("socks5://"+p.start(t)), WithNetDialer(&net.Dialer{Resolver: dns.resolver()}),
				WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			c, err := d.DialWebSocket(context.Background(), "ws://multi.example:"+port+"/")
			seen := p.seen()
			if len(seen) != tc.wantReqs {
				t.Fatalf("proxy was asked %d times (%+v), want %d", len(seen), seen, tc.wantReqs)
			}
			for _, s := range seen {
				if s.byName || s.addr != v4 && s.addr != v6 {
					t.Errorf("proxy was asked for %+v, want one of the name's addresses", s)
				}
			}
			if tc.wantErr != 0 {
				if err == nil {
					c.Close()
					t.Fatal("the dial succeeded")
				}
				var pe *ProxyError
				if !errors.As(err, &pe) || pe.SOCKSReply != tc.wantErr {
					t.Errorf("err = %v, want SOCKSReply %d", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
			if seen[0].addr == seen[1].addr {
				t.Errorf("the same address was asked for twice: %+v", seen)
			}
			for _, want := range []string{
				"target=" + seen[0].addr + ` reply="SOCKS5 reply`,
				"target=" + seen[1].addr + ` reply="SOCKS5 succeeded"`,
			} {
				if !strings.Contains(log.String(), want) {
					t.Errorf("log lacks %s:\n%s", want, log.String())
				}
			}
		})
	}
}

// FuzzSOCKSReply plays arbitrary proxy bytes against the SOCKS5 exchange,
// with and without credentials and for a name or an address. It must never
// panic; it succeeds exactly when the bytes hold a well-formed grant, as
// worked out here apart from the client's code; then it has read exactly
// that grant and left every later byte to the tunnel; and a refusal's code
// is the one the proxy sent.
func FuzzSOCKSReply(f *testing.F) {
	grant4 := []byte{5, 0, 0, 1, 127, 0, 0, 1, 0x1f, 0x90}
	f.Add(join([]byte{5, 0}, grant4, []byte("banner")), false, false)
	f.Add(join([]byte{5, 2, 1, 0}, grant4), true, true)
	f.Add([]byte{5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0}, false, true)
	f.Add([]byte{5, 0, 5, 0, 0, 3, 4, 'h', 'o', 's', 't', 0, 80, 'x'}, false, false)
	f.Add([]byte{5, 0, 5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 187}, false, true)
	f.Add([]byte{5, 0xff}, true, false)
	f.Add([]byte{5, 2, 1, 1}, true, false)
	f.Add([]byte{4, 0}, false, false)
	f.Add([]byte{5, 0, 5, 0, 0, 9}, false, false)
	f.Add([]byte{5, 0, 5, 0, 0, 3, 200, 'a'}, false, false)
	f.Fuzz(func(t *testing.T, reply []byte, withUser, byAddress bool) {
		var user *url.Userinfo
		if withUser {
			user = url.UserPassword("alice", testPassword)
		}
		host := "ws.example.invalid"
		if byAddress {
			host = "127.0.0.1"
		}
		c := &memConn{r: bytes.NewReader(reply)}
		err := socksExchange(c, user, host, "443", make([]byte, 2048))

		want, code := grantLength(reply, withUser)
		switch {
		case want > 0:
			if err != nil {
				t.Fatalf("a grant of %d bytes failed: %v", want, err)
			}
			if left := c.r.Len(); left != len(reply)-want {
				t.Fatalf("read %d bytes of a %d-byte exchange", len(reply)-left, want)
			}
		case err == nil:
			t.Fatal("succeeded without a well-formed grant")
		case code != 0:
			var r SOCKSReply
			if !errors.As(err, &r) || r != code {
				t.Fatalf("refusal %d reported as %v", code, err)
			}
		}
	})
}

// grantLength works out, by RFC 1928 and 1929 alone, how many bytes of
// reply make a successful exchange, or 0 with the refusal's code, if any.
func grantLength(b []byte, withUser bool) (n int, refused SOCKSReply) {
	if len(b) < 2 || b[0] != 5 {
		return 0, 0
	}
	n = 2
	switch {
	case b[1] == 2 && withUser:
		if len(b) < 4 || b[3] != 0 {
			return 0, 0
		}
		n = 4
	case b[1] != 0:
		return 0, 0
	}
	r := b[n:]
	if len(r) < 5 || r[0] != 5 {
		return 0, 0
	}
	if r[1] != 0 {
		return 0, SOCKSReply(r[1])
	}
	var addr int
	switch r[3] {
	case 1:
		addr = 4
	case 4:
		addr = 16
	case 3:
		addr = 1 + int(r[4])
	default:
		return 0, 0
	}
	if len(r) < 4+addr+2 {
		return 0, 0
	}
	return n + 4 + addr + 2, 0
}
