package server

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"

	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// TestLeanSourceTakesAFragmentedRequest: a source request in two fragments,
// with a ping between them, is the whole request, as gobwas's endpoint
// takes it: the source sends the messages it asks for, and the ping is
// answered, not taken for a piece of the request.
func TestLeanSourceTakesAFragmentedRequest(t *testing.T) {
	req := wire.SourceRequest(2, 10)
	var in []byte
	in = append(in, masked(ws.OpText, false, req[:1])...)
	in = append(in, masked(ws.OpPing, true, "p")...)
	in = append(in, masked(ws.OpContinuation, true, req[1:])...)
	c := &leanConn{cfg: LeanH2{StreamWindow: defaultWindow, ConnWindow: defaultWindow}}
	s := &leanStream{id: 1, path: wire.PathSource, every: 1}
	s.in = in
	for range 8 {
		if !c.consume(s) {
			break
		}
	}
	if s.srcLeft != 2 || s.srcSize != 10 {
		t.Errorf("the source took %d messages of %d bytes from %q in two fragments, want 2 of 10", s.srcLeft, s.srcSize, req)
	}
	pong := []byte{0x8A, 1, 'p'}
	if !bytes.HasPrefix(s.out, pong) {
		t.Errorf("the stream queued %x, want the pong %x first", s.out, pong)
	}
}
