package pac

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixedIP is the address tests give myIpAddress, so that none depends on
// this machine's routes.
var fixedIP = netip.MustParseAddr("10.20.30.40")

// mustParse parses src with a fixed client address and, unless opts set
// another, a timeout long enough that no test of a call's outcome depends on
// how loaded the machine is (-race makes goja several times slower).
func mustParse(t testing.TB, src string, opts ...Option) *Script {
	t.Helper()
	s, err := Parse([]byte(src), append([]Option{WithMyIPAddress(fixedIP), WithTimeout(time.Minute)}, opts...)...)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

func mustURL(t testing.TB, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustFind(t testing.TB, s *Script, rawURL string) string {
	t.Helper()
	got, err := s.FindProxyForURL(context.Background(), rawURL)
	if err != nil {
		t.Fatalf("FindProxyForURL(%q): %v", rawURL, err)
	}
	return got
}

func TestDefaults(t *testing.T) {
	c := newConfig(nil)
	if c.timeout != time.Second || c.maxSize != 1<<20 || c.resolver != net.DefaultResolver || c.myIP.IsValid() {
		t.Errorf("defaults: timeout %v, max size %d, resolver %p, my address %v", c.timeout, c.maxSize, c.resolver, c.myIP)
	}
	c = newConfig([]Option{WithTimeout(-1), WithMaxScriptSize(0), WithResolver(nil), WithClock(nil), WithMyIPAddress(netip.MustParseAddr("::ffff:10.0.0.1"))})
	if c.timeout != time.Second || c.maxSize != 1<<20 || c.resolver != net.DefaultResolver || c.now == nil || c.myIP != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("options that restore the defaults: %+v", c)
	}
}

func TestParseRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      string
		is        error
	}{
		{"syntax error", `function FindProxyForURL(url, host) { return "DIRECT"; `, "does not compile", nil},
		{"no entry point", `function findProxyForURL(url, host) { return "DIRECT"; }`, "defines no FindProxyForURL", ErrNoFindProxyForURL},
		{"entry point not a function", `var FindProxyForURL = "DIRECT";`, "defines no FindProxyForURL", ErrNoFindProxyForURL},
		{"empty", ``, "defines no FindProxyForURL", ErrNoFindProxyForURL},
		{"top level throws", `throw new Error("boom"); function FindProxyForURL() {}`, "top level threw Error: boom", nil},
		{"top level undefined name", `var p = proxyFor(); function FindProxyForURL() {}`, "ReferenceError", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), WithMyIPAddress(fixedIP))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse error = %v, want one saying %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("Parse error = %v, want errors.Is %v", err, tc.is)
			}
		})
	}
}

func TestParseSource(t *testing.T) {
	// A byte-order mark, and a Latin-1 comment (invalid UTF-8), as PAC
	// files written on old Windows machines have.
	for _, src := range [][]byte{
		append([]byte("\xEF\xBB\xBF"), `function FindProxyForURL(u, h) { return "DIRECT"; }`...),
		[]byte("// Proxy f\xfcr M\xfcnchen\nfunction FindProxyForURL(u, h) { return \"m\xfcnchen\".length == 7 ? \"DIRECT\" : \"PROXY wrong:1\"; }"),
	} {
		s, err := Parse(src, WithMyIPAddress(fixedIP))
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		if got := mustFind(t, s, "http://a/"); got != "DIRECT" {
			t.Errorf("source %q: answer %q", src, got)
		}
	}
}

// TestScriptSeesChromiumsURL: the script gets the URL and host as Chromium
// passes them, ws:// and wss:// as http:// and https://.
func TestScriptSeesChromiumsURL(t *testing.T) {
	s := mustParse(t, `function FindProxyForURL(url, host) { return url + " " + host; }`)
	for _, tc := range []struct{ in, want string }{
		{"wss://User:pw@Chat.Example.COM:443/room/1?token=secret#frag", "https://chat.example.com/ chat.example.com"},
		{"wss://chat.example.com:8443/room?x=1", "https://chat.example.com:8443/ chat.example.com"},
		{"ws://chat.example.com/room?x=1#f", "http://chat.example.com/room?x=1 chat.example.com"},
		{"ws://chat.example.com:80", "http://chat.example.com/ chat.example.com"},
		{"ws://chat.example.com:8080/a%20b", "http://chat.example.com:8080/a%20b chat.example.com"},
		{"https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/ 2001:db8::1"},
		{"http://[::1]:8080/x?", "http://[::1]:8080/x? ::1"},
		{"HTTP://u@10.0.0.1/", "http://10.0.0.1/ 10.0.0.1"},
		{"ftp://files.example.com/pub", "ftp://files.example.com/pub files.example.com"},
	} {
		if got := mustFind(t, s, tc.in); got != tc.want {
			t.Errorf("script saw %q for %q, want %q", got, tc.in, tc.want)
		}
	}
	// Proxies shapes a *url.URL the same way, including the bare
	// scheme-and-address form that wsdial's proxy stage passes.
	s = mustParse(t, `function FindProxyForURL(url, host) { return "PROXY " + host + ":1; PROXY " + url.split("/")[2] + ":2"; }`)
	got, err := s.Proxies(context.Background(), &url.URL{Scheme: "https", Host: "chat.example.com:443"})
	if err != nil || urls(got) != "http://chat.example.com:1 http://chat.example.com:2" {
		t.Errorf("Proxies = %q, %v", urls(got), err)
	}
}

func TestBadTargets(t *testing.T) {
	s := mustParse(t, `function FindProxyForURL(url, host) { return "DIRECT"; }`)
	for _, raw := range []string{"", "example.com", "/path", "mailto:a@example.com", "http://", "http://a b/", "http://%zz/"} {
		if _, err := s.FindProxyForURL(context.Background(), raw); err == nil {
			t.Errorf("FindProxyForURL(%q) succeeded", raw)
		}
	}
	for _, u := range []*url.URL{nil, {Scheme: "ws"}, {Host: "a"}, {Scheme: "ws", Host: "a\nb"}, {Scheme: "ws", Host: "a@b"}} {
		if _, err := s.Proxies(context.Background(), u); err == nil {
			t.Errorf("Proxies(%#v) succeeded", u)
		}
	}
}

func TestEntryPoints(t *testing.T) {
	// FindProxyForURLEx wins when both are defined, and serves alone.
	both := mustParse(t, `function FindProxyForURL(u, h) { return "PROXY legacy:1"; }
		function FindProxyForURLEx(u, h) { return "PROXY ex:1"; }`)
	if got := mustFind(t, both, "http://a/"); got != "PROXY ex:1" {
		t.Errorf("with both entry points: %q", got)
	}
	exOnly := mustParse(t, `function FindProxyForURLEx(u, h) { return isInNetEx(myIpAddressEx(), "10.0.0.0/8") ? "PROXY ex:1" : "DIRECT"; }`)
	if got := mustFind(t, exOnly, "http://a/"); got != "PROXY ex:1" {
		t.Errorf("Ex alone: %q", got)
	}
	// The Ex helpers are there for the legacy entry point too.
	legacy := mustParse(t, `function FindProxyForURL(u, h) { return getClientVersion() + " " + sortIpAddressList("10.0.0.2;fd00::1"); }`)
	if got := mustFind(t, legacy, "http://a/"); got != "1.0 fd00::1;10.0.0.2" {
		t.Errorf("Ex helpers from FindProxyForURL: %q", got)
	}
}

func TestAnswerTypes(t *testing.T) {
	for _, tc := range []struct{ ret, want, err string }{
		{`"PROXY a:1"`, "PROXY a:1", ""},
		{`null`, "", ""},
		{`undefined`, "", ""},
		{``, "", ""},
		{`42`, "", "returned a number, not a string"},
		{`true`, "", "returned a boolean, not a string"},
		{`["PROXY a:1"]`, "", "returned a object, not a string"},
		{`new String("PROXY a:1")`, "", "returned a object, not a string"},
		{`{toString: function() { return "PROXY a:1"; }}`, "", "returned a object, not a string"},
		{`function() {}`, "", "returned a function, not a string"},
		{`Symbol("x")`, "", "returned a symbol, not a string"},
		{`10n`, "", "returned a bigint, not a string"},
		{`"x".repeat(70000)`, "", "returned 70000 characters; the limit is 65536"},
	} {
		s := mustParse(t, `function FindProxyForURL(u, h) { return `+tc.ret+`; }`)
		got, err := s.FindProxyForURL(context.Background(), "http://a/")
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("return %s: %q, %v; want %q", tc.ret, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("return %s: %q, %v; want an error saying %q", tc.ret, got, err, tc.err)
		}
	}
}

func TestThrowingScripts(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`throw new Error("no proxy for you")`, "FindProxyForURL threw Error: no proxy for you"},
		{`throw "plain string"`, "threw plain string"},
		{`throw {toString: function() { while (true) {} }}`, "threw an object"},
		{`throw {message: "m", name: "Custom"}`, "threw Custom: m"},
		{`return undefinedFunction()`, "ReferenceError"},
		{`return null.x`, "TypeError"},
		{`function f(n) { return f(n + 1) + 1; } return f(0)`, "recursed deeper than 2000 calls"},
		{`function f() { return [2, 1].sort(f); } return f()`, "recursed deeper than 2000 calls"},
		{`function f() { try { return f(); } catch (e) { return f(); } } return f()`, "recursed deeper than 2000 calls"},
	} {
		s := mustParse(t, `function FindProxyForURL(u, h) { `+tc.body+`; }`, WithTimeout(5e9))
		_, err := s.FindProxyForURL(context.Background(), "http://a/")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.body, err, tc.want)
		}
	}
}

// TestNoStateLeaksBetweenCalls: what a call changes, in globals, in the
// built-in prototypes or in the helpers, is gone for the next call.
func TestNoStateLeaksBetweenCalls(t *testing.T) {
	s := mustParse(t, `
		var calls = 0;
		var seen = {};
		function FindProxyForURL(url, host) {
			calls++;
			var before = [calls, seen[host] ? "seen" : "new", typeof Object.prototype.polluted,
				String.prototype.indexOf.call("ab", "b"), isPlainHostName("a")].join(" ");
			seen[host] = true;
			Object.prototype.polluted = "yes";
			String.prototype.indexOf = function() { return -7; };
			isPlainHostName = function() { return "replaced"; };
			counter = (typeof counter === "number" ? counter : 0) + 1;
			return before + " " + counter;
		}`)
	for i := range 3 {
		if got := mustFind(t, s, "http://same.host/"); got != "1 new undefined 1 true 1" {
			t.Fatalf("call %d saw %q, state of an earlier call", i, got)
		}
	}
}

// TestHelpersIgnorePrototypeTampering: the helpers compute in Go, so a
// script that breaks the built-ins they would use in JavaScript changes
// nothing they return.
func TestHelpersIgnorePrototypeTampering(t *testing.T) {
	s := mustParse(t, `function FindProxyForURL(url, host) {
			String.prototype.split = function() { throw new Error("split"); };
			String.prototype.substring = function() { return ""; };
			String.prototype.toUpperCase = function() { return "MON"; };
			Array.prototype.join = function() { return "joined"; };
			RegExp.prototype.test = function() { return true; };
			RegExp.prototype.exec = function() { return null; };
			Date.prototype.getDay = function() { return 99; };
			Object.defineProperty(Object.prototype, "length", {get: function() { throw new Error("length"); }});
			var r = [dnsDomainLevels("a.b.c"), dnsDomainIs("www.corp.example", ".corp.example"),
				shExpMatch("www.corp.example", "*.other"), isInNet("10.1.2.3", "10.0.0.0", "255.0.0.0"),
				convert_addr("1.2.3.4"), localHostOrDomainIs("www", "www.corp.example"),
				sortIpAddressList("10.0.0.2;10.0.0.1"), isInNetEx("fd00::1", "fd00::/8"),
				weekdayRange("SUN", "SAT")];
			var out = "";
			for (var i = 0; i < 9; i++) out += (i ? "," : "") + r[i];
			return out;
		}`)
	if got := mustFind(t, s, "http://a/"); got != "2,true,false,true,16909060,true,10.0.0.1;10.0.0.2,true,true" {
		t.Errorf("helpers under tampered prototypes: %q", got)
	}
}

// TestConcurrentCalls runs calls of one script in parallel (under -race in
// CI), each with its own URL, and checks every answer is its own.
func TestConcurrentCalls(t *testing.T) {
	dns := newDNSServer(t, corpDNS)
	s := mustParse(t, `
		var hits = 0;
		function FindProxyForURL(url, host) {
			hits++;
			if (isInNet(host, "10.20.0.0", "255.255.0.0")) return "DIRECT";
			return "PROXY " + host.split(".")[0] + ".proxy:" + hits;
		}`, WithResolver(dns.resolver()))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 8 {
				host := fmt.Sprintf("h%d-%d.example", g, i)
				want := "PROXY h" + fmt.Sprint(g) + "-" + fmt.Sprint(i) + ".proxy:1"
				if i%4 == 0 {
					host, want = "intranet.corp.example", "DIRECT"
				}
				got, err := s.FindProxyForURL(context.Background(), "https://"+host+"/")
				if err != nil || got != want {
					errs <- fmt.Errorf("%s: %q, %v; want %q", host, got, err, want)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
