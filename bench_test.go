package wsdial

import (
	"fmt"
	"io"
	"testing"
)

var benchSizes = []int{16, 1 << 10, 64 << 10, 1 << 20}

func sizeName(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

func BenchmarkWriteMessage(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			conn, p := newPair(b)
			drained := make(chan struct{})
			go func() {
				defer close(drained)
				io.Copy(io.Discard, p.c)
			}()
			msg := pattern(size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := conn.WriteMessage(BinaryMessage, msg); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			conn.closeStream()
			<-drained
		})
	}
}

// serveFrames has the server send frames, each a binary message of size
// bytes, until the client closes.
func serveFrames(p *peer, size int) (done chan struct{}) {
	return serveRepeated(p, frame(fin|opBin, pattern(size)))
}

// serveRepeated has the server send f over and over until the client
// closes, in blocks of at least 64 KiB.
func serveRepeated(p *peer, f []byte) (done chan struct{}) {
	var block []byte
	for len(block) < 64<<10 {
		block = append(block, f...)
	}
	done = make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, err := p.c.Write(block); err != nil {
				return
			}
		}
	}()
	return done
}

func BenchmarkReadMessage(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			conn, p := newPair(b)
			done := serveFrames(p, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, msg, err := conn.ReadMessage(); err != nil || len(msg) != size {
					b.Fatal(len(msg), err)
				}
			}
			b.StopTimer()
			conn.closeStream()
			p.c.Close()
			<-done
		})
	}
}

func BenchmarkNextReader(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			conn, p := newPair(b)
			done := serveFrames(p, size)
			buf := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				_, r, err := conn.NextReader()
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.ReadFull(r, buf); err != nil || n != size {
					b.Fatal(n, err)
				}
			}
			b.StopTimer()
			conn.closeStream()
			p.c.Close()
			<-done
		})
	}
}

func BenchmarkMask(b *testing.B) {
	key := [4]byte{1, 2, 3, 4}
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			buf := pattern(size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				maskCopy(buf, buf, key, 1)
			}
		})
	}
}
