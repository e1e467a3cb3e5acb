package wsdial

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/proxy"
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

// TestSOCKS5ConnectorHolds guards the assertion socksVia relies on: the
// dialer that golang.org/x/net/proxy returns can run on our connection.
func TestSOCKS5ConnectorHolds(t *testing.T) {
	d, err := proxy.SOCKS5("tcp", "127.0.0.1:1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(socksConnector); !ok {
		t.Fatalf("%T has no DialWithConn", d)
	}
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
