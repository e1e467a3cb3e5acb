package wsdial

import (
	"fmt"
	"net"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// How a host goes on the wire. An internationalized domain name is sent as
// its A-label, "xn--bcher-kva.example" for "bücher.example", wherever a peer
// reads it: the name lookup, the CONNECT authority, the Host header, SNI and
// the name the certificate is verified against (RFC 9112 §3.2, RFC 6066 §3,
// RFC 5891), with the lookup profile that net/http uses. An IPv6 zone
// ("fe80::1%eth0") names an interface of this machine alone: it is kept for
// the connection this machine opens and removed from everything sent to a
// peer (RFC 6874 §4).

// wireHost returns host, which has no brackets, as a peer is to see it: its
// zone removed and its name in ASCII.
func wireHost(host string) (string, error) {
	if i := strings.LastIndexByte(host, '%'); i >= 0 && strings.Contains(host, ":") {
		host = host[:i] // an IPv6 address with a zone; a name has no ':'
	}
	return asciiHost(host)
}

// asciiHost returns host as its A-labels, or as it is when it is ASCII
// already.
func asciiHost(host string) (string, error) {
	if isASCII(host) {
		return host, nil
	}
	a, err := idna.Lookup.ToASCII(host)
	if err != nil {
		return "", fmt.Errorf("host %q is not a valid internationalized domain name: %w", host, err)
	}
	return a, nil
}

// localAddress returns host:port as this machine dials it: the name in
// ASCII, for the lookup, and an IPv6 zone kept.
func localAddress(host, port string) (string, error) {
	if isIP(host) {
		return net.JoinHostPort(host, port), nil // a zone is an interface's name, not a domain's
	}
	a, err := asciiHost(host)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(a, port), nil
}

// wireAuthority returns a host with an optional port, "host", "host:port",
// "[v6%zone]:port" or "[v6]", as it goes in a Host header or a CONNECT
// request: the host as wireHost makes it, an IPv6 address in brackets.
func wireAuthority(hostport string) (string, error) {
	if isASCII(hostport) && !strings.Contains(hostport, "%") {
		return hostport, nil
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), ""
	}
	w, err := wireHost(host)
	switch {
	case err != nil:
		return "", err
	case port != "":
		return net.JoinHostPort(w, port), nil
	case strings.Contains(w, ":"):
		return "[" + w + "]", nil
	}
	return w, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
