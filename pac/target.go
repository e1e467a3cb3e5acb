package pac

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// scriptArgs returns the url and host arguments that FindProxyForURL is
// called with for target, as Chromium shapes them:
//
//   - ws:// is seen as http:// and wss:// as https://, the schemes wsdial
//     resolves every other proxy setting of a WebSocket dial by (the
//     environment, WithProxyFunc, the cookie jar), so that a script's rules
//     for http and https apply to WebSockets too. Chromium hands a script
//     ws:// and wss:// as they are; a script that tells them apart from
//     http:// and https:// will see no difference here.
//   - the user name, password and fragment are dropped from every URL, and
//     an https URL loses its path and query too ("https://host[:port]/"), so
//     that no secret in a URL reaches a script that may log it or, through
//     DNS, leak it (crbug 593759). An http URL keeps its path and query, as
//     in Chromium.
//   - the scheme and host are in lower case, and the port appears only when
//     it is not the scheme's default.
//   - host is the host alone: no port, and an IPv6 address without brackets.
func scriptArgs(target *url.URL) (rawURL, host string, err error) {
	if target == nil {
		return "", "", errors.New("pac: nil target URL")
	}
	scheme := strings.ToLower(target.Scheme)
	switch scheme {
	case "":
		return "", "", fmt.Errorf("pac: target URL %q has no scheme", clip(target.Redacted(), 100))
	case "ws":
		scheme = "http"
	case "wss":
		scheme = "https"
	}
	host = strings.ToLower(target.Hostname())
	if host == "" {
		return "", "", fmt.Errorf("pac: target URL %q names no host", clip(target.Redacted(), 100))
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= ' ' || c == 0x7f || c == '/' || c == '?' || c == '#' || c == '@' {
			return "", "", fmt.Errorf("pac: target host %q holds byte %#02x", clip(host, 100), c)
		}
	}
	port := target.Port()
	if port == "80" && scheme == "http" || port == "443" && scheme == "https" {
		port = ""
	}

	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if strings.Contains(host, ":") {
		b.WriteString("[" + strings.ReplaceAll(host, "%", "%25") + "]")
	} else {
		b.WriteString(host)
	}
	if port != "" {
		b.WriteString(":" + port)
	}
	if scheme == "https" {
		b.WriteString("/")
		return b.String(), host, nil
	}
	path := target.EscapedPath()
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	b.WriteString(path)
	if target.RawQuery != "" || target.ForceQuery {
		b.WriteString("?" + target.RawQuery)
	}
	return b.String(), host, nil
}
