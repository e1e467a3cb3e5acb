package pac

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ErrNoUsableProxy means an answer named proxies but none that wsdial can
// use: every entry was malformed or of an unknown type. It is not taken to
// mean DIRECT, as Chromium takes it, because an answer that names only
// proxies may be the network's way of forbidding direct connections.
var ErrNoUsableProxy = errors.New("pac: the answer names no usable proxy")

// maxAnswer caps what a script may return. A real answer names a handful of
// proxies in well under a kilobyte; this leaves room for generated ones.
const maxAnswer = 64 << 10

// entryKind maps an answer's entry types, in upper case, to the URL scheme
// and default port of what they become. Every SOCKS type becomes socks5h:
// wsdial speaks SOCKS5 only, and SOCKS4 servers in use today speak SOCKS5
// too (dante, ssh -D, Tor), while the bare "SOCKS" is read as version 4 by
// Chromium and 5 by Firefox. socks5h rather than socks5 lets the proxy
// resolve the target's name, as Chromium does for SOCKS5: a client whose
// network hands it a PAC file often cannot resolve outside names itself.
var entryKind = map[string]struct{ scheme, port string }{
	"PROXY":  {"http", "80"},
	"HTTP":   {"http", "80"},
	"HTTPS":  {"https", "443"},
	"SOCKS":  {"socks5h", "1080"},
	"SOCKS4": {"socks5h", "1080"},
	"SOCKS5": {"socks5h", "1080"},
}

// skippedEntry is one entry of an answer that cannot be used, with why.
type skippedEntry struct {
	entry, reason string
}

// parseAnswer reads an answer in the grammar every browser accepts: entries
// separated by ';', each DIRECT or a type and host[:port], in any case and
// with any spacing. A DIRECT entry becomes a nil URL. An empty answer is one
// DIRECT. Unusable entries are returned apart, in order; when there are only
// those the error is ErrNoUsableProxy.
func parseAnswer(answer string) ([]*url.URL, []skippedEntry, error) {
	var proxies []*url.URL
	var skipped []skippedEntry
	for elem := range strings.SplitSeq(answer, ";") {
		elem = strings.TrimSpace(elem)
		if elem == "" {
			continue // "PROXY a:1;" and ";;" are common and mean nothing more
		}
		u, reason := parseEntry(elem)
		if reason != "" {
			skipped = append(skipped, skippedEntry{elem, reason})
			continue
		}
		proxies = append(proxies, u)
	}
	switch {
	case len(proxies) > 0:
		return proxies, skipped, nil
	case len(skipped) > 0:
		return nil, skipped, fmt.Errorf("%w: %q", ErrNoUsableProxy, clip(answer, 200))
	}
	return []*url.URL{nil}, nil, nil
}

// parseEntry reads one trimmed, non-empty entry. It returns the proxy (nil
// for DIRECT) or, when the entry cannot be used, why.
func parseEntry(elem string) (*url.URL, string) {
	typ, rest := elem, ""
	if i := strings.IndexAny(elem, " \t\r\n\v\f"); i >= 0 {
		typ, rest = elem[:i], strings.TrimSpace(elem[i:])
	}
	typ = strings.ToUpper(typ)
	if typ == "DIRECT" {
		if rest != "" {
			return nil, "DIRECT takes no host"
		}
		return nil, ""
	}
	kind, ok := entryKind[typ]
	if !ok {
		return nil, fmt.Sprintf("unknown type %q; want DIRECT, PROXY, HTTP, HTTPS, SOCKS, SOCKS4 or SOCKS5", clip(typ, 20))
	}
	if rest == "" {
		return nil, typ + " names no host"
	}
	host, port, reason := splitEntryHost(rest)
	if reason != "" {
		return nil, reason
	}
	if port == "" {
		port = kind.port
	}
	return &url.URL{Scheme: kind.scheme, Host: net.JoinHostPort(host, port)}, ""
}

// splitEntryHost splits host[:port] as an answer writes it: an IPv6 address
// in brackets, or bare when no port follows and none could be read into it. It refuses anything a URL host
// could not hold, so that no credentials, path or stray byte reaches a dial.
func splitEntryHost(s string) (host, port, reason string) {
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", "unclosed '[' in host"
		}
		host, s = s[1:end], s[end+1:]
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() || a.Zone() != "" {
			return "", "", fmt.Sprintf("%q in brackets is not an IPv6 address", clip(host, 60))
		}
		if s == "" {
			return host, "", ""
		}
		if !strings.HasPrefix(s, ":") {
			return "", "", "text after ']' is not a port"
		}
		port = s[1:]
	case strings.Count(s, ":") > 1:
		a, err := netip.ParseAddr(s)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", "", fmt.Sprintf("%q is neither host:port nor an IPv6 address", clip(s, 60))
		}
		// "fd00::5:3128" is the address fd00::5:3128, and also fd00::5
		// with port 3128, which is how Chromium reads it: whichever is
		// taken, one writer's proxy is not the one dialled.
		i := strings.LastIndexByte(s, ':')
		if h, err := netip.ParseAddr(s[:i]); err == nil && h.Is6() && validPort(s[i+1:]) {
			return "", "", fmt.Sprintf("%q may be an IPv6 address or one with a port; write [address]:port", clip(s, 60))
		}
		return s, "", ""
	default:
		var hasPort bool
		host, port, hasPort = strings.Cut(s, ":")
		if hasPort && port == "" {
			return "", "", "empty port"
		}
		if reason := checkHostName(host); reason != "" {
			return "", "", reason
		}
	}
	if port != "" {
		if !validPort(port) {
			return "", "", fmt.Sprintf("port %q is not a number from 1 to 65535", clip(port, 20))
		}
		n, _ := strconv.Atoi(port)
		port = strconv.Itoa(n) // "08080" dials 8080 either way; say so in the URL
	}
	return host, port, ""
}

// validPort reports whether port is a decimal number from 1 to 65535.
func validPort(port string) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= 1 && n <= 65535 && port[0] != '+' && port[0] != '-'
}

// checkHostName accepts the bytes of a DNS name or an IPv4 address and
// nothing else: letters, digits, '-', '_' and '.'.
func checkHostName(h string) string {
	if h == "" {
		return "empty host"
	}
	if len(h) > 253 {
		return "host name longer than 253 bytes"
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' {
			continue
		}
		return fmt.Sprintf("host %q holds byte %#02x, which no host name may", clip(h, 60), c)
	}
	return ""
}

// clip shortens s for an error or a log line, so that a hostile answer cannot
// flood either.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
