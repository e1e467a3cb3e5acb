package wsdial

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
)

// The tests here join the read path's features over real loopback TCP and
// TLS, whose reads park on the stack (readWaiting), where most older tests
// run over net.Pipe, whose reads park in a lent buffer.

// TestKeepAliveLooksInsideCompressedMessages: compressed messages of many
// lengths, in up to four frames with pings between them, come in pieces of
// random length, while the application reads them a few bytes at a time
// and a keepalive that turns every millisecond looks between its reads,
// inside messages and frames: every message reads back whole, in order, and
// every ping is answered.
func TestKeepAliveLooksInsideCompressedMessages(t *testing.T) {
	for _, kind := range []string{"tcp", "tls"} {
		t.Run(kind, func(t *testing.T) {
			conn, p := pairOver(t, kind, testServer{header: acceptDeflate("")}, WithCompression(Compression{}), WithKeepAlive(time.Millisecond, time.Minute))
			// The server answers no pings: a pong written amid the pieces
			// below would cut a frame.
			s := serveKeepAlive(t, p, false)
			s.echo.Store(false)
			const n = 300
			msgs := make([][]byte, n)
			for i := range msgs {
				msgs[i] = textLike([]int{10, 120, 126, 200, 3000, 70000}[i%6]+i, uint64(i))
			}
			pings := 0
			var wire []byte
			d := newServerDeflater(flate.BestSpeed)
			for i, m := range msgs {
				z := d.compress(m)
				parts := 1 + i%4
				step := (len(z) + parts - 1) / parts
				for j := range parts {
					b0 := byte(opCont)
					if j == 0 {
						b0 = rsv1 | opTxt
					}
					if j == parts-1 {
						b0 |= fin
					}
					wire = appendFrame(wire, b0, z[min(j*step, len(z)):min((j+1)*step, len(z))])
					if i%3 == 0 {
						wire = appendFrame(wire, fin|opPng, bytes.Repeat([]byte{byte(i)}, i%(maxControl+1)))
						pings++
					}
				}
			}
			go func() {
				r := rand.New(rand.NewPCG(1, 2))
				for len(wire) > 0 {
					k := min(len(wire), 1+r.IntN(300))
					if _, err := p.c.Write(wire[:k]); err != nil {
						return
					}
					wire = wire[k:]
					if r.IntN(20) == 0 {
						time.Sleep(time.Millisecond) // gaps, in which the keepalive looks
					}
				}
			}()
			buf := make([]byte, 7)
			for i, want := range msgs {
				// A guard against hanging on bytes lost, not a bound the
				// test measures.
				conn.SetReadDeadline(time.Now().Add(waitBound))
				typ, rd, err := conn.NextReader()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				var got []byte
				for {
					k, err := rd.Read(buf)
					got = append(got, buf[:k]...)
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("message %d, after %d bytes: %v", i, len(got), err)
					}
					if len(got)%97 == 0 {
						runtime.Gosched() // room for the keepalive to look
					}
				}
				if typ != TextMessage || !bytes.Equal(got, want) {
					t.Fatalf("message %d: %v of %d bytes, not the text of %d", i, typ, len(got), len(want))
				}
			}
			s.waitPongs(t, pings)
		})
	}
}

// TestKeepAliveWithBytesBehind101: a message, a ping, a longer message and
// the server's close come right behind the 101, over TCP and TLS, and wait
// in the handshake's buffer while the keepalive looks and pings, with
// nobody reading; the reads then take them all, in order, the ping is
// answered, and the close ends the reads.
func TestKeepAliveWithBytesBehind101(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 300)
	extra := join(frame(fin|opTxt, []byte("first")), frame(fin|opPng, []byte("p")), frame(fin|opBin, long),
		frame(fin|opCls, closePayload(StatusGoingAway, "bye")))
	for _, kind := range []string{"tcp", "tls"} {
		t.Run(kind, func(t *testing.T) {
			conn, p := pairOver(t, kind, testServer{extra: extra}, WithKeepAlive(time.Millisecond, time.Minute))
			s := serveKeepAlive(t, p, true)
			s.echo.Store(false)
			// Each of the keepalive's pings follows a look that left the
			// bytes behind the 101 for a read.
			s.waitPings(t, 3)
			if typ, m, err := conn.ReadMessage(); err != nil || typ != TextMessage || string(m) != "first" {
				t.Fatalf("the first read: %v %q %v", typ, m, err)
			}
			if typ, m, err := conn.ReadMessage(); err != nil || typ != BinaryMessage || !bytes.Equal(m, long) {
				t.Fatalf("the second read: %v, %d bytes, %v", typ, len(m), err)
			}
			_, _, err := conn.ReadMessage()
			if ce := (*CloseError)(nil); !errors.As(err, &ce) || ce.Code != StatusGoingAway || ce.Text != "bye" {
				t.Fatalf("the third read: %v; want the server's close", err)
			}
			s.waitEnd(t)
			s.mu.Lock()
			defer s.mu.Unlock()
			var pongs []string
			for _, f := range s.frames {
				if f.op == opPong {
					pongs = append(pongs, string(f.payload))
				}
			}
			if len(pongs) != 1 || pongs[0] != "p" {
				t.Errorf("the client sent pongs %q, want one, to the ping behind the 101", pongs)
			}
			if last := s.frames[len(s.frames)-1]; last.op != opClose {
				t.Errorf("the client's last frame has opcode %#x, not a close", last.op)
			}
		})
	}
}

// dribbleListener's connections write in pieces of 1 to 40 bytes, with a
// pause now and then, so that what the client reads, and over TLS each
// record, ends anywhere, and the keepalive's looks time out inside frames
// and records.
type dribbleListener struct{ net.Listener }

func (l dribbleListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &dribbleConn{Conn: c, r: rand.New(rand.NewPCG(3, 4))}, nil
}

type dribbleConn struct {
	net.Conn
	mu sync.Mutex // one Write at a time, whole, as a net.Conn's
	r  *rand.Rand
}

func (c *dribbleConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(b) {
		k := min(len(b)-n, 1+c.r.IntN(40))
		m, err := c.Conn.Write(b[n : n+k])
		n += m
		if err != nil {
			return n, err
		}
		if c.r.IntN(8) == 0 {
			time.Sleep(3 * time.Millisecond) // the slow path under test
		}
	}
	return n, nil
}

// TestKeepAliveOverDribbledStream: over a stream that brings the server's
// bytes in dribbles, messages of lengths about the buffers' sizes, in two
// frames with a ping before and a long ping between them, read back whole,
// and every ping is answered: the looks of a keepalive that turns every
// millisecond time out inside frames and, over TLS, inside records, and
// leave what they took for the read. Each message is read with a read
// waiting all along, or only once the look has answered the ping before it.
func TestKeepAliveOverDribbledStream(t *testing.T) {
	for _, kind := range []string{"tcp", "tls"} {
		for _, reader := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/reader=%v", kind, reader), func(t *testing.T) {
				dribble := func(ln net.Listener) net.Listener { return dribbleListener{ln} }
				conn, p := pairOver(t, kind, testServer{wrap: dribble}, WithKeepAlive(time.Millisecond, time.Minute))
				pongs := make(chan []byte, 1024)
				go func() {
					for {
						f, err := p.readFrame()
						if err != nil {
							return
						}
						if f.op == opPong {
							pongs <- f.payload
						}
					}
				}()
				pongOf := func(want []byte) {
					t.Helper()
					select {
					case got := <-pongs:
						if !bytes.Equal(got, want) {
							t.Fatalf("a pong of %q, want %q", got, want)
						}
					case <-time.After(waitBound):
						t.Fatalf("no pong %q within %v", want, waitBound)
					}
				}
				between := bytes.Repeat([]byte{'b'}, 118)
				for i := range 60 {
					n := []int{0, 1, 118, 125, 126, 127, 128, 200, 1000, 5000}[i%10]
					payload := bytes.Repeat([]byte{byte(i)}, n)
					if _, err := p.c.Write(join(frame(fin|opPng, []byte{byte(i)}), frame(opBin, payload[:n/2]),
						frame(fin|opPng, between), frame(fin|opCont, payload[n/2:]))); err != nil {
						t.Fatal(err)
					}
					if !reader {
						pongOf([]byte{byte(i)}) // from a look: nobody reads
					}
					conn.SetReadDeadline(time.Now().Add(waitBound)) // a guard against hanging
					if _, m, err := conn.ReadMessage(); err != nil || !bytes.Equal(m, payload) {
						t.Fatalf("message %d, of %d bytes: %d bytes, %v", i, n, len(m), err)
					}
					if reader {
						pongOf([]byte{byte(i)})
					}
					pongOf(between)
				}
			})
		}
	}
}

// TestParkedReadHeaderAcrossParkBuffer: a pong of 110 to 127 bytes, then a
// message in one frame whose 64-bit length header stands across byte
// parkBufSize of what comes, in one write or in two, split about that
// byte, over TCP and TLS, with a keepalive looking or not: the message
// reads back whole.
func TestParkedReadHeaderAcrossParkBuffer(t *testing.T) {
	for _, kind := range []string{"tcp", "tls"} {
		for _, ka := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keepalive=%v", kind, ka), func(t *testing.T) {
				var opts []Option
				if ka {
					opts = append(opts, WithKeepAlive(time.Millisecond, time.Minute))
				}
				conn, p := pairOver(t, kind, testServer{}, opts...)
				go func() {
					for {
						if _, err := p.readFrame(); err != nil {
							return
						}
					}
				}()
				payload := bytes.Repeat([]byte("y"), 0x10000)
				for pre := 110; pre <= 2+maxControl; pre++ {
					b := join(frame(fin|opPog, bytes.Repeat([]byte{2}, pre-2)), frame(fin|opBin, payload))
					for _, split := range []int{0, 120, 125, 127, 128, 129, 130, 133} {
						var err error
						if split == 0 {
							_, err = p.c.Write(b)
						} else if _, err = p.c.Write(b[:split]); err == nil {
							time.Sleep(3 * time.Millisecond) // so that the two writes come apart
							_, err = p.c.Write(b[split:])
						}
						if err != nil {
							t.Fatal(err)
						}
						conn.SetReadDeadline(time.Now().Add(waitBound)) // a guard against hanging
						if _, m, err := conn.ReadMessage(); err != nil || !bytes.Equal(m, payload) {
							t.Fatalf("a pong of %d bytes, split at %d: %d bytes, %v", pre, split, len(m), err)
						}
					}
				}
			})
		}
	}
}

// TestParkedReadTimeoutFailsForGood: a read deadline that passes while a
// read is parked, over TCP, TLS or a pipe, with a keepalive looking or
// not, fails the read, and every later one, as SetReadDeadline says, even
// once the deadline is cleared and a message has come.
func TestParkedReadTimeoutFailsForGood(t *testing.T) {
	for _, kind := range []string{"tcp", "tls", "pipe"} {
		for _, ka := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keepalive=%v", kind, ka), func(t *testing.T) {
				var opts []Option
				if ka {
					opts = append(opts, WithKeepAlive(time.Millisecond, time.Minute))
				}
				conn, p := pairOver(t, kind, testServer{}, opts...)
				go func() {
					for {
						f, err := p.readFrame()
						if err != nil {
							return
						}
						if f.op == opPing {
							p.c.Write(frame(fin|opPog, f.payload))
						}
					}
				}()
				conn.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
				if _, _, err := conn.ReadMessage(); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("the parked read: %v; want it timed out", err)
				}
				conn.SetReadDeadline(time.Time{})
				go p.c.Write(frame(fin|opTxt, []byte("late")))
				if _, m, err := conn.ReadMessage(); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("the read after: %q, %v; want the timeout again", m, err)
				}
			})
		}
	}
}

// TestCloseEndsReadParkedOnTCPAndTLS: Close, from another goroutine, ends a
// read parked on a TLS connection, or on TCP, with the keepalive on, whether
// the server answers the close or not.
func TestCloseEndsReadParkedOnTCPAndTLS(t *testing.T) {
	for _, kind := range []string{"tcp", "tls"} {
		for _, answer := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/answer=%v", kind, answer), func(t *testing.T) {
				conn, p := pairOver(t, kind, testServer{}, WithKeepAlive(kaInterval, kaTimeout))
				s := serveKeepAlive(t, p, true)
				s.echo.Store(false)
				if !answer {
					s.p.c.SetReadDeadline(time.Now()) // the server reads no more: it never sees the close
				}
				done := reading(conn, nil)
				if answer {
					s.waitPings(t, 2) // while the read waits
				}
				cerr := conn.Close()
				if err := <-done; !errors.Is(err, net.ErrClosed) {
					t.Errorf("the parked read ended with %v", err)
				}
				if answer && cerr != nil {
					t.Errorf("Close, answered: %v", cerr)
				}
			})
		}
	}
}

// TestKeepAliveVerdictOverTLS: the keepalive fails a TLS connection whose
// server stops answering, with a read parked or nobody reading: the read,
// and every later one, says so.
func TestKeepAliveVerdictOverTLS(t *testing.T) {
	for _, reader := range []bool{false, true} {
		t.Run(fmt.Sprintf("reader=%v", reader), func(t *testing.T) {
			conn, p := pairOver(t, "tls", testServer{}, WithKeepAlive(kaInterval, kaTimeout))
			s := serveKeepAlive(t, p, false)
			if reader {
				_, _, err := conn.ReadMessage()
				checkKeepAliveErr(t, "the parked read", err)
			}
			s.waitEnd(t)
			_, _, err := conn.ReadMessage()
			checkKeepAliveErr(t, "a read after the verdict", err)
		})
	}
}
