package wsdial

import (
	"io"
	"testing"
)

// deflateBenchModes are the settings the compressed benchmarks run under:
// the default (each message alone from the client, the server's context
// kept) and context takeover both ways.
var deflateBenchModes = []struct {
	name   string
	params string
	c      Compression
}{
	{"default", "; client_no_context_takeover", Compression{}},
	{"context", "", Compression{ClientContextTakeover: true}},
}

func BenchmarkWriteCompressed(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, m := range deflateBenchModes {
			b.Run(sizeName(size)+"/"+m.name, func(b *testing.B) {
				conn, p := newDeflatePair(b, m.params, m.c)
				drained := make(chan struct{})
				go func() {
					defer close(drained)
					io.Copy(io.Discard, p.c)
				}()
				msg := textLike(size, 1)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					if err := conn.WriteMessage(TextMessage, msg); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				conn.closeStream()
				<-drained
			})
		}
	}
}

// serveCompressed has the server send the same compressed message, made on
// its own so that it is valid under any context, until the client closes.
func serveCompressed(p *peer, msg []byte) (done chan struct{}) {
	return serveRepeated(p, frame(fin|rsv1|opTxt, deflated(msg)))
}

func BenchmarkReadCompressed(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, m := range deflateBenchModes {
			for _, stream := range []bool{false, true} {
				name := sizeName(size) + "/" + m.name + "/ReadMessage"
				if stream {
					name = sizeName(size) + "/" + m.name + "/NextReader"
				}
				b.Run(name, func(b *testing.B) {
					conn, p := newDeflatePair(b, m.params, m.c)
					msg := textLike(size, 1)
					done := serveCompressed(p, msg)
					buf := make([]byte, size)
					b.SetBytes(int64(size))
					b.ReportAllocs()
					for b.Loop() {
						if stream {
							_, r, err := conn.NextReader()
							if err != nil {
								b.Fatal(err)
							}
							if n, err := io.ReadFull(r, buf); err != nil || n != size {
								b.Fatal(n, err)
							}
						} else if _, got, err := conn.ReadMessage(); err != nil || len(got) != size {
							b.Fatal(len(got), err)
						}
					}
					b.StopTimer()
					conn.closeStream()
					p.c.Close()
					<-done
				})
			}
		}
	}
}
