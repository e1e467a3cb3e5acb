package wsdial

import (
	"bytes"
	"crypto/tls"
	"runtime"
	"testing"

	"golang.org/x/net/http2"
)

// TestH2OwnFramesNotHeldAgainstServer stalls a connection's writer, as a
// server that is slow to read does while a large message goes out, and has
// the application open and cancel streams meanwhile: their HEADERS and
// RST_STREAM frames wait for the writer, one of each a stream. The bound on
// queued frames is for those a server asks for (acknowledgements, window
// updates), which it can send without end; the client's own must not end a
// live connection, and every WebSocket on it, as a server that "does not read
// the frames it asks for". On main the connection ended after 2049 streams.
func TestH2OwnFramesNotHeldAgainstServer(t *testing.T) {
	checkGoroutines(t)
	hold := make(chan struct{})
	addr, pool := serveH2Script(t, func(s *h2Script) {
		s.settings(xconnectOn)
		s.fr.WriteWindowUpdate(0, 1<<30)
		h, err := s.request()
		if err != nil {
			return
		}
		s.respond(h.StreamID, "200", false)
		s.fr.WriteWindowUpdate(h.StreamID, 1<<30)
		<-hold // reads no more
	})
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}))
	defer d.CloseIdleConnections()
	c := dialOK(t, d, "wss://"+addr+"/")
	defer close(hold)
	defer c.closeStream()
	cc := keptConns(d)[0]
	go c.WriteMessage(BinaryMessage, make([]byte, 64<<20))
	buf := make([]byte, 1<<20)
	waitUntil(t, "the writer stalls on the network", func() bool {
		for _, g := range bytes.Split(buf[:runtime.Stack(buf, true)], []byte("\n\n")) {
			if bytes.Contains(g, []byte("[IO wait")) && bytes.Contains(g, []byte("writeLoop")) {
				return true
			}
		}
		return false
	})
	fields := extendedConnect(addr, "/", d.cfg, "")
	for i := range 2 * h2MaxControl {
		s, err := cc.openStream(fields)
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		s.reset(http2.ErrCodeCancel)
		cc.mu.Lock()
		err = cc.err
		cc.mu.Unlock()
		if err != nil {
			t.Fatalf("after %d streams opened and cancelled: %v", i+1, err)
		}
	}
}
