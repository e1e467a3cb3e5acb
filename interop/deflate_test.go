package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsdial/wsdial"
)

// countingConn counts the bytes that cross a stream, to show that what went
// over the wire was compressed.
type countingConn struct {
	net.Conn
	read, written atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// words is text that compresses, as chat and JSON do.
func words(n int, seed uint64) []byte {
	vocabulary := strings.Fields(`the quick brown fox jumps over a lazy dog {"id": 7, "user": "wsdial", "tags": ["x"]} ` +
		"message frame deflate window proxy tunnel handshake ünïcödé ✓")
	r := rand.New(rand.NewPCG(seed, 2))
	var b []byte
	for len(b) < n {
		b = append(b, vocabulary[r.IntN(len(vocabulary))]...)
		b = append(b, ' ')
	}
	// Cut at n, then back to a rune boundary so the text stays UTF-8.
	b = b[:n]
	for len(b) > 0 && b[len(b)-1]&0xC0 == 0x80 {
		b = b[:len(b)-1]
	}
	if len(b) > 0 && b[len(b)-1] >= 0xC0 {
		b = b[:len(b)-1]
	}
	for len(b) < n {
		b = append(b, '.')
	}
	return b
}

// randomBytes is n bytes that do not compress.
func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), 'z'}).Read(b)
	return b
}

// deflateSizes runs from a byte to 4 MiB, across the default threshold
// (128), ws' threshold (1 KiB), a frame of NextWriter (16 KiB) and
// python-websockets' 4 KiB window.
var deflateSizes = []int{1, 127, 128, 1000, 1 << 10, 5000, 16 << 10, 64 << 10, 1 << 20, 4 << 20}

// deflateSettings are the client's settings, with the parameter each must
// or must not find in the server's answer.
var deflateSettings = []struct {
	name    string
	row     string // the matrix row, short enough for its column
	c       wsdial.Compression
	want    []string // in the server's Sec-WebSocket-Extensions
	wantNot []string
}{
	{"default", "deflate", wsdial.Compression{}, []string{"client_no_context_takeover"}, []string{"server_no_context_takeover"}},
	{"context both ways", "deflate ctx both", wsdial.Compression{ClientContextTakeover: true}, nil,
		[]string{"client_no_context_takeover", "server_no_context_takeover"}},
	{"no context takeover", "deflate no ctx", wsdial.Compression{ServerNoContextTakeover: true},
		[]string{"client_no_context_takeover", "server_no_context_takeover"}, nil},
	{"client context, level 9", "deflate ctx, level 9", wsdial.Compression{ClientContextTakeover: true, ServerNoContextTakeover: true, Level: 9},
		[]string{"server_no_context_takeover"}, []string{"client_no_context_takeover"}},
	{"compress all", "deflate threshold -1", wsdial.Compression{Threshold: -1}, []string{"client_no_context_takeover"}, nil},
}

// TestDeflate echoes compressible text and random binary, 1 byte to 4 MiB,
// through python-websockets and ws with permessage-deflate, under each
// setting of context takeover, and checks from the bytes on the wire that
// both directions were compressed.
func TestDeflate(t *testing.T) {
	p := loadPeers(t)
	for _, s := range []server{servers[0], servers[2]} { // py-ws, node-ws
		for _, set := range deflateSettings {
			t.Run(s.name+"/"+set.name, func(t *testing.T) {
				record(t, set.row, s.name)
				ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
				defer cancel()
				raw, err := net.DialTimeout("tcp", p.addr[s.peer], dialTimeout)
				if err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
				cc := &countingConn{Conn: raw}
				c, err := wsdial.Handshake(ctx, cc, net.JoinHostPort("localhost", p.port(s.peer)), s.path,
					wsdial.WithCompression(set.c), wsdial.WithReadLimit(16<<20))
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				checkExtension(t, c, set.want, set.wantNot)
				handshake := [2]int64{cc.written.Load(), cc.read.Load()}

				var textBytes int64
				deadline := time.Now().Add(2 * ioTimeout)
				c.SetReadDeadline(deadline)
				c.SetWriteDeadline(deadline)
				for i, n := range deflateSizes {
					echo(t, c, wsdial.TextMessage, words(n, uint64(i)), false)
					textBytes += int64(n)
				}
				sent, recvd := cc.written.Load()-handshake[0], cc.read.Load()-handshake[1]
				t.Logf("text: %d bytes each way took %d bytes out and %d in", textBytes, sent, recvd)
				if sent > textBytes/2 || recvd > textBytes/2 {
					t.Errorf("text of %d bytes took %d bytes out and %d in: not compressed", textBytes, sent, recvd)
				}
				for i, n := range deflateSizes {
					echo(t, c, wsdial.BinaryMessage, randomBytes(n, uint64(i)), false)
				}
				// Streamed through NextWriter, in 10 KiB writes.
				echo(t, c, wsdial.TextMessage, words(1<<20, 99), true)
				echo(t, c, wsdial.BinaryMessage, randomBytes(300<<10, 99), true)
				// Messages that refer back to earlier ones under context takeover.
				for i := range 20 {
					echo(t, c, wsdial.TextMessage, words(2000, uint64(i%3)), i%2 == 1)
				}
				if err := c.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
		}
	}
}

// TestDeflateTLS runs compression over wss:// to both servers and through
// nginx, which passes the extension on untouched.
func TestDeflateTLS(t *testing.T) {
	p := loadPeers(t)
	for _, s := range []server{servers[1], servers[3], servers[4], servers[5]} { // py-wss, node-wss, nginx-py, nginx-node
		t.Run(s.name, func(t *testing.T) {
			record(t, "deflate over TLS", s.name)
			ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
			defer cancel()
			c, err := newDialer(t, wsdial.WithoutProxy(), wsdial.WithTLSConfig(&tls.Config{RootCAs: p.roots}),
				wsdial.WithCompression(wsdial.Compression{})).DialWebSocket(ctx, s.url(p, "localhost"))
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.NetConn().Close()
			checkExtension(t, c, []string{"client_no_context_takeover"}, nil)
			deadline := time.Now().Add(ioTimeout)
			c.SetReadDeadline(deadline)
			c.SetWriteDeadline(deadline)
			for i, n := range []int{1, 1000, 64 << 10, 1 << 20} {
				echo(t, c, wsdial.TextMessage, words(n, uint64(i)), false)
				echo(t, c, wsdial.BinaryMessage, randomBytes(n, uint64(i)), false)
			}
			if err := c.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}

// checkExtension checks that the server accepted permessage-deflate with
// the parameters in want and none of those in wantNot.
func checkExtension(t *testing.T, c *wsdial.Conn, want, wantNot []string) {
	t.Helper()
	ext := strings.Join(c.Response().Header.Values("Sec-WebSocket-Extensions"), ", ")
	t.Logf("server answered Sec-WebSocket-Extensions: %s", ext)
	if !strings.HasPrefix(ext, "permessage-deflate") {
		t.Fatalf("server did not accept permessage-deflate: %q", ext)
	}
	for _, w := range want {
		if !strings.Contains(ext, w) {
			t.Errorf("answer %q lacks %s", ext, w)
		}
	}
	for _, w := range wantNot {
		if strings.Contains(ext, w) {
			t.Errorf("answer %q has %s", ext, w)
		}
	}
}

// echo sends data as one message, with WriteMessage or streamed through
// NextWriter, and expects it back unchanged.
func echo(t *testing.T, c *wsdial.Conn, typ wsdial.MessageType, data []byte, stream bool) {
	t.Helper()
	name := fmt.Sprintf("%v message of %d bytes (streamed %v)", typ, len(data), stream)
	if stream {
		w, err := c.NextWriter(typ)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for d := data; len(d) > 0; d = d[min(len(d), 10<<10):] {
			if _, err := w.Write(d[:min(len(d), 10<<10)]); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	} else if err := c.WriteMessage(typ, data); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	got, r, err := c.NextReader()
	if err != nil {
		t.Fatalf("%s: reading the echo: %v", name, err)
	}
	back, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: reading the echo: %v", name, err)
	}
	if got != typ || !bytes.Equal(back, data) {
		t.Fatalf("%s: echo is a %v message of %d bytes (first difference at %d)", name, got, len(back), firstDifference(back, data))
	}
}
