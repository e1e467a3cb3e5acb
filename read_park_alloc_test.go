package wsdial

import "testing"

// TestParkedReadAllocations: a read parked between messages on a TCP
// stream waits in a buffer on its stack, so a wait that ends, the bytes
// moved to a lent read buffer, allocates nothing. TestDialAndIdleAllocations
// cannot tell: its bound on a parked read's heap, 128 B, holds with the
// 64-byte wait buffer moved to the heap. (Over TLS, crypto/tls allocates
// once for each record it reads, whatever the buffer.)
func TestParkedReadAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector moves the wait buffer to the heap; .ci/run runs this test without it")
	}
	conn, p := pairOver(t, "tcp", testServer{})
	ponged := make(chan struct{})
	conn.SetPongHandler(func([]byte) { ponged <- struct{}{} })
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()
	pong := frame(fin|opPog, nil)
	wake := func() {
		if _, err := p.c.Write(pong); err != nil {
			t.Fatal(err)
		}
		<-ponged // the read took the pong, and waits again
	}
	wake() // the pools fill
	if allocs := testing.AllocsPerRun(100, wake); allocs != 0 {
		t.Errorf("a parked read woken by a pong allocates %v times, want none", allocs)
	}
	conn.closeStream()
	<-done
}
