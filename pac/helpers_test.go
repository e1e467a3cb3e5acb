package pac

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// evalEach runs each expression in its own call of one script and returns
// the results as text (String(value)).
func evalEach(t *testing.T, exprs []string, opts ...Option) []string {
	t.Helper()
	var b strings.Builder
	b.WriteString("var exprs = [\n")
	for _, e := range exprs {
		b.WriteString("function() { return " + e + "; },\n")
	}
	b.WriteString("];\nfunction FindProxyForURL(url, host) { return String(exprs[parseInt(host.slice(1), 10)]()); }")
	s := mustParse(t, b.String(), opts...)
	out := make([]string, len(exprs))
	for i := range exprs {
		got, err := s.FindProxyForURL(context.Background(), "http://e"+strconv.Itoa(i)+"/")
		if err != nil {
			t.Fatalf("%s: %v", exprs[i], err)
		}
		out[i] = got
	}
	return out
}

type exprCase struct{ expr, want string }

func checkExprs(t *testing.T, cases []exprCase, opts ...Option) {
	t.Helper()
	exprs := make([]string, len(cases))
	for i, c := range cases {
		exprs[i] = c.expr
	}
	for i, got := range evalEach(t, exprs, opts...) {
		if got != cases[i].want {
			t.Errorf("%s = %s, want %s", cases[i].expr, got, cases[i].want)
		}
	}
}

func TestHostHelpers(t *testing.T) {
	checkExprs(t, []exprCase{
		{`isPlainHostName("www")`, "true"},
		{`isPlainHostName("www.corp.example")`, "false"},
		{`isPlainHostName("fd00::1")`, "false"},
		{`isPlainHostName("")`, "true"},
		{`isPlainHostName()`, "true"}, // "undefined" has no dot
		{`dnsDomainIs("www.corp.example", ".corp.example")`, "true"},
		{`dnsDomainIs("www.corp.example", "corp.example")`, "true"},
		{`dnsDomainIs("corp.example", ".corp.example")`, "false"},
		{`dnsDomainIs("www.CORP.example", ".corp.example")`, "false"},
		{`dnsDomainIs("a", "")`, "true"},
		{`localHostOrDomainIs("www.corp.example", "www.corp.example")`, "true"},
		{`localHostOrDomainIs("www", "www.corp.example")`, "true"},
		{`localHostOrDomainIs("www.corp", "www.corp.example")`, "true"},
		{`localHostOrDomainIs("home.corp.example", "www.corp.example")`, "false"},
		{`localHostOrDomainIs("www.corp.example", "www")`, "false"},
		{`dnsDomainLevels("www")`, "0"},
		{`dnsDomainLevels("www.corp.example")`, "2"},
		{`dnsDomainLevels(1.5)`, "1"},
		{`shExpMatch("http://www.corp.example/a/b", "*/a/*")`, "true"},
		{`shExpMatch("www.corp.example", "*.corp.example")`, "true"},
		{`shExpMatch("corp.example", "*.corp.example")`, "false"},
		{`shExpMatch("abc", "a?c")`, "true"},
		{`shExpMatch("ac", "a?c")`, "false"},
		{`shExpMatch("a.c", "a?c")`, "true"},
		{`shExpMatch("axc", "a.c")`, "false"},
		{`shExpMatch("ünï", "?n?")`, "true"},
		{`shExpMatch("", "*")`, "true"},
		{`shExpMatch("", "")`, "true"},
		{`shExpMatch("a", "")`, "false"},
		{`shExpMatch("abcabd", "*ab?")`, "true"},
		{`shExpMatch("` + strings.Repeat("a", 3000) + `", "` + strings.Repeat("*a", 50) + `b")`, "false"},
		{`alert("hello")`, "undefined"},
	})
}

// TestShExpMatchAsBrowsers: every browser, pacparser and pac-resolver
// build shExpMatch's pattern into a regular expression, escaping '.' alone,
// and scripts written against them rely on that: alternation and classes
// work, '+' repeats, '.' in the built expression (from '*' and '?') stops
// at a line break, and a pattern that is no regular expression throws.
func TestShExpMatchAsBrowsers(t *testing.T) {
	threw := func(call string) string {
		return `(function() { try { ` + call + `; return "no throw"; } catch (e) { return "threw"; } })()`
	}
	checkExprs(t, []exprCase{
		// The form of karakun/OpenWebStart#571, from a real PAC file.
		{`shExpMatch("my.example.com", "(*.example.com|example.com)")`, "true"},
		{`shExpMatch("example.com", "(*.example.com|example.com)")`, "true"},
		{`shExpMatch("example.org", "(*.example.com|example.com)")`, "false"},
		{`shExpMatch("a.corp.example", "*.(corp|lab).example")`, "true"},
		{`shExpMatch("b.lab.example", "*.(corp|lab).example")`, "true"},
		{`shExpMatch("c.dev.example", "*.(corp|lab).example")`, "false"},
		{`shExpMatch("web3.example", "web[0-9].example")`, "true"},
		{`shExpMatch("webx.example", "web[0-9].example")`, "false"},
		{`shExpMatch("x", "[x]")`, "true"},
		{`shExpMatch("[x]", "[x]")`, "false"},
		{`shExpMatch("aab", "a+b")`, "true"},
		{`shExpMatch("a+b", "a+b")`, "false"},
		{`shExpMatch("a{b", "a{b")`, "true"},
		{`shExpMatch("x.example", "^x.example$")`, "true"},
		{`shExpMatch("a\nb", "a*b")`, "false"},
		{`shExpMatch("a\rb", "a?b")`, "false"},
		{`shExpMatch("a.b", "a?b")`, "true"},
		{`shExpMatch("abab", "(ab)\\1")`, "true"}, // a backreference: beyond RE2
		{threw(`shExpMatch("c", "c++")`), "threw"},
		{threw(`shExpMatch("x", "[x")`), "threw"},
		{threw(`shExpMatch("x", "(x")`), "threw"},
	})
}

func TestGlobMatchAgainstTable(t *testing.T) {
	for _, tc := range []struct {
		s, p string
		want bool
	}{
		{"", "", true}, {"", "?", false}, {"a", "*", true}, {"a", "**", true}, {"ab", "*b", true},
		{"ab", "a*", true}, {"ab", "*a", false}, {"mississippi", "m*iss*ppi", true},
		{"mississippi", "m*iss*ppx", false}, {"aaa", "a*a*a*a", false}, {"aaaa", "a*a*a*a", true},
	} {
		if got, finished := globMatch(tc.s, tc.p, nil); got != tc.want || !finished {
			t.Errorf("globMatch(%q, %q) = %v", tc.s, tc.p, got)
		}
	}
}

func TestAddressHelpers(t *testing.T) {
	dns := newDNSServer(t, corpDNS)
	checkExprs(t, []exprCase{
		{`dnsResolve("intranet.corp.example")`, "10.20.1.5"},
		{`dnsResolve("git.corp.example")`, "10.20.3.7"},
		{`dnsResolve("v6only.corp.example")`, "null"},
		{`dnsResolve("nowhere.corp.example")`, "null"},
		{`dnsResolve("10.1.2.3")`, "10.1.2.3"},
		{`dnsResolve("fd00::1")`, "null"},
		{`dnsResolve("")`, "null"},
		{`dnsResolve("printer")`, "10.20.9.9"},
		{`isResolvable("intranet.corp.example")`, "true"},
		{`isResolvable("v6only.corp.example")`, "false"},
		{`isResolvable("nowhere.corp.example")`, "false"},
		{`isInNet("intranet.corp.example", "10.20.0.0", "255.255.0.0")`, "true"},
		{`isInNet("lab.corp.example", "10.0.0.0", "255.0.0.0")`, "false"},
		{`isInNet("lab.corp.example", "172.16.0.0", "255.240.0.0")`, "true"},
		{`isInNet("nowhere.corp.example", "0.0.0.0", "0.0.0.0")`, "false"},
		{`isInNet("10.1.2.3", "10.0.0.0", "255.0.0.0")`, "true"},
		{`isInNet("010.001.002.003", "10.0.0.0", "255.0.0.0")`, "true"},
		{`isInNet("11.1.2.3", "10.0.0.0", "255.0.0.0")`, "false"},
		{`isInNet("10.1.2.3", "10.1.2.3", "255.255.255.255")`, "true"},
		{`isInNet("10.1.2.3", "10.255.2.255", "255.0.255.0")`, "true"},
		{`isInNet("10.1.2.3", "10.0.0.0", "bogus")`, "false"},
		{`isInNet("10.1.2.3", "10.0.0", "255.0.0.0")`, "false"},
		{`isInNet("256.1.2.3", "0.0.0.0", "0.0.0.0")`, "false"},
		{`isInNet("fd00::1", "0.0.0.0", "0.0.0.0")`, "false"},
		{`convert_addr("1.2.3.4")`, "16909060"},
		{`convert_addr("255.255.255.255")`, "-1"},
		{`convert_addr("255.0.0.0")`, "-16777216"},
		{`convert_addr("10.0.0")`, "167772160"},
		{`convert_addr("0x10.1.2.3")`, "268501507"},
		{`convert_addr("256.257.1.1")`, "65793"},
		{`convert_addr("a.b.c.d")`, "0"},
		{`convert_addr(" 1 .2.3.4.5")`, "16909060"},
		{`myIpAddress()`, "10.20.30.40"},
		{`dnsResolveEx("git.corp.example")`, "fd00:20::7;10.20.3.7"},
		{`dnsResolveEx("v6only.corp.example")`, "fd00:30::1"},
		{`dnsResolveEx("nowhere.corp.example")`, ""},
		{`dnsResolveEx("fd00::1")`, "fd00::1"},
		{`isResolvableEx("v6only.corp.example")`, "true"},
		{`isResolvableEx("nowhere.corp.example")`, "false"},
		{`isInNetEx("fd00:30::1", "fd00::/16")`, "true"},
		{`isInNetEx("fd00:30::1", "fd00:20::/32")`, "false"},
		{`isInNetEx("10.20.1.5", "10.20.0.0/16")`, "true"},
		{`isInNetEx("10.20.1.5", "10.20.1.5/32")`, "true"},
		{`isInNetEx("10.20.1.5", "10.21.0.0/16")`, "false"},
		{`isInNetEx("10.20.1.5", "::/0")`, "false"},
		{`isInNetEx("fd00::1", "0.0.0.0/0")`, "false"},
		{`isInNetEx("::ffff:10.20.1.5", "10.20.0.0/16")`, "true"},
		{`isInNetEx("10.20.1.5", "::ffff:10.20.0.0/112")`, "false"},
		{`isInNetEx("fd00:20::7;10.20.3.7", "10.20.0.0/16")`, "true"},
		{`isInNetEx(dnsResolveEx("git.corp.example"), "fd00:20::/32")`, "true"},
		{`isInNetEx("git.corp.example", "fd00:20::/32")`, "false"},
		{`isInNetEx("fd00:20::7;bogus", "fd00:20::/32")`, "false"},
		{`isInNetEx("10.20.1.5", "10.20.0.0/33")`, "false"},
		{`isInNetEx("10.20.1.5", "10.20.0.0")`, "false"},
		{`isInNetEx("10.20.1.5", "garbage")`, "false"},
		{`myIpAddressEx()`, "10.20.30.40"},
		{`sortIpAddressList("10.0.0.2;fd00::1;10.0.0.1;2001:db8::1")`, "2001:db8::1;fd00::1;10.0.0.1;10.0.0.2"},
		{`sortIpAddressList("2001:4898:28:3:201:2ff:feea:fc14; 157.59.139.22; fe80::5efe:157.59.139.22")`,
			"2001:4898:28:3:201:2ff:feea:fc14;fe80::5efe:157.59.139.22;157.59.139.22"},
		{`sortIpAddressList("10.0.0.10;10.0.0.9")`, "10.0.0.9;10.0.0.10"},
		{`sortIpAddressList("FD00::1;fd00::0:1")`, "FD00::1;fd00::0:1"},
		{`sortIpAddressList("10.0.0.1;bogus")`, ""},
		{`sortIpAddressList("")`, ""},
		{`sortIpAddressList(" ; ;")`, ""},
		{`getClientVersion()`, "1.0"},
	}, WithResolver(dns.resolver()))
}

// TestDNSLookupsOncePerCall: a name resolved several times in one call is
// asked once, and again in the next call, whose state starts fresh.
func TestDNSLookupsOncePerCall(t *testing.T) {
	dns := newDNSServer(t, corpDNS)
	s := mustParse(t, `function FindProxyForURL(url, host) {
			var n = 0;
			for (var i = 0; i < 10; i++) { if (isResolvable(host)) n++; if (dnsResolve(host)) n++; if (isInNet(host, "10.0.0.0", "255.0.0.0")) n++; }
			return "n=" + n;
		}`, WithResolver(dns.resolver()))
	before := dns.queries.Load()
	if got := mustFind(t, s, "http://intranet.corp.example/"); got != "n=30" {
		t.Fatalf("answer %q", got)
	}
	perCall := dns.queries.Load() - before
	if perCall < 1 || perCall > 2 { // A, and AAAA if the resolver asks it too
		t.Errorf("one call sent %d queries for one name", perCall)
	}
	mustFind(t, s, "http://intranet.corp.example/")
	if again := dns.queries.Load() - before - perCall; again != perCall {
		t.Errorf("second call sent %d queries, first %d", again, perCall)
	}
}

// TestDNSLookupBudget: a script that resolves name after name is stopped
// with an error rather than flooding the resolver until its timeout.
func TestDNSLookupBudget(t *testing.T) {
	dns := newDNSServer(t, corpDNS)
	s := mustParse(t, `function FindProxyForURL(url, host) {
			for (var i = 0; ; i++) dnsResolve("n" + i + ".corp.example");
		}`, WithResolver(dns.resolver()), WithTimeout(30e9))
	_, err := s.FindProxyForURL(context.Background(), "http://a/")
	if err == nil || !strings.Contains(err.Error(), "more than 128 names") {
		t.Fatalf("error %v", err)
	}
	if !dns.asked("n127.corp.example") || dns.asked("n128.corp.example") {
		t.Errorf("the budget stopped at the wrong name")
	}
}

// TestDNSHonoursContext: a lookup stuck on a silent name server ends when
// the caller's context does, and the call reports the caller's error.
func TestDNSHonoursContext(t *testing.T) {
	dns := newHeldDNSServer(t, corpDNS)
	s := mustParse(t, `function FindProxyForURL(url, host) {
			try { return dnsResolve(host) ? "DIRECT" : "PROXY not-resolved:1"; } catch (e) { return "PROXY caught:1"; }
		}`, WithResolver(dns.resolver()), WithTimeout(60e9))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-dns.arrived
		cancel()
	}()
	got, err := s.FindProxyForURL(ctx, "http://intranet.corp.example/")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("FindProxyForURL = %q, %v; want the context's error", got, err)
	}
}

func TestMyIPAddressOption(t *testing.T) {
	v6 := netip.MustParseAddr("fd00::40")
	checkExprs(t, []exprCase{
		{`myIpAddress()`, "fd00::40"},
		{`myIpAddressEx()`, "fd00::40"},
	}, WithMyIPAddress(v6))
}
