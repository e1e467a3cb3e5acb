// Package server holds the far side of the benchmarks: WebSocket and
// raw-TCP endpoints, an HTTP CONNECT proxy, a SOCKS5 proxy and a delay
// relay, all meant for loopback. It runs in its own process so that the
// client's allocation and CPU counts are the client's alone.
package server

import (
	"errors"
	"log"
	"net"
	"sync"
)

// Group owns listeners and every goroutine that serves them: Close stops
// accepting, closes every live connection and waits for those goroutines.
type Group struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	lns    []net.Listener
	conns  map[net.Conn]struct{}
	hooks  []func()
}

// NewGroup returns an empty Group.
func NewGroup() *Group { return &Group{conns: make(map[net.Conn]struct{})} }

// Serve accepts connections on ln until Close, handling each in a goroutine
// of its own. The connection is closed when handle returns.
func (g *Group) Serve(ln net.Listener, handle func(net.Conn)) {
	g.mu.Lock()
	g.lns = append(g.lns, ln)
	g.mu.Unlock()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				// Closed by Close, or out of descriptors; either way this
				// listener is done. Say so, since dials will now hang.
				if !errors.Is(err, net.ErrClosed) {
					log.Printf("benchserver: stop accepting on %v: %v", ln.Addr(), err)
				}
				return
			}
			g.Go(c, func() { handle(c) })
		}
	}()
}

// Go runs f in a goroutine the Group owns, with c closed when f returns and
// by Close. It reports false, closing c, once the Group is closed.
func (g *Group) Go(c net.Conn, f func()) bool {
	if !g.Enter(c) {
		c.Close()
		return false
	}
	go func() {
		defer g.Leave(c)
		defer c.Close()
		f()
	}()
	return true
}

// Enter makes c a connection that Close closes and waits for, served by
// the calling goroutine, which must call Leave when done with it. It is for
// connections some other server hands over, such as a hijacked HTTP one. It
// reports false once the Group is closed.
func (g *Group) Enter(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.conns[c] = struct{}{}
	g.wg.Add(1)
	return true
}

// Leave undoes Enter.
func (g *Group) Leave(c net.Conn) {
	g.untrack(c)
	g.wg.Done()
}

// Run runs f in a goroutine the Group waits for, with stop called during
// Close to make f return.
func (g *Group) Run(f, stop func()) {
	g.mu.Lock()
	g.hooks = append(g.hooks, stop)
	g.mu.Unlock()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
}

func (g *Group) untrack(c net.Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// Close stops every listener, closes every connection and waits for every
// goroutine the Group started.
func (g *Group) Close() {
	g.mu.Lock()
	g.closed = true
	for _, ln := range g.lns {
		ln.Close()
	}
	for c := range g.conns {
		c.Close()
	}
	hooks := g.hooks
	g.mu.Unlock()
	for _, f := range hooks {
		f()
	}
	g.wg.Wait()
}

// Listen opens a TCP listener on a free loopback port.
func Listen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
