package lib

import (
	"context"
	"fmt"
	"net"

	"github.com/wsdial/wsdial"
	"golang.org/x/net/proxy"
)

// hookDialer returns a dial function that reaches address through r's
// proxy, for libraries that have a dial hook but no proxy of their own, and
// says which it is. CONNECT goes through a wsdial Dialer (the dial hook use
// wsdial documents); SOCKS5 through golang.org/x/net/proxy.
func hookDialer(r Route) (func(ctx context.Context, network, address string) (net.Conn, error), string, error) {
	switch r.Proxy {
	case Connect:
		d, err := wsdial.New(wsdial.WithProxy(r.proxyURL().String()))
		if err != nil {
			return nil, "", err
		}
		return d.DialContext, "wsdial DialContext (CONNECT)", nil
	case SOCKS5:
		d, err := proxy.SOCKS5("tcp", r.ProxyAddr, nil, proxy.Direct)
		if err != nil {
			return nil, "", fmt.Errorf("x/net/proxy SOCKS5: %w", err)
		}
		return d.(proxy.ContextDialer).DialContext, "x/net/proxy SOCKS5", nil
	}
	var nd net.Dialer
	return nd.DialContext, "", nil
}
