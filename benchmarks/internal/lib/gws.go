package lib

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/lxzan/gws"
)

// GWS is github.com/lxzan/gws. It is event-driven: messages arrive in
// callbacks run by Conn.ReadLoop, so this adapter starts that loop on the
// first Read and hands messages over a channel; the handover is part of what
// a pull-style reader pays with gws. Proxies go through its own hook,
// ClientOption.NewDialer, which takes a proxy.Dialer.
type GWS struct{}

// Name returns "gws".
func (GWS) Name() string { return "gws" }

// Dialer returns a gws dial function for r.
func (GWS) Dialer(r Route) (Dialer, error) {
	tmpl := gws.ClientOption{Addr: r.URL, HandshakeTimeout: 30 * time.Second}
	if r.TLS != nil {
		// gws writes ServerName into the configuration it is given; a copy
		// of its own with the name set keeps concurrent dials from racing.
		cfg := r.TLS.Clone()
		cfg.ServerName = "127.0.0.1"
		tmpl.TlsConfig = cfg
	}
	how := "native"
	if r.Proxy != Direct {
		dial, name, err := hookDialer(r)
		if err != nil {
			return Dialer{}, err
		}
		pd := ctxDialer(dial)
		tmpl.NewDialer = func() (gws.Dialer, error) { return pd, nil }
		how = "hook: ClientOption.NewDialer = " + name
	}
	return Dialer{How: how, Dial: func(ctx context.Context) (Conn, error) {
		// NewClient fills in defaults in the option it is given: each dial
		// gets its own copy.
		opt := tmpl
		h := &gwsConn{msgs: make(chan *gws.Message, 1), done: make(chan struct{}), stop: make(chan struct{})}
		c, _, err := gws.NewClient(h, &opt)
		if err != nil {
			return nil, wrap("gws", err)
		}
		h.c = c
		return h, nil
	}}, nil
}

// ctxDialer is a proxy.Dialer (what gws takes) over a context dial function.
type ctxDialer func(ctx context.Context, network, address string) (net.Conn, error)

// Dial connects to address with no deadline of its own: gws bounds the
// handshake with HandshakeTimeout.
func (d ctxDialer) Dial(network, address string) (net.Conn, error) {
	return d(context.Background(), network, address)
}

type gwsConn struct {
	gws.BuiltinEventHandler
	c *gws.Conn

	once sync.Once // starts ReadLoop
	msgs chan *gws.Message
	done chan struct{} // closed when ReadLoop has returned
	stop chan struct{} // closed by Abort, so a callback never waits for a reader that is gone
	err  error         // why ReadLoop returned; read after done
}

// OnMessage hands m to the reader, or drops it once the connection is
// being torn down.
func (g *gwsConn) OnMessage(_ *gws.Conn, m *gws.Message) {
	select {
	case g.msgs <- m:
	case <-g.stop:
		m.Close()
	}
}

// OnClose keeps why the read loop ended, for the next Read.
func (g *gwsConn) OnClose(_ *gws.Conn, err error) { g.err = err }

// Write sends p as one message of type t.
func (g *gwsConn) Write(t MsgType, p []byte) error {
	return g.c.WriteMessage(gws.Opcode(t), p)
}

// Read starts the read loop on first use, then takes the next message
// from it and copies it into buf, so the pooled message can go back.
func (g *gwsConn) Read(buf []byte) ([]byte, error) {
	g.once.Do(func() {
		go func() {
			defer close(g.done)
			g.c.ReadLoop()
		}()
	})
	select {
	case m := <-g.msgs:
		buf = append(buf[:0], m.Bytes()...)
		m.Close()
		return buf, nil
	case <-g.done:
		if g.err == nil {
			return buf[:0], errors.New("gws: read loop ended")
		}
		return buf[:0], g.err
	}
}

// Abort closes the stream and waits for ReadLoop, if it runs, to return.
func (g *gwsConn) Abort() error {
	close(g.stop)
	err := g.c.NetConn().Close()
	started := true
	g.once.Do(func() { started = false })
	if started {
		<-g.done
	}
	return err
}
