package lib

import (
	"bufio"
	"context"
	"io"
	"net"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Gobwas is github.com/gobwas/ws, used the low-level way its README shows:
// ws.Dialer, wsutil.WriteClientMessage and a wsutil.Reader per connection.
// It has no proxy support, so proxied routes go through Dialer.NetDial.
type Gobwas struct{}

// Name returns "gobwas".
func (Gobwas) Name() string { return "gobwas" }

// Dialer returns a gobwas Dialer for r.
func (Gobwas) Dialer(r Route) (Dialer, error) {
	d := ws.Dialer{TLSConfig: r.TLS, Timeout: 30 * time.Second}
	how := "native"
	if r.Proxy != Direct {
		dial, name, err := hookDialer(r)
		if err != nil {
			return Dialer{}, err
		}
		d.NetDial = dial
		how = "hook: Dialer.NetDial = " + name
	}
	target := r.URL
	return Dialer{How: how, Dial: func(ctx context.Context) (Conn, error) {
		c, br, _, err := d.Dial(ctx, target)
		if err != nil {
			return nil, wrap("gobwas", err)
		}
		return newGobwasConn(c, br), nil
	}}, nil
}

type gobwasConn struct {
	c   net.Conn
	rd  wsutil.Reader
	ctl wsutil.FrameHandlerFunc
}

// newGobwasConn reads through br first when the handshake read past the
// response, as gobwas asks its callers to.
func newGobwasConn(c net.Conn, br *bufio.Reader) *gobwasConn {
	var src io.Reader = c
	if br != nil {
		src = br
	}
	g := &gobwasConn{c: c}
	g.ctl = wsutil.ControlFrameHandler(c, ws.StateClientSide)
	g.rd = wsutil.Reader{Source: src, State: ws.StateClientSide, CheckUTF8: true, OnIntermediate: g.ctl}
	return g
}

// Write sends p as one masked message of type t.
func (g *gobwasConn) Write(t MsgType, p []byte) error {
	return wsutil.WriteClientMessage(g.c, ws.OpCode(t), p)
}

// Read reads the next data message into buf, answering control frames
// on the way as gobwas's handler does.
func (g *gobwasConn) Read(buf []byte) ([]byte, error) {
	for {
		hdr, err := g.rd.NextFrame()
		if err != nil {
			return buf[:0], err
		}
		if hdr.OpCode.IsControl() {
			if err := g.ctl(hdr, &g.rd); err != nil {
				return buf[:0], err
			}
			continue
		}
		return readInto(&g.rd, buf)
	}
}

// Abort closes the stream.
func (g *gobwasConn) Abort() error { return g.c.Close() }
