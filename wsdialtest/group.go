package wsdialtest

import (
	"errors"
	"net"
	"sync"
)

// group owns a server's listener, the connections it accepts or opens, and
// every goroutine that serves them: close stops accepting, closes every
// connection and waits for those goroutines.
type group struct {
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
	once   sync.Once
	ln     net.Listener
}

// listenLoopback opens a listener on a free 127.0.0.1 port, or panics, as
// httptest.NewServer does: a test cannot go on without it.
func listenLoopback() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("wsdialtest: cannot listen on a loopback port: " + err.Error())
	}
	return ln
}

// serve accepts on ln until close, and runs handle for each connection in a
// goroutine of the group's; the connection is closed when handle returns.
func (g *group) serve(ln net.Listener, handle func(net.Conn)) {
	g.conns = map[net.Conn]struct{}{}
	g.ln = ln
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
				return // closed by close
			}
			if !g.enter(c) {
				c.Close()
				return
			}
			go func() {
				defer g.leave(c)
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// enter puts c, and the goroutine that serves it, in the group's care. It
// reports false once close has begun; then the caller must not serve c.
func (g *group) enter(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.conns[c] = struct{}{}
	g.wg.Add(1)
	return true
}

// leave undoes enter; it does not close c.
func (g *group) leave(c net.Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
	g.wg.Done()
}

// hold puts c, a connection the group did not accept, in its care, to be
// closed by close; it reports false, closing c, once close has begun.
// release forgets it again.
func (g *group) hold(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		c.Close()
		return false
	}
	g.conns[c] = struct{}{}
	return true
}

func (g *group) release(c net.Conn) {
	g.mu.Lock()
	delete(g.conns, c)
	g.mu.Unlock()
}

// close stops the listener, closes every connection and waits for every
// goroutine of the group. It may be called more than once.
func (g *group) close() {
	g.once.Do(func() {
		g.mu.Lock()
		g.closed = true
		if g.ln != nil { // nil for a Server or Proxy not made by its constructor
			g.ln.Close()
		}
		for c := range g.conns {
			c.Close()
		}
		g.mu.Unlock()
		g.wg.Wait()
	})
}
