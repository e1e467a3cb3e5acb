package wsdial

import (
	"bytes"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestParkedReadTakesEveryLength: a read that waits between messages waits
// in a buffer smaller than many messages (parkBufSize bytes on the stack,
// or waitBufSize lent), then moves what came into a read buffer and reads
// the rest from there. The message that ends each wait comes in one write
// of the server, of every length about those sizes and the frame header's
// bounds, whole or in two frames with a ping between them, and reads back
// whole, the ping answered.
func TestParkedReadTakesEveryLength(t *testing.T) {
	var lengths []int
	for _, around := range []int{0, parkBufSize, 125, 126, waitBufSize, readBufSize, 0xFFFF, 0x10000} {
		for n := max(around-3, 0); n <= around+3; n++ {
			lengths = append(lengths, n)
		}
	}
	for _, kind := range []string{"tcp", "tls", "pipe"} {
		t.Run(kind, func(t *testing.T) {
			conn, p := pairOver(t, kind, testServer{})
			type message struct {
				typ  MessageType
				data []byte
				err  error
			}
			got := make(chan message)
			go func() {
				for {
					typ, data, err := conn.ReadMessage()
					got <- message{typ, data, err}
					if err != nil {
						return
					}
				}
			}()
			for i, n := range lengths {
				payload := bytes.Repeat([]byte{byte(i)}, n)
				for _, split := range []bool{false, true} {
					// Each message is written only once the one before it is
					// read, so that nothing waits in the read buffer and the
					// read waits for the stream again.
					b := frame(0x82, payload)
					if split {
						b = frame(0x02, payload[:n/2])
						b = appendFrame(b, 0x89, []byte("k"))
						b = appendFrame(b, 0x80, payload[n/2:])
					}
					// A guard against hanging on bytes lost, not a bound
					// the test measures.
					conn.SetReadDeadline(time.Now().Add(10 * time.Second))
					if _, err := p.c.Write(b); err != nil {
						t.Fatal(err)
					}
					m := <-got
					what := fmt.Sprintf("a message of %d bytes (in two frames: %v)", n, split)
					if m.err != nil {
						t.Fatalf("%s: %v", what, m.err)
					}
					if m.typ != BinaryMessage || !bytes.Equal(m.data, payload) {
						t.Fatalf("%s: read type %v, %d bytes, not the message", what, m.typ, len(m.data))
					}
					if split {
						expectFrame(t, p, 0xA, "k")
					}
				}
			}
		})
	}
}

// TestNetConnOnceBytesBehind101AreRead: bytes the server sent right behind
// its 101 come first from NetConn, through a wrapper; once a read has
// taken them, NetConn is the TCP connection itself again, as a type switch
// on it expects, and reads park in the buffer on their stack.
func TestNetConnOnceBytesBehind101AreRead(t *testing.T) {
	conn, p := handshakeOver(t, frame(0x81, []byte("hello")), nil)
	if _, ok := conn.NetConn().(*net.TCPConn); ok {
		t.Fatal("NetConn is the TCP connection while the message behind the 101 waits in the handshake's buffer")
	}
	typ, data, err := conn.ReadMessage()
	if err != nil || typ != TextMessage || string(data) != "hello" {
		t.Fatalf("ReadMessage: %v %q %v; want the text behind the 101", typ, data, err)
	}
	if nc, ok := conn.NetConn().(*net.TCPConn); !ok {
		t.Errorf("NetConn is %T once the bytes behind the 101 are read, want *net.TCPConn", conn.NetConn())
	} else if nc.LocalAddr().String() != p.c.RemoteAddr().String() {
		t.Errorf("NetConn is a TCP connection from %v, not the one the server has", nc.LocalAddr())
	}
	if _, err := p.c.Write(frame(0x82, []byte("again"))); err != nil {
		t.Fatal(err)
	}
	if _, data, err := conn.ReadMessage(); err != nil || string(data) != "again" {
		t.Fatalf("the next ReadMessage: %q %v", data, err)
	}
}
