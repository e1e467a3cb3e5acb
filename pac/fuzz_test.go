package pac

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseAnswer feeds arbitrary answers to the parser that reads what a
// script returns. Whatever the answer, it must not panic; every proxy it
// returns must be a URL that a dial can use as it is (a known scheme, a
// host, a port from 1 to 65535, nothing else) and that survives a round
// trip through url.Parse and through the answer's grammar; every entry must
// be either returned or skipped with a reason; and the error must be
// ErrNoUsableProxy exactly when entries exist and none is usable.
func FuzzParseAnswer(f *testing.F) {
	for _, seed := range []string{
		"", "DIRECT", "PROXY a.corp:8080; PROXY b.corp:8080; DIRECT",
		"HTTPS s:443;SOCKS5 [::1]:1080; socks x", "PROXY fd00::1", "PROXY [::1]:",
		"QUIC q:1", "proxy\ta:1 ;; direct", "PROXY user:pw@h:1", "PROXY h:99999",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, answer string) {
		proxies, skipped, err := parseAnswer(answer)
		entries := 0
		for e := range strings.SplitSeq(answer, ";") {
			if strings.TrimSpace(e) != "" {
				entries++
			}
		}
		switch {
		case err != nil:
			if !errors.Is(err, ErrNoUsableProxy) || proxies != nil || len(skipped) != entries || entries == 0 {
				t.Fatalf("parseAnswer(%q) = %v, %d skipped of %d, %v", answer, proxies, len(skipped), entries, err)
			}
		case entries == 0:
			if len(proxies) != 1 || proxies[0] != nil || len(skipped) != 0 {
				t.Fatalf("parseAnswer(%q) of no entries = %v, %v; want one DIRECT", answer, proxies, skipped)
			}
		case len(proxies)+len(skipped) != entries || len(proxies) == 0:
			t.Fatalf("parseAnswer(%q): %d proxies and %d skipped of %d entries", answer, len(proxies), len(skipped), entries)
		}
		for _, s := range skipped {
			if s.reason == "" {
				t.Fatalf("parseAnswer(%q) skipped %q with no reason", answer, s.entry)
			}
		}
		// Written back in the answer's grammar, the proxies read the same:
		// what a dial is given is what the entry said, not a guess at it.
		var again []string
		for _, u := range proxies {
			if u == nil {
				again = append(again, "DIRECT")
				continue
			}
			again = append(again, map[string]string{"http": "PROXY", "https": "HTTPS", "socks5h": "SOCKS5"}[u.Scheme]+" "+u.Host)
		}
		if back, _, err := parseAnswer(strings.Join(again, "; ")); len(proxies) > 0 && (err != nil || urls(back) != urls(proxies)) {
			t.Fatalf("parseAnswer(%q) = %q, which reads back as %q, %v", answer, urls(proxies), urls(back), err)
		}
		for _, u := range proxies {
			if u == nil {
				continue
			}
			switch u.Scheme {
			case "http", "https", "socks5h":
			default:
				t.Fatalf("parseAnswer(%q): scheme %q", answer, u.Scheme)
			}
			if u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
				t.Fatalf("parseAnswer(%q): %#v holds more than scheme and host", answer, u)
			}
			back, perr := url.Parse(u.String())
			if perr != nil || back.Host != u.Host || back.Hostname() == "" {
				t.Fatalf("parseAnswer(%q): %q does not round-trip: %v, %v", answer, u, back, perr)
			}
			if port, perr := strconv.Atoi(back.Port()); perr != nil || port < 1 || port > 65535 {
				t.Fatalf("parseAnswer(%q): %q has port %q", answer, u, back.Port())
			}
		}
	})
}
