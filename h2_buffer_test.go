package wsdial

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestH2Buf checks the chunked buffer against bytes.Buffer over random
// writes and reads, and that it holds no chunk once drained.
func TestH2Buf(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var q h2Buf
	var want bytes.Buffer
	src := make([]byte, 3*h2ChunkSize)
	for i := range src {
		src[i] = byte(i * 7)
	}
	for i := range 5000 {
		if r.IntN(2) == 0 {
			p := src[r.IntN(len(src)):]
			p = p[:r.IntN(len(p)+1)]
			q.write(p)
			want.Write(p)
		} else {
			p := make([]byte, r.IntN(2*h2ChunkSize))
			n := q.read(p)
			w := want.Next(len(p))
			if !bytes.Equal(p[:n], w) {
				t.Fatalf("op %d: read %d bytes that differ from the %d expected", i, n, len(w))
			}
		}
		if q.len() != want.Len() {
			t.Fatalf("op %d: holds %d bytes, want %d", i, q.len(), want.Len())
		}
	}
	q.read(make([]byte, q.len()))
	if q.len() != 0 || len(q.chunks) != 0 {
		t.Errorf("drained, it still holds %d bytes in %d chunks", q.len(), len(q.chunks))
	}
	q.write([]byte("x"))
	q.reset()
	if q.len() != 0 || len(q.chunks) != 0 {
		t.Errorf("reset, it still holds %d bytes in %d chunks", q.len(), len(q.chunks))
	}
	// One message at a time allocates nothing once warm.
	msg, out := make([]byte, 300), make([]byte, 300)
	if n := testing.AllocsPerRun(100, func() { q.write(msg); q.read(out) }); n != 0 && !raceEnabled {
		t.Errorf("a write and a read allocate %.1f times, want 0", n)
	}
}
