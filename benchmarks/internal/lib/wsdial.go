package lib

import (
	"context"

	"github.com/wsdial/wsdial"
)

// WSDial is github.com/wsdial/wsdial through its public API only. It takes
// every route natively, with WithProxy.
type WSDial struct{}

// Name returns "wsdial".
func (WSDial) Name() string { return "wsdial" }

// Dialer returns a wsdial Dialer for r.
func (WSDial) Dialer(r Route) (Dialer, error) {
	opts := []wsdial.Option{wsdial.WithTLSConfig(r.TLS)}
	how := "native"
	if u := r.proxyURL(); u != nil {
		opts = append(opts, wsdial.WithProxy(u.String()))
		how = "native (WithProxy)"
	} else {
		opts = append(opts, wsdial.WithoutProxy())
	}
	d, err := wsdial.New(opts...)
	if err != nil {
		return Dialer{}, err
	}
	target := r.URL
	return Dialer{How: how, Dial: func(ctx context.Context) (Conn, error) {
		c, err := d.DialWebSocket(ctx, target)
		if err != nil {
			return nil, err
		}
		return wsdialConn{c}, nil
	}}, nil
}

// Abort closes the stream beneath the connection: Close would run the
// closing handshake, which the other libraries' cheapest teardown skips.
func (w wsdialConn) Abort() error { return w.c.NetConn().Close() }
