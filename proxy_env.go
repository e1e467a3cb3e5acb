package wsdial

import (
	"net/url"
	"os"

	"golang.org/x/net/http/httpproxy"
)

// proxyFromEnv reads the environment now and returns the function that picks
// the proxy of each target from what it read. It follows
// golang.org/x/net/http/httpproxy exactly (HTTP_PROXY, HTTPS_PROXY, NO_PROXY
// and their lower-case forms, the lower-case form winning; the CGI guard;
// localhost and loopback addresses never proxied; values that do not parse
// as a URL ignored, as net/http ignores them), and adds one thing:
// ALL_PROXY (or all_proxy) serves a scheme whose own variable is empty.
//
// ALL_PROXY goes in before httpproxy sees the configuration rather than
// after it answers, so that NO_PROXY and the loopback rule govern it exactly
// as they govern the others.
func proxyFromEnv() (resolve func(*url.URL) (*url.URL, error), source map[string]string) {
	cfg := httpproxy.FromEnvironment()
	source = map[string]string{
		"http":  firstSet("http_proxy", "HTTP_PROXY"),
		"https": firstSet("https_proxy", "HTTPS_PROXY"),
	}
	if all := firstSet("all_proxy", "ALL_PROXY"); all != "" {
		if cfg.HTTPSProxy == "" {
			cfg.HTTPSProxy, source["https"] = os.Getenv(all), all
		}
		if cfg.HTTPProxy == "" {
			cfg.HTTPProxy, source["http"] = os.Getenv(all), all
			// The CGI guard exists because a CGI request's "Proxy:" header
			// arrives as HTTP_PROXY, which an attacker controls. No request
			// header becomes ALL_PROXY, so the guard does not apply to it.
			cfg.CGI = false
		}
	}
	return cfg.ProxyFunc(), source
}

// firstSet returns the first of names that is set to a value that is not
// empty, or "" if none is.
func firstSet(names ...string) string {
	for _, n := range names {
		if os.Getenv(n) != "" {
			return n
		}
	}
	return ""
}
