package lib

import (
	"context"

	"github.com/wsdial/wsdial"
)

// H2Connect is a Route's Proxy for an https:// proxy that speaks HTTP/2,
// whose tunnels are CONNECT streams (RFC 9113 §8.5).
const H2Connect = "h2connect"

// WSDialH2 is wsdial with WithHTTP2: a wss:// route to a server with
// extended CONNECT runs as RFC 8441 streams of one kept HTTP/2 connection,
// and a route through an H2Connect proxy as CONNECT streams of one kept
// connection to the proxy. Its Dialer, like a user's, serves every dial of
// the route, so all but the first find the connection open. With Fresh,
// every dial has a Dialer of its own instead, and so a new connection, which
// Abort closes.
type WSDialH2 struct{ Fresh bool }

// Name returns "wsdial-h2", or "wsdial-h2 (new connection)" with Fresh.
func (w WSDialH2) Name() string {
	if w.Fresh {
		return "wsdial-h2 (new connection)"
	}
	return "wsdial-h2"
}

// Dialer returns what dials r with WithHTTP2.
func (w WSDialH2) Dialer(r Route) (Dialer, error) {
	opts := []wsdial.Option{wsdial.WithTLSConfig(r.TLS), wsdial.WithHTTP2()}
	how := "native (WithHTTP2)"
	switch u := r.proxyURL(); {
	case r.Proxy == H2Connect:
		opts = append(opts, wsdial.WithProxy("https://"+r.ProxyAddr), wsdial.WithProxyTLSConfig(r.TLS))
		how = "native (WithHTTP2, WithProxy https://)"
	case u != nil:
		opts = append(opts, wsdial.WithProxy(u.String()))
	default:
		opts = append(opts, wsdial.WithoutProxy())
	}
	newDialer := func() (*wsdial.Dialer, error) { return wsdial.New(opts...) }
	kept, err := newDialer()
	if err != nil {
		return Dialer{}, err
	}
	target := r.URL
	return Dialer{How: how, Dial: func(ctx context.Context) (Conn, error) {
		d := kept
		if w.Fresh {
			if d, err = newDialer(); err != nil {
				return nil, err
			}
		}
		c, err := d.DialWebSocket(ctx, target)
		if err != nil {
			return nil, err
		}
		if w.Fresh {
			return freshConn{wsdialConn{c}, d}, nil
		}
		return wsdialConn{c}, nil
	}}, nil
}

// freshConn is a connection of a Dialer of its own, whose HTTP/2
// connection Abort closes along with the stream.
type freshConn struct {
	wsdialConn
	d *wsdial.Dialer
}

func (f freshConn) Abort() error {
	err := f.wsdialConn.Abort()
	f.d.CloseIdleConnections()
	return err
}
