package wsdial

import (
	"context"
	"crypto/tls"
	"slices"
	"strings"
	"sync"
	"time"
)

// The HTTP/2 side of a Dialer made WithHTTP2: h2Pool keeps its HTTP/2
// connections, to origins (for WebSockets by RFC 8441, h2_handshake.go) and
// to https:// proxies (for CONNECT tunnels, h2_proxy.go), and remembers the
// origins and proxies that answer in HTTP/1.1, so that they cost an attempt
// only once in a while. h2_conn.go is the connection, h2_stream.go a stream.

// h2RememberHTTP1 is how long an origin or proxy that declined HTTP/2, by
// ALPN or by not enabling extended CONNECT, is dialed in HTTP/1.1 alone.
const h2RememberHTTP1 = 10 * time.Minute

// h2Retries bounds how often a dial opens its stream anew after a kept
// connection turned out unable to take it (GOAWAY, REFUSED_STREAM, full).
const h2Retries = 3

// h2Pool keeps a Dialer's HTTP/2 connections, each under a key that names
// where it goes and by which route: a WebSocket's connection under its
// origin's host:port and proxy route, a proxy's under the proxy's URL. The
// Dialer's TLS configuration is the same for every key.
//
// Lock order: mu, then a connection's mu. A connection tells the pool that
// it ended from a goroutine of its own, holding neither.
type h2Pool struct {
	targetTLS *tls.Config // the target's, offering h2 and http/1.1 by ALPN
	proxyTLS  *tls.Config // https:// proxies', offering the same

	mu      sync.Mutex
	entries map[string]*h2Entry
	sweepAt int // entries at which new ones sweep the lapsed out
}

type h2Entry struct {
	conns   []*h2Conn
	dial    *h2Dial   // the dial under way for this key, which others wait for
	h1Until time.Time // until then, dial in HTTP/1.1 alone
}

// h2Dial is a claim to dial a key's connection; done closes when the dial
// ends, whatever its outcome.
type h2Dial struct{ done chan struct{} }

func newH2Pool(target, proxy *tls.Config) *h2Pool {
	p := &h2Pool{entries: make(map[string]*h2Entry)}
	p.targetTLS = target.Clone()
	p.targetTLS.NextProtos = []string{"h2", "http/1.1"}
	p.proxyTLS = proxy.Clone()
	p.proxyTLS.NextProtos = []string{"h2", "http/1.1"}
	return p
}

// h2TargetKey is the key of a WebSocket origin's connection: its address
// and the route to it, direct or through px (the whole URL: another user
// of the same proxy is another route).
func h2TargetKey(px *proxyTarget, address string) string {
	if px == nil {
		return "direct " + address
	}
	return "via " + px.url.String() + " " + address
}

// h2ProxyKey is the key of an https:// proxy's own connection.
func h2ProxyKey(px *proxyTarget) string { return "proxy " + px.url.String() }

// acquire finds a way for a dial to key: a kept connection with room for a
// stream; or h1, when key is remembered as HTTP/1.1 only; or else a claim to
// dial the connection, which the caller must hand back to dialed. While
// another dial of key is under way it waits for that one, once, bounded by
// ctx.
func (p *h2Pool) acquire(ctx context.Context, key string) (cc *h2Conn, h1 bool, claim *h2Dial, err error) {
	waited := false
	for {
		p.mu.Lock()
		e := p.entries[key]
		if e == nil {
			p.sweepLocked()
			e = &h2Entry{}
			p.entries[key] = e
		}
		live := e.conns[:0]
		for _, c := range e.conns {
			if c.usable() {
				live = append(live, c)
			}
		}
		clear(e.conns[len(live):])
		e.conns = live
		for _, c := range e.conns {
			if c.canTake() {
				p.mu.Unlock()
				return c, false, nil, nil
			}
		}
		if time.Now().Before(e.h1Until) {
			p.mu.Unlock()
			return nil, true, nil, nil
		}
		// After a wait that brought nothing (the other dial failed), each
		// waiter dials on its own rather than in line behind one another.
		if e.dial == nil || waited {
			claim = &h2Dial{done: make(chan struct{})}
			if e.dial == nil {
				e.dial = claim
			}
			p.mu.Unlock()
			return nil, false, claim, nil
		}
		wait := e.dial.done
		p.mu.Unlock()
		select {
		case <-wait:
			waited = true
		case <-ctx.Done():
			return nil, false, nil, ctxErr(ctx)
		}
	}
}

// dialed ends the dial that claim allowed: cc, unless nil, joins key's
// connections; h1 remembers key as HTTP/1.1 only.
func (p *h2Pool) dialed(key string, claim *h2Dial, cc *h2Conn, h1 bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[key]
	if e == nil {
		e = &h2Entry{}
		p.entries[key] = e
	}
	if cc != nil && cc.watch(func(c *h2Conn) { p.remove(key, c) }) {
		e.conns = append(e.conns, cc)
	}
	if h1 {
		e.h1Until = time.Now().Add(h2RememberHTTP1)
	}
	if e.dial == claim {
		e.dial = nil
		close(claim.done)
	}
	p.dropIfEmptyLocked(key, e)
}

// remove drops cc, which can take no more streams, from key's connections.
func (p *h2Pool) remove(key string, cc *h2Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entries[key]
	if e == nil {
		return
	}
	for i, c := range e.conns {
		if c == cc {
			e.conns = slices.Delete(e.conns, i, i+1)
			break
		}
	}
	p.dropIfEmptyLocked(key, e)
}

// sweepLocked drops the entries that hold nothing but a lapsed memory of
// HTTP/1.1, each time the entries have doubled since the last sweep: an
// origin dialed once is otherwise kept for the Dialer's life. The cost is
// constant per new entry, over time.
func (p *h2Pool) sweepLocked() {
	if len(p.entries) < p.sweepAt {
		return
	}
	for key, e := range p.entries {
		p.dropIfEmptyLocked(key, e)
	}
	p.sweepAt = max(2*len(p.entries), 64)
}

func (p *h2Pool) dropIfEmptyLocked(key string, e *h2Entry) {
	if len(e.conns) == 0 && e.dial == nil && !time.Now().Before(e.h1Until) {
		delete(p.entries, key)
	}
}

// closeIdle closes every kept connection that carries no stream the
// application holds, and waits for each to end. Origins' connections go
// first: one may run through a tunnel of a proxy's connection, which it
// holds until it closes.
func (p *h2Pool) closeIdle() {
	for _, proxies := range []bool{false, true} {
		var closed []*h2Conn
		p.mu.Lock()
		for key, e := range p.entries {
			if strings.HasPrefix(key, "proxy ") != proxies {
				continue
			}
			for _, c := range e.conns {
				if c.closeIfIdle() {
					closed = append(closed, c)
				}
			}
		}
		p.mu.Unlock()
		for _, c := range closed {
			<-c.done
		}
	}
}

// CloseIdleConnections closes the HTTP/2 connections that WithHTTP2 keeps
// and that carry no WebSocket or tunnel, as http.Transport's method of the
// same name does. Those left idle close by themselves after 90 seconds; a
// program that is done with a Dialer can call this to close them at once.
// Without WithHTTP2 it does nothing.
func (d *Dialer) CloseIdleConnections() {
	d.ready()
	if d.h2 != nil {
		d.h2.closeIdle()
	}
}
