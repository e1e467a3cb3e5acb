package lib

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/wsdial/wsdial"
)

// WSDial is github.com/wsdial/wsdial through its public API only. It takes
// every route natively, with WithProxy. The zero value is what the
// comparisons run; the keepalive's measurements set its fields.
type WSDial struct {
	// KeepAlive and KeepAliveTimeout, when KeepAlive is not zero, are
	// WithKeepAlive's interval and timeout.
	KeepAlive, KeepAliveTimeout time.Duration
	// Pongs, when not nil, counts the pongs that every connection receives.
	Pongs *atomic.Int64
}

// Name returns "wsdial".
func (WSDial) Name() string { return "wsdial" }

// Dialer returns a wsdial Dialer for r.
func (w WSDial) Dialer(r Route) (Dialer, error) {
	opts := []wsdial.Option{wsdial.WithTLSConfig(r.TLS)}
	if w.KeepAlive != 0 {
		opts = append(opts, wsdial.WithKeepAlive(w.KeepAlive, w.KeepAliveTimeout))
	}
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
		if pongs := w.Pongs; pongs != nil {
			c.SetPongHandler(func([]byte) { pongs.Add(1) })
		}
		return wsdialConn{c}, nil
	}}, nil
}

// Abort closes the stream beneath the connection: Close would run the
// closing handshake, which the other libraries' cheapest teardown skips.
func (w wsdialConn) Abort() error { return w.c.NetConn().Close() }
