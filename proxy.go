package wsdial

import (
	"context"
	"net"
	"net/http"
	"net/url"
)

// ProxyAuthenticator answers an HTTP proxy's 407 challenges.
type ProxyAuthenticator interface {
	// Authorize returns the Proxy-Authorization value for the next CONNECT
	// attempt through proxy. challenge is the proxy's last 407 reply, or nil
	// before the first attempt. An empty value with a nil error sends no
	// Proxy-Authorization; an error gives up.
	Authorize(ctx context.Context, proxy *url.URL, challenge *http.Response) (string, error)
}

// newProxyFunc returns the function that resolves the proxy of each target
// (given with scheme http or https), or nil when every dial is direct.
func newProxyFunc(cfg *config) (func(*url.URL) (*url.URL, error), error) {
	return nil, nil
}

// dialVia reaches address through proxy and returns the tunnelled stream.
func (d *Dialer) dialVia(ctx context.Context, proxy *url.URL, network, address string) (net.Conn, error) {
	panic("unreachable until the proxy stage exists")
}
