package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsdial/wsdial"
)

// failoverTimeout bounds each failover dial. With a blackholed entry ahead
// of a live one, the blackhole has half of it, and the live proxy the rest.
const failoverTimeout = 5 * time.Second

// failoverPeers are the addresses that peers/failover.sh adds: a blackholed
// one, where every SYN is dropped, and a refused one, where nothing listens.
type failoverPeers struct {
	blackhole, refused string
}

func loadFailoverPeers(t *testing.T) failoverPeers {
	t.Helper()
	var f failoverPeers
	for _, v := range []struct {
		name string
		addr *string
	}{{"WSDIAL_INTEROP_BLACKHOLE", &f.blackhole}, {"WSDIAL_INTEROP_REFUSED", &f.refused}} {
		*v.addr = os.Getenv(v.name)
		host, _, err := net.SplitHostPort(*v.addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			t.Fatalf("%s=%q is not a loopback address; peers/failover.sh sets it", v.name, *v.addr)
		}
	}
	// The refused port must refuse, or a case would pass for the wrong reason.
	c, err := net.DialTimeout("tcp", f.refused, time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("something listens on %s, which must refuse", f.refused)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("a connect to %s failed with %v, want it refused", f.refused, err)
	}
	return f
}

// classOf names the classes of failure that err matches.
func classOf(err error) []string {
	var got []string
	for _, c := range []struct {
		name  string
		class error
	}{
		{"ErrInvalid", wsdial.ErrInvalid}, {"ErrProxy", wsdial.ErrProxy}, {"ErrDial", wsdial.ErrDial},
		{"ErrTLS", wsdial.ErrTLS}, {"ErrHandshake", wsdial.ErrHandshake},
	} {
		if errors.Is(err, c.class) {
			got = append(got, c.name)
		}
	}
	return got
}

// TestFailover dials the echo servers through proxy lists that mix the
// suite's real proxies with a refused port, a blackholed address and a
// proxy TLS cannot trust, and checks that each dial gets through the first
// entry that can be used. A proxy that answers, with 403, 407 or a SOCKS
// refusal, ends the dial with its answer although a live proxy follows it.
func TestFailover(t *testing.T) {
	p := loadPeers(t)
	f := loadFailoverPeers(t)
	creds := url.UserPassword(p.user, p.pass)
	wrong := url.UserPassword(p.user, "wrong-"+p.pass)
	proxy := func(scheme, peer string, user *url.Userinfo) string { return proxyURL(p, scheme, peer, user) }
	refused, blackhole := "http://"+f.refused, "http://"+f.blackhole
	pyWS, nodeWSS := servers[0], servers[3]

	cases := []struct {
		name   string
		list   []string // "" for DIRECT
		server server
		opts   []wsdial.Option
		via    string // the peer whose address the stream runs to; "" for a direct one
		check  func(t *testing.T, err error)
	}{
		{name: "refused, then squid", list: []string{refused, proxy("http", squidPlain, nil)}, server: pyWS, via: squidPlain},
		{name: "blackholed, then tinyproxy", list: []string{blackhole, proxy("http", tinyproxyPlain, nil)}, server: nodeWSS, via: tinyproxyPlain},
		{name: "refused, blackholed, then squid with auth", list: []string{refused, blackhole, proxy("http", squidAuth, creds)}, server: nodeWSS, via: squidAuth},
		{
			name:   "squid-tls not trusted, then tinyproxy",
			list:   []string{proxy("https", squidTLS, nil), proxy("http", tinyproxyPlain, nil)},
			server: pyWS,
			opts:   []wsdial.Option{wsdial.WithProxyTLSConfig(&tls.Config{})},
			via:    tinyproxyPlain,
		},
		{name: "refused, then microsocks (socks5h)", list: []string{refused, proxy("socks5h", microsocksOpen, nil)}, server: nodeWSS, via: microsocksOpen},
		{name: "blackholed, then DIRECT", list: []string{blackhole, ""}, server: pyWS},
		{
			name:   "tinyproxy-ports answers 403, squid is not tried",
			list:   []string{proxy("http", tinyproxyPorts, nil), proxy("http", squidPlain, nil)},
			server: nodeWSS,
			check:  want403,
		},
		{
			name:   "refused, then tinyproxy-ports answers 403, squid is not tried",
			list:   []string{refused, proxy("http", tinyproxyPorts, nil), proxy("http", squidPlain, nil)},
			server: nodeWSS,
			check: func(t *testing.T, err error) {
				t.Helper()
				want403(t, err)
				if !strings.Contains(err.Error(), f.refused+": connect: connection refused; then proxy ") {
					t.Errorf("the error does not say that the first entry was refused: %v", err)
				}
				if errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("errors.Is finds the refusal of an entry the dial moved past: %v", err)
				}
			},
		},
		{
			name:   "squid-auth answers 407, tinyproxy is not tried",
			list:   []string{proxy("http", squidAuth, nil), proxy("http", tinyproxyPlain, nil)},
			server: pyWS,
			check:  want407,
		},
		{
			name:   "dante refuses a wrong password, microsocks is not tried",
			list:   []string{proxy("socks5h", danteAuth, wrong), proxy("socks5h", microsocksOpen, nil)},
			server: pyWS,
			check:  wantSOCKSRefusal,
		},
		{
			name:   "every entry fails: refused, then blackholed",
			list:   []string{refused, blackhole},
			server: pyWS,
			check: func(t *testing.T, err error) {
				t.Helper()
				proxyError(t, err)
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("the dial's time ran out in the last attempt, yet the error does not match context.DeadlineExceeded: %v", err)
				}
				if s := err.Error(); !strings.Contains(s, f.refused) || !strings.Contains(s, "; then proxy "+blackhole) {
					t.Errorf("the error does not tell each attempt: %v", err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var list []*url.URL
			for _, raw := range tc.list {
				if raw == "" {
					list = append(list, nil)
					continue
				}
				u, err := url.Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				list = append(list, u)
			}
			var log bytes.Buffer
			roots := &tls.Config{RootCAs: p.roots}
			opts := append([]wsdial.Option{
				wsdial.WithTLSConfig(roots),
				wsdial.WithProxyTLSConfig(roots),
				wsdial.WithSubprotocols(offered...),
				wsdial.WithHandshakeTimeout(failoverTimeout),
				wsdial.WithProxyList(func(context.Context, *url.URL) ([]*url.URL, error) { return list, nil }),
				wsdial.WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))),
			}, tc.opts...)
			d := newDialer(t, opts...)
			target := tc.server.url(p, "localhost")
			ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
			defer cancel()
			c, err := d.DialWebSocket(ctx, target)
			defer func() {
				if t.Failed() {
					t.Logf("the dial's log:\n%s", log.String())
				}
			}()
			if strings.Contains(log.String(), p.pass) || (err != nil && strings.Contains(err.Error(), p.pass)) {
				t.Errorf("the log or the error shows the password")
			}
			if tc.check != nil {
				if err == nil {
					c.NetConn().Close()
					t.Fatalf("the dial to %s succeeded; want it to fail", target)
				}
				t.Logf("error: %v", err)
				if got := classOf(err); len(got) != 1 || got[0] != "ErrProxy" {
					t.Errorf("the error matches %v, want ErrProxy alone", got)
				}
				tc.check(t, err)
				return
			}
			if err != nil {
				t.Fatalf("dial %s: %v", target, err)
			}
			t.Cleanup(func() { c.NetConn().Close() })
			wantRemote := p.addr[tc.server.peer]
			if tc.via != "" {
				wantRemote = p.addr[tc.via]
			}
			if got := c.NetConn().RemoteAddr().String(); got != wantRemote {
				t.Errorf("the stream runs to %s, want %s", got, wantRemote)
			}
			if moved := strings.Count(log.String(), `msg="wsdial: proxy list: next entry"`); moved != len(tc.list)-1 {
				t.Errorf("the dial moved on %d times, want %d", moved, len(tc.list)-1)
			}
			exchange(t, c)

			// The entries that could not be used are marked: the next dial
			// tries them last, and gets through at once.
			log.Reset()
			c2, err := d.DialWebSocket(ctx, target)
			if err != nil {
				t.Fatalf("second dial %s: %v", target, err)
			}
			c2.NetConn().Close()
			if moved := strings.Count(log.String(), `msg="wsdial: proxy list: next entry"`); moved != 0 {
				t.Errorf("the second dial moved on %d times, want none: the first dial's marks put the dead entries last", moved)
			}
		})
	}
}
