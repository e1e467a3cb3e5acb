package wsdial

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// proxyEnvVars are every variable the environment lookup reads.
var proxyEnvVars = []string{
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
	"ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy", "REQUEST_METHOD",
}

// setEnv clears every proxy variable for the test, then sets env.
func setEnv(t *testing.T, env map[string]string) {
	for _, k := range proxyEnvVars {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func TestProxyFromEnvironment(t *testing.T) {
	type env = map[string]string
	for _, tc := range []struct {
		name    string
		env     env
		target  string // scheme://host:port, as reach asks
		want    string // "" for a direct dial
		wantErr bool
	}{
		{"nothing", env{}, "http://ws.example.invalid:80", "", false},
		{"HTTP_PROXY", env{"HTTP_PROXY": "http://hp:1"}, "http://ws.example.invalid:80", "http://hp:1", false},
		{"HTTP_PROXY not for https", env{"HTTP_PROXY": "http://hp:1"}, "https://ws.example.invalid:443", "", false},
		{"HTTPS_PROXY", env{"HTTPS_PROXY": "https://sp:2"}, "https://ws.example.invalid:443", "https://sp:2", false},
		{"HTTPS_PROXY not for http", env{"HTTPS_PROXY": "https://sp:2"}, "http://ws.example.invalid:80", "", false},
		{"lower case", env{"http_proxy": "http://low:1"}, "http://ws.example.invalid:80", "http://low:1", false},
		{"lower case wins", env{"http_proxy": "http://low:1", "HTTP_PROXY": "http://up:1"}, "http://ws.example.invalid:80", "http://low:1", false},
		{"bare host:port", env{"HTTP_PROXY": "hp:3128"}, "http://ws.example.invalid:80", "http://hp:3128", false},
		{"ALL_PROXY for http", env{"ALL_PROXY": "socks5h://ap:3"}, "http://ws.example.invalid:80", "socks5h://ap:3", false},
		{"ALL_PROXY for https", env{"ALL_PROXY": "socks5h://ap:3"}, "https://ws.example.invalid:443", "socks5h://ap:3", false},
		{"all_proxy", env{"all_proxy": "socks5://ap:3"}, "https://ws.example.invalid:443", "socks5://ap:3", false},
		{"own variable before ALL_PROXY", env{"ALL_PROXY": "socks5h://ap:3", "HTTP_PROXY": "http://hp:1"}, "http://ws.example.invalid:80", "http://hp:1", false},
		{"ALL_PROXY beside HTTP_PROXY", env{"ALL_PROXY": "socks5h://ap:3", "HTTP_PROXY": "http://hp:1"}, "https://ws.example.invalid:443", "socks5h://ap:3", false},
		{"NO_PROXY domain", env{"HTTP_PROXY": "http://hp:1", "NO_PROXY": "ws.example.invalid"}, "http://ws.example.invalid:80", "", false},
		{"NO_PROXY subdomain", env{"HTTP_PROXY": "http://hp:1", "no_proxy": "example.invalid"}, "http://ws.example.invalid:80", "", false},
		{"NO_PROXY leading dot", env{"HTTP_PROXY": "http://hp:1", "NO_PROXY": ".example.invalid"}, "http://ws.example.invalid:80", "", false},
		{"NO_PROXY leading dot spares the domain itself", env{"HTTP_PROXY": "http://hp:1", "NO_PROXY": ".example.invalid"}, "http://example.invalid:80", "http://hp:1", false},
		{"NO_PROXY star-dot prefix", env{"HTTP_PROXY": "http://hp:1", "NO_PROXY": "*.example.invalid"}, "http://ws.example.invalid:80", "", false},
		{"NO_PROXY address", env{"HTTP_PROXY": "http://hp:1", "NO_PROXY": "10.1.2.3"}, "http://10.1.2.3:80", "", false},
		{"NO_PROXY other domain", env{"HTTP_PROXY": "http://hp:1", "NO_PROXY": "other.invalid,xample.invalid"}, "http://ws.example.invalid:80", "http://hp:1", false},
		{"NO_PROXY port match", env{"HTTP_PROXY": "http://hp:1", "NO_PROXY": "ws.example.invalid:8080"}, "http://ws.example.invalid:8080", "", false},
		{"NO_PROXY port mismatch", env{"HTTP_PROXY": "http://hp:1", "NO_PROXY": "ws.example.invalid:8080"}, "http://ws.example.invalid:9090", "http://hp:1", false},
		{"NO_PROXY CIDR", env{"HTTP_PROXY": "http://hp:1", "NO_PROXY": "10.0.0.0/8"}, "http://10.1.2.3:80", "", false},
		{"NO_PROXY CIDR miss", env{"HTTP_PROXY": "http://hp:1", "NO_PROXY": "10.0.0.0/8"}, "http://11.1.2.3:80", "http://hp:1", false},
		{"NO_PROXY star", env{"HTTP_PROXY": "http://hp:1", "NO_PROXY": "*"}, "http://ws.example.invalid:80", "", false},
		{"NO_PROXY covers ALL_PROXY", env{"ALL_PROXY": "socks5h://ap:3", "NO_PROXY": "example.invalid"}, "https://ws.example.invalid:443", "", false},
		{"loopback never", env{"HTTP_PROXY": "http://hp:1", "ALL_PROXY": "socks5h://ap:3"}, "http://127.0.0.1:80", "", false},
		{"localhost never", env{"ALL_PROXY": "socks5h://ap:3"}, "https://localhost:443", "", false},
		{"IPv6 loopback never", env{"HTTP_PROXY": "http://hp:1"}, "http://[::1]:80", "", false},
		{"CGI refuses HTTP_PROXY", env{"HTTP_PROXY": "http://hp:1", "REQUEST_METHOD": "GET"}, "http://ws.example.invalid:80", "", true},
		{"CGI keeps HTTPS_PROXY", env{"HTTPS_PROXY": "http://sp:1", "REQUEST_METHOD": "GET"}, "https://ws.example.invalid:443", "http://sp:1", false},
		{"CGI keeps ALL_PROXY", env{"ALL_PROXY": "socks5h://ap:3", "REQUEST_METHOD": "GET"}, "http://ws.example.invalid:80", "socks5h://ap:3", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			d := mustNew(t)
			u, _ := url.Parse(tc.target)
			got, err := d.proxyFor(u.Scheme, u.Host)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want one: %v", err, tc.wantErr)
			}
			s := ""
			if got != nil {
				s = got.url.String()
			}
			if s != tc.want {
				t.Errorf("proxy = %q, want %q", s, tc.want)
			}
		})
	}
}

// TestProxyEnvironmentReadOnce checks that New reads the environment and
// nothing later does, and that the options override it.
func TestProxyEnvironmentReadOnce(t *testing.T) {
	setEnv(t, map[string]string{"HTTP_PROXY": "http://first:1"})
	d := mustNew(t)
	explicit := mustNew(t, WithProxy("http://explicit:1"))
	none := mustNew(t, WithoutProxy())
	t.Setenv("HTTP_PROXY", "http://second:1")
	target := &url.URL{Scheme: "http", Host: "ws.example.invalid:80"}
	if px, _ := d.proxyFor(target.Scheme, target.Host); px == nil || px.url.Host != "first:1" {
		t.Errorf("proxy = %v, want the one set when New ran", px)
	}
	if px, _ := explicit.proxyFor(target.Scheme, target.Host); px == nil || px.url.Host != "explicit:1" {
		t.Errorf("WithProxy: proxy = %v", px)
	}
	if px, err := none.proxyFor(target.Scheme, target.Host); px != nil || err != nil {
		t.Errorf("WithoutProxy still resolves proxies: %v, %v", px, err)
	}
	if px, _ := mustNew(t, WithoutProxy(), WithProxyFromEnvironment()).proxyFor(target.Scheme, target.Host); px == nil || px.url.Host != "second:1" {
		t.Errorf("WithProxyFromEnvironment: proxy = %v", px)
	}
}

// TestProxyEnvironmentDial runs whole dials through the environment's
// proxies, to a made-up name that the test proxies map to the loopback
// origin, since the environment never proxies loopback itself.
func TestProxyEnvironmentDial(t *testing.T) {
	var origin wsOrigin
	originAddr := origin.start(t, nil)
	_, port, _ := net.SplitHostPort(originAddr)
	target := "ws.example.invalid:" + port
	connect := (&connectProxy{hosts: hosts{target: originAddr}}).start(t)
	socks := &socksProxy{hosts: hosts{target: originAddr}}
	socksAddr := socks.start(t)

	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"HTTP_PROXY", map[string]string{"HTTP_PROXY": connect}},
		{"ALL_PROXY socks5h", map[string]string{"ALL_PROXY": "socks5h://" + socksAddr}},
		{"HTTP_PROXY before ALL_PROXY", map[string]string{"HTTP_PROXY": "http://" + connect, "ALL_PROXY": "socks5h://127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			conn, err := mustNew(t).DialWebSocket(context.Background(), "ws://"+target+"/")
			if err != nil {
				t.Fatal(err)
			}
			echo(t, conn.NetConn())
			conn.Close()
		})
	}

	t.Run("loopback goes direct", func(t *testing.T) {
		setEnv(t, map[string]string{"ALL_PROXY": "socks5h://127.0.0.1:1"})
		conn, err := mustNew(t).DialWebSocket(context.Background(), "ws://"+originAddr+"/")
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
	})

	t.Run("CGI", func(t *testing.T) {
		setEnv(t, map[string]string{"HTTP_PROXY": connect, "REQUEST_METHOD": "POST"})
		_, err := mustNew(t).DialWebSocket(context.Background(), "ws://"+target+"/")
		var pe *ProxyError
		if !errors.As(err, &pe) || pe.Stage != "resolve" {
			t.Fatalf("err = %v, want a resolve *ProxyError", err)
		}
	})
}

// TestProxyEnvironmentInvalid sets proxy variables that do not parse as
// proxy URLs, passwords with an unencoded /, #, ? or % among them, which
// net/http skips in silence or reads as a proxy on a host named "http". Each
// must fail every dial it would serve, before any traffic, with an
// ErrInvalid error that names the variable and shows nothing of its value
// past the scheme; New must not fail for it; a dial it would not serve,
// because of its scheme, NO_PROXY or a loopback target, goes on.
func TestProxyEnvironmentInvalid(t *testing.T) {
	// Every part of each value past the scheme is one of these, which no
	// error text may hold.
	secret := []string{"zed", "pw9", "x7", "50%", "off", "3128", "1080", "127.0.0.1", "proxy.invalid", "99999", "xn--"}
	for _, tc := range []struct {
		name, value string
		https       bool // the variable serves wss:// targets; else ws:// ones
	}{
		{"HTTPS_PROXY", "http://zed:pw9/x7@127.0.0.1:3128", true},
		{"HTTPS_PROXY", "http://zed:pw9#x7@127.0.0.1:3128", true},
		{"HTTPS_PROXY", "http://zed:pw9?x7@127.0.0.1:3128", true},
		{"HTTPS_PROXY", "http://zed:50%off@127.0.0.1:3128", true},
		{"https_proxy", "http://zed/pw9x7@127.0.0.1:3128", true},
		{"HTTPS_PROXY", "ftp://zed:pw9x7@127.0.0.1:3128", true},
		{"https_proxy", "socks5://zed:@127.0.0.1:1080", true},
		{"HTTP_PROXY", "zed:pw9/x7@127.0.0.1:3128", false},
		{"http_proxy", "http://zed%3Apw9:x7@proxy.invalid:3128", false},
		{"ALL_PROXY", "socks5h://zed:pw9/x7@127.0.0.1:1080", true},
		{"all_proxy", "socks5h://zed:pw9/x7@127.0.0.1:1080", false},
		{"HTTPS_PROXY", "http://zed:pw9@127.0.0.1:99999", true},
		{"HTTP_PROXY", "http://zed:pw9@xn--ü.invalid:3128", false},
	} {
		t.Run(tc.name+" "+tc.value, func(t *testing.T) {
			setEnv(t, map[string]string{tc.name: tc.value, "NO_PROXY": "direct.invalid"})
			dns := &fakeDNS{hosts: map[string][]netip.Addr{
				"ws.invalid":     {netip.MustParseAddr("127.0.0.1")},
				"direct.invalid": {netip.MustParseAddr("127.0.0.1")},
			}}
			t.Cleanup(dns.wait)
			var log strings.Builder
			var mu sync.Mutex
			d, err := New(WithNetDialer(&net.Dialer{Resolver: dns.resolver()}), WithLogger(slog.New(rawHandler{&mu, &log})))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			served, other := "wss", "ws"
			if !tc.https {
				served, other = other, served
			}
			origin := serveUpgrade(t, "")
			_, port, _ := net.SplitHostPort(origin)

			_, err = d.DialWebSocket(context.Background(), served+"://ws.invalid:"+port+"/")
			checkClass(t, err, ErrInvalid)
			if err == nil {
				return
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.name) {
				t.Errorf("the error does not name %s: %s", tc.name, msg)
			}
			for _, s := range secret {
				if strings.Contains(msg, s) {
					t.Errorf("the error shows %q of the value: %s", s, msg)
				}
			}
			_, err = d.DialContext(context.Background(), "tcp", "ws.invalid:"+map[bool]string{true: "443", false: "80"}[tc.https])
			checkClass(t, err, ErrInvalid)
			if names := dns.names(); len(names) != 0 {
				t.Errorf("names were looked up: %q", names)
			}
			mu.Lock()
			for _, s := range secret[:5] {
				if strings.Contains(log.String(), s) {
					t.Errorf("the log shows %q of the value:\n%s", s, log.String())
				}
			}
			mu.Unlock()

			// What the variable does not serve still dials: the other
			// scheme (ALL_PROXY serves both), a NO_PROXY name, a loopback
			// address. Only the route matters here, so a wss:// target
			// gets an answer to its TLS handshake that fails it, as a
			// class other than ErrInvalid shows.
			unserved := []string{served + "://direct.invalid:" + port + "/", served + "://127.0.0.1:" + port + "/"}
			if strings.EqualFold(tc.name, "ALL_PROXY") {
				_, err := d.DialWebSocket(context.Background(), other+"://ws.invalid:"+port+"/")
				checkClass(t, err, ErrInvalid)
			} else {
				unserved = append(unserved, other+"://ws.invalid:"+port+"/")
			}
			for _, u := range unserved {
				c, err := d.DialWebSocket(context.Background(), u)
				if err == nil {
					c.Close()
					continue
				}
				if errors.Is(err, ErrInvalid) || strings.HasPrefix(u, "ws:") {
					t.Errorf("%s: %v", u, err)
				}
			}
		})
	}
}
