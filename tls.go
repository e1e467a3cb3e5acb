package wsdial

import (
	"context"
	"crypto/tls"
	"net"
)

// startTLS runs a TLS client handshake over c, verifying host unless cfg
// names a ServerName of its own. cfg is never modified. On failure c is closed.
func startTLS(ctx context.Context, c net.Conn, host string, cfg *tls.Config) (*tls.Conn, error) {
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = host
	}
	tc := tls.Client(c, cfg)
	// watchContext bounds the handshake as HandshakeContext would, by the
	// deadline and the caller's cancellation, without the goroutine that
	// HandshakeContext starts for every handshake.
	w := watchContext(ctx, c)
	err := tc.Handshake()
	if cerr := w.release(); err != nil {
		err = withCause(cerr, err)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

// tlsTarget is startTLS for the target, traced, its failures of class ErrTLS.
func tlsTarget(ctx context.Context, tr dialTrace, c net.Conn, host string, cfg *tls.Config) (*tls.Conn, error) {
	tr.tlsStart()
	tc, err := startTLS(ctx, c, host, cfg)
	if err != nil {
		tr.tlsDone(tls.ConnectionState{}, err)
		return nil, &stageError{stage: "tls", class: ErrTLS, err: err}
	}
	tr.tlsDone(tc.ConnectionState(), nil)
	return tc, nil
}
