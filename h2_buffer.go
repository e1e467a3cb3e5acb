package wsdial

import "sync"

// h2Buf holds the bytes that one side of a stream has handed over and the
// other has yet to take: a DATA frame's payload until the application reads
// it, or what Write took until the writer sends it. It is a line of chunks
// from a pool that every stream shares, each given back as soon as it is
// drained, so that an idle stream holds none and a busy one allocates
// nothing. Its owner guards it.
type h2Buf struct {
	chunks []*[]byte // chunks[head:] hold the bytes, the first read from off
	head   int
	off    int
	n      int // bytes held
}

// h2ChunkSize is a chunk's size: one DATA frame of the default maximum size.
const h2ChunkSize = 16 << 10

var h2Chunks = sync.Pool{New: func() any { b := make([]byte, 0, h2ChunkSize); return &b }}

func (q *h2Buf) len() int { return q.n }

// write appends p.
func (q *h2Buf) write(p []byte) {
	q.n += len(p)
	for len(p) > 0 {
		var c *[]byte
		if k := len(q.chunks); k > q.head && len(*q.chunks[k-1]) < cap(*q.chunks[k-1]) {
			c = q.chunks[k-1]
		} else {
			c = h2Chunks.Get().(*[]byte)
			if q.head > 0 && len(q.chunks) == cap(q.chunks) {
				// Move the line to the front rather than grow it.
				k := copy(q.chunks, q.chunks[q.head:])
				clear(q.chunks[k:])
				q.chunks, q.head = q.chunks[:k], 0
			}
			q.chunks = append(q.chunks, c)
		}
		m := min(len(p), cap(*c)-len(*c))
		*c = append(*c, p[:m]...)
		p = p[m:]
	}
}

// read moves up to len(p) bytes into p, from the front, and returns how many.
func (q *h2Buf) read(p []byte) int {
	n := 0
	for n < len(p) && q.head < len(q.chunks) {
		c := q.chunks[q.head]
		m := copy(p[n:], (*c)[q.off:])
		n += m
		q.off += m
		if q.off == len(*c) {
			q.dropFirst()
		}
	}
	q.n -= n
	return n
}

// reset drops every byte held.
func (q *h2Buf) reset() {
	for q.head < len(q.chunks) {
		q.dropFirst()
	}
	q.n = 0
}

func (q *h2Buf) dropFirst() {
	c := q.chunks[q.head]
	*c = (*c)[:0]
	h2Chunks.Put(c)
	q.chunks[q.head] = nil
	q.head++
	q.off = 0
	if q.head == len(q.chunks) {
		// A short line stays for the next message; a long one, which only a
		// large message needed, goes.
		q.chunks, q.head = q.chunks[:0], 0
		if cap(q.chunks) > 8 {
			q.chunks = nil
		}
	}
}
