package lib

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/url"

	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// Raw is the floor: length-prefixed frames straight over TCP (or TLS),
// read through a 4 KiB bufio.Reader as the WebSocket libraries read. It
// takes direct routes only; its "dial" is connect (plus TLS) and the frame
// that names the endpoint.
type Raw struct {
	// Addr and TLSAddr are the raw server's plain and TLS addresses; the
	// route's URL only chooses between them and names the endpoint.
	Addr, TLSAddr string
}

// Name returns "raw-tcp".
func (Raw) Name() string { return "raw-tcp" }

// Dialer returns a raw dial function for r.
func (l Raw) Dialer(r Route) (Dialer, error) {
	// Its dial waits for no reply, so through the delay relay it would
	// time connect() alone, which the kernel answers at once.
	if r.Proxy != Direct || r.Delayed || l.Addr == "" {
		return Dialer{}, ErrNotApplicable
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return Dialer{}, err
	}
	path := []byte(u.Path)
	secure := r.Secure()
	addr := l.Addr
	var tlsCfg *tls.Config
	if secure {
		addr = l.TLSAddr
		// tls.Client, unlike the WebSocket libraries, does not take the
		// name from the address.
		tlsCfg = r.TLS.Clone()
		tlsCfg.ServerName = "127.0.0.1"
	}
	var nd net.Dialer
	return Dialer{How: "baseline", Dial: func(ctx context.Context) (Conn, error) {
		c, err := nd.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, wrap("raw", err)
		}
		if secure {
			tc := tls.Client(c, tlsCfg)
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, wrap("raw", err)
			}
			c = tc
		}
		rc := &rawConn{c: c}
		if err := rc.writeSmall(path); err != nil {
			c.Close()
			return nil, wrap("raw", err)
		}
		return rc, nil
	}}, nil
}

type rawConn struct {
	c    net.Conn
	br   *bufio.Reader
	hdr  [wire.RawHeaderLen]byte
	rhdr [wire.RawHeaderLen]byte
	wbuf []byte
}

// Write sends one frame: small ones in a single write through a reused
// buffer, large ones as header and payload without copying.
func (r *rawConn) Write(_ MsgType, p []byte) error {
	if len(p) <= 4096 {
		if r.wbuf == nil {
			r.wbuf = make([]byte, 0, 4096+wire.RawHeaderLen)
		}
		return r.writeSmall(p)
	}
	wire.PutRawHeader(r.hdr[:], len(p))
	if _, err := r.c.Write(r.hdr[:]); err != nil {
		return err
	}
	_, err := r.c.Write(p)
	return err
}

// writeSmall writes p as one frame in one write. Buffers are made on first
// use, so the dial holds none.
func (r *rawConn) writeSmall(p []byte) error {
	b := append(r.wbuf[:0], 0, 0, 0, 0)
	wire.PutRawHeader(b, len(p))
	b = append(b, p...)
	r.wbuf = b
	_, err := r.c.Write(b)
	return err
}

// Read reads the next frame into buf.
func (r *rawConn) Read(buf []byte) ([]byte, error) {
	if r.br == nil {
		r.br = bufio.NewReaderSize(r.c, 4096)
	}
	return wire.ReadRawFrame(r.br, &r.rhdr, buf)
}

// Abort closes the stream.
func (r *rawConn) Abort() error { return r.c.Close() }
