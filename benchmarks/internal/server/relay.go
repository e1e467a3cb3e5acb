package server

import (
	"net"
	"sync"
	"time"
)

// ServeRelay serves a delay link on ln: each accepted connection is joined
// to a new one to upstream, and every chunk read from either side is written
// to the other delay after it arrived, store-and-forward. Reading never
// waits for writing, so the link adds latency without throttling.
//
// The kernel completes a client's TCP handshake before the relay sees the
// connection, so that round trip costs the client nothing here. The relay
// puts it back: bytes from the client are taken to arrive no earlier than
// 2*delay after accept, then held delay like any other. A client that
// writes as soon as its connect returns thus sees its first reply after
// 4*delay, as over a real link with a round trip of 2*delay.
func ServeRelay(g *Group, ln net.Listener, upstream string, delay time.Duration) {
	g.Serve(ln, func(c net.Conn) { relay(g, c, upstream, delay) })
}

func relay(g *Group, c net.Conn, upstream string, delay time.Duration) {
	accepted := time.Now()
	up, err := net.DialTimeout("tcp", upstream, dialTimeout)
	if err != nil {
		return
	}
	if !g.Enter(up) {
		up.Close()
		return
	}
	defer g.Leave(up)
	defer up.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		delayed(up, c, delay, accepted.Add(2*delay))
	}()
	delayed(c, up, delay, time.Time{})
	wg.Wait()
}

type chunk struct {
	b   []byte
	due time.Time
}

// delayed copies src to dst, writing each chunk delay after it was read, or
// after notBefore if that is later. When src ends, what is held is still
// delivered and then dst's write side is shut, so a half-close crosses the
// link late like any byte. A failed write closes both, which ends the copy
// the other way too.
func delayed(dst, src net.Conn, delay time.Duration, notBefore time.Time) {
	q := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(0)
		<-t.C
		failed := false
		for ch := range q {
			if failed {
				continue // drain, so the reader never blocks on a dead link
			}
			if d := time.Until(ch.due); d > 0 {
				t.Reset(d)
				<-t.C
			}
			if _, err := dst.Write(ch.b); err != nil {
				failed = true
				dst.Close()
				src.Close()
			}
		}
		if !failed {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			now := time.Now()
			if now.Before(notBefore) {
				now = notBefore
			}
			q <- chunk{b: append([]byte(nil), buf[:n]...), due: now.Add(delay)}
		}
		if err != nil {
			break
		}
	}
	close(q)
	<-done
}
