package wsdial

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"golang.org/x/net/http/httpproxy"
)

// envProxies is the proxy configuration of the environment, read and
// checked once. It follows golang.org/x/net/http/httpproxy exactly for which
// targets a variable serves (HTTP_PROXY, HTTPS_PROXY, NO_PROXY and their
// lower-case forms, the lower-case form winning; the CGI guard; localhost
// and loopback addresses never proxied), and adds two things:
//
//   - ALL_PROXY (or all_proxy) serves a scheme whose own variable is empty.
//     It goes in before httpproxy sees the configuration rather than after it
//     answers, so that NO_PROXY and the loopback rule govern it exactly as
//     they govern the others.
//   - A value is checked here, as WithProxy checks its URL, rather than
//     handed to httpproxy, which drops one that does not parse (so the dial
//     goes direct in silence) or reads it again as "http://" + value (so a
//     password with an unencoded / becomes the path of a proxy on a host
//     named "http"). Every dial that a bad value would serve fails instead,
//     with the error in invalid.
type envProxies struct {
	// resolve is httpproxy's answer for a target, over the checked values:
	// nil for a direct dial, or the proxy, which stands only for "the
	// variable of the target's scheme".
	resolve func(*url.URL) (*url.URL, error)
	source  map[string]string       // scheme to the variable that serves it, for errors and the log
	proxies map[string]*proxyTarget // scheme to its proxy, checked
	invalid map[string]error        // scheme to the ErrInvalid of its variable's bad value
}

// invalidEnvProxy stands in, for httpproxy, for a value that failed its
// check: it tells which targets the variable would serve, and nothing is
// ever dialled through it.
const invalidEnvProxy = "http://invalid-proxy-variable.invalid"

// readEnvProxies reads the environment now.
func readEnvProxies() *envProxies {
	cfg := httpproxy.FromEnvironment()
	e := &envProxies{
		source: map[string]string{
			"http":  firstSet("http_proxy", "HTTP_PROXY"),
			"https": firstSet("https_proxy", "HTTPS_PROXY"),
		},
		proxies: map[string]*proxyTarget{},
		invalid: map[string]error{},
	}
	if all := firstSet("all_proxy", "ALL_PROXY"); all != "" {
		if e.source["https"] == "" {
			e.source["https"] = all
		}
		if e.source["http"] == "" {
			e.source["http"] = all
			// The CGI guard exists because a CGI request's "Proxy:" header
			// arrives as HTTP_PROXY, which an attacker controls. No request
			// header becomes ALL_PROXY, so the guard does not apply to it.
			cfg.CGI = false
		}
	}
	cfg.HTTPProxy = e.check("http")
	cfg.HTTPSProxy = e.check("https")
	e.resolve = cfg.ProxyFunc()
	return e
}

// check checks the value of the variable that serves scheme and returns
// what httpproxy is to be given for it.
func (e *envProxies) check(scheme string) string {
	name := e.source[scheme]
	if name == "" {
		return ""
	}
	value := os.Getenv(name)
	u, err := parseProxyURL(value)
	var px *proxyTarget
	if err == nil {
		px, err = checkProxy(u)
	}
	if err != nil {
		e.invalid[scheme] = invalid("invalid proxy environment", fmt.Errorf("%s (%s) is not a proxy URL: %w", name, schemeOnly(value), err))
		return invalidEnvProxy
	}
	e.proxies[scheme] = px
	return u.String()
}

// schemeOnly shows a proxy variable's value in an error: its scheme, if it
// has one, and nothing after it, which may hold a password.
func schemeOnly(value string) string {
	scheme, _, ok := strings.Cut(value, "://")
	if !ok || scheme == "" || strings.Trim(strings.ToLower(scheme), "abcdefghijklmnopqrstuvwxyz0123456789+-.") != "" {
		return "a value with no scheme"
	}
	return "value " + scheme + "://…"
}

// proxyFor returns the proxy for target, nil for a direct dial. A failure is
// the ErrInvalid of a bad value, or the CGI guard's refusal.
func (e *envProxies) proxyFor(target *url.URL) (*proxyTarget, error) {
	u, err := e.resolve(target)
	switch {
	case err != nil:
		return nil, &ProxyError{Stage: "resolve", Err: err}
	case u == nil:
		return nil, nil
	case e.invalid[target.Scheme] != nil:
		return nil, e.invalid[target.Scheme]
	}
	return e.proxies[target.Scheme], nil
}

// reason says why a target of scheme at address is dialled through the
// environment's proxy or directly: the variable, or what excluded it.
func (e *envProxies) reason(scheme, address string, proxied bool) string {
	from := e.source[scheme]
	switch {
	case proxied:
		return "environment: " + from
	case from == "":
		return "environment: no proxy variable for " + scheme
	}
	if loopbackTarget(address) {
		return "environment: a loopback target excludes it from " + from
	}
	return "environment: NO_PROXY excludes it from " + from
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
