package pac

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// urls renders a parsed answer as text, "DIRECT" for a nil entry.
func urls(us []*url.URL) string {
	var parts []string
	for _, u := range us {
		if u == nil {
			parts = append(parts, "DIRECT")
		} else {
			parts = append(parts, u.String())
		}
	}
	return strings.Join(parts, " ")
}

func TestParseAnswer(t *testing.T) {
	for _, tc := range []struct {
		answer  string
		want    string
		skipped int
	}{
		{"", "DIRECT", 0},
		{"   ", "DIRECT", 0},
		{";;", "DIRECT", 0},
		{"DIRECT", "DIRECT", 0},
		{"direct", "DIRECT", 0},
		{"PROXY a.corp:8080", "http://a.corp:8080", 0},
		{"PROXY a.corp", "http://a.corp:80", 0},
		{"proxy A.Corp:3128", "http://A.Corp:3128", 0},
		{"HTTP a.corp:8080", "http://a.corp:8080", 0},
		{"HTTPS secure.corp", "https://secure.corp:443", 0},
		{"HTTPS secure.corp:8443", "https://secure.corp:8443", 0},
		{"SOCKS s.corp", "socks5h://s.corp:1080", 0},
		{"SOCKS4 s.corp:1081", "socks5h://s.corp:1081", 0},
		{"SOCKS5 s.corp:1082", "socks5h://s.corp:1082", 0},
		{"socks5 s.corp", "socks5h://s.corp:1080", 0},
		{"PROXY a:1; PROXY b:2; DIRECT", "http://a:1 http://b:2 DIRECT", 0},
		{" \tPROXY\t a:1 ;\n\tDIRECT ; ", "http://a:1 DIRECT", 0},
		{"PROXY a:1;", "http://a:1", 0},
		{"PROXY [::1]:8080", "http://[::1]:8080", 0},
		{"PROXY [fd00::5]", "http://[fd00::5]:80", 0},
		{"PROXY fd00::5", "http://[fd00::5]:80", 0},
		{"PROXY ::1", "http://[::1]:80", 0},
		// Bare, an address ending in a number may end in a port: Chromium
		// reads fd00::5 port 3128 where the text is also the address
		// fd00::5:3128. Either reading may dial the wrong proxy.
		{"PROXY fd00::5:3128; DIRECT", "DIRECT", 1},
		{"PROXY 2001:db8::1:80; DIRECT", "DIRECT", 1},
		{"PROXY [fd00::5]:3128", "http://[fd00::5]:3128", 0},
		{"PROXY 10.0.0.1:08080", "http://10.0.0.1:8080", 0},
		{"PROXY under_score.corp:1", "http://under_score.corp:1", 0},
		// Unusable entries are skipped, the rest kept in order.
		{"QUIC q.corp:443; PROXY a:1", "http://a:1", 1},
		{"PROXY a:0; PROXY a:65536; PROXY a:x; PROXY a:-1; PROXY a:+1; PROXY b:2", "http://b:2", 5},
		{"PROXY a:; PROXY :80; PROXY b", "http://b:80", 2},
		{"PROXY user:pw@a:1; DIRECT", "DIRECT", 1},
		{"PROXY a:1/path; PROXY a:1?x; PROXY a#b:1; DIRECT", "DIRECT", 3},
		{"PROXY a b; DIRECT", "DIRECT", 1},
		{"DIRECT now; PROXY a:1", "http://a:1", 1},
		{"PROXY; DIRECT", "DIRECT", 1},
		{"PROXYa:1; DIRECT", "DIRECT", 1},
		{"PROXY [::1; DIRECT", "DIRECT", 1},
		{"PROXY [a.corp]:1; DIRECT", "DIRECT", 1},
		{"PROXY [::1]x; DIRECT", "DIRECT", 1},
		{"PROXY [fe80::1%eth0]:1; DIRECT", "DIRECT", 1},
		{"PROXY bücher.example:1; DIRECT", "DIRECT", 1},
		{"PROXY a\x00b:1; DIRECT", "DIRECT", 1},
		{"PROXY " + strings.Repeat("a", 254) + ":1; DIRECT", "DIRECT", 1},
	} {
		got, skipped, err := parseAnswer(tc.answer)
		if err != nil {
			t.Errorf("parseAnswer(%q): %v", tc.answer, err)
			continue
		}
		if urls(got) != tc.want || len(skipped) != tc.skipped {
			t.Errorf("parseAnswer(%q) = %q with %d skipped %v, want %q with %d", tc.answer, urls(got), len(skipped), skipped, tc.want, tc.skipped)
		}
		for _, s := range skipped {
			if s.reason == "" || s.entry == "" {
				t.Errorf("parseAnswer(%q): skipped entry without reason: %+v", tc.answer, s)
			}
		}
	}
}

func TestParseAnswerNoUsableEntry(t *testing.T) {
	for _, answer := range []string{"QUIC q:1", "PROXY a:0; BOGUS", "DIRECT x"} {
		got, skipped, err := parseAnswer(answer)
		if !errors.Is(err, ErrNoUsableProxy) || got != nil || len(skipped) == 0 {
			t.Errorf("parseAnswer(%q) = %v, %v, %v; want ErrNoUsableProxy", answer, got, skipped, err)
		}
	}
}

// TestProxiesLogsSkippedEntries: the reason for each skipped entry reaches
// the logger, and the usable ones are returned.
func TestProxiesLogsSkippedEntries(t *testing.T) {
	var logged bytes.Buffer
	s := mustParse(t, `function FindProxyForURL(u, h) { return "SOCKS4A s:1; PROXY a:1; PROXY b:99999; DIRECT"; }`,
		WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
	got, err := s.Proxies(context.Background(), mustURL(t, "ws://example.com/chat?token=secret"))
	if err != nil {
		t.Fatal(err)
	}
	if urls(got) != "http://a:1 DIRECT" {
		t.Errorf("Proxies = %q", urls(got))
	}
	out := logged.String()
	if strings.Contains(out, "secret") {
		t.Errorf("the log shows the URL's query:\n%s", out)
	}
	for _, want := range []string{`entry="SOCKS4A s:1"`, `unknown type \"SOCKS4A\"`, `entry="PROXY b:99999"`, `port \"99999\"`, "level=WARN"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}

func TestProxiesEmptyAndNullMeanDirect(t *testing.T) {
	for _, ret := range []string{`""`, `null`, `undefined`, `" ; "`} {
		s := mustParse(t, `function FindProxyForURL(u, h) { return `+ret+`; }`)
		got, err := s.Proxies(context.Background(), mustURL(t, "ws://example.com/"))
		if err != nil || len(got) != 1 || got[0] != nil {
			t.Errorf("answer %s: Proxies = %v, %v; want [DIRECT]", ret, got, err)
		}
	}
}

func TestProxiesNoUsableEntry(t *testing.T) {
	s := mustParse(t, `function FindProxyForURL(u, h) { return "QUIC q.corp:443"; }`)
	_, err := s.Proxies(context.Background(), mustURL(t, "wss://example.com/"))
	if !errors.Is(err, ErrNoUsableProxy) {
		t.Fatalf("Proxies error = %v, want ErrNoUsableProxy", err)
	}
}
