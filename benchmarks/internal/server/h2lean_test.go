package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsdial/wsdial"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// startLean serves the lean HTTP/2 server granting HTTP/2's default windows
// of 64 KiB, so that a 1 MiB message from the client needs many
// WINDOW_UPDATEs (wsdial's client grants the server its own, larger ones).
func startLean(t *testing.T) (*countingListener, *tls.Config) {
	t.Helper()
	tlsCfg, caPEM, err := NewTestPKI()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	g := NewGroup()
	t.Cleanup(g.Close)
	ServeH2Lean(g, cl, tlsCfg, LeanH2{})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return cl, &tls.Config{RootCAs: pool}
}

func leanDialer(t *testing.T, tc *tls.Config) *wsdial.Dialer {
	t.Helper()
	d, err := wsdial.New(wsdial.WithTLSConfig(tc), wsdial.WithHTTP2(), wsdial.WithoutProxy())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.CloseIdleConnections)
	return d
}

func dialLean(t *testing.T, d *wsdial.Dialer, addr, path string) *wsdial.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.DialWebSocket(ctx, "wss://"+addr+path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Response().ProtoMajor; got != 2 {
		t.Fatalf("ProtoMajor = %d, want 2: not an HTTP/2 stream", got)
	}
	c.SetReadLimit(4 << 20)
	return c
}

func TestLeanH2Echo(t *testing.T) {
	ln, tc := startLean(t)
	c := dialLean(t, leanDialer(t, tc), ln.Addr().String(), wire.PathEcho)
	for _, n := range []int{0, 1, 125, 126, 128, 65535, 70 << 10, 1 << 20} {
		msg := bytes.Repeat([]byte{byte('a' + n%26)}, n)
		typ := wsdial.BinaryMessage
		if n%2 == 1 {
			typ = wsdial.TextMessage
		}
		if err := c.WriteMessage(typ, msg); err != nil {
			t.Fatalf("write %d B: %v", n, err)
		}
		gotTyp, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read %d B: %v", n, err)
		}
		if gotTyp != typ || !bytes.Equal(got, msg) {
			t.Fatalf("echo of %d B came back as %v of %d B", n, gotTyp, len(got))
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close handshake: %v", err)
	}
}

// TestLeanH2Megabyte sends 1 MiB each way: client to server, sixteen times
// the windows the server grants.
func TestLeanH2Megabyte(t *testing.T) {
	ln, tc := startLean(t)
	d := leanDialer(t, tc)
	addr := ln.Addr().String()
	t.Run("client→server", func(t *testing.T) {
		c := dialLean(t, d, addr, wire.PathSink)
		defer c.Close()
		for range 3 {
			if err := c.WriteMessage(wsdial.BinaryMessage, make([]byte, 1<<20)); err != nil {
				t.Fatal(err)
			}
			if _, ack, err := c.ReadMessage(); err != nil || string(ack) != "a" {
				t.Fatalf("ack %q, %v", ack, err)
			}
		}
	})
	t.Run("server→client", func(t *testing.T) {
		c := dialLean(t, d, addr, wire.PathSource)
		defer c.Close()
		if err := c.WriteMessage(wsdial.TextMessage, []byte(wire.SourceRequest(3, 1<<20))); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			typ, p, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if typ != wsdial.BinaryMessage || len(p) != 1<<20 || !bytes.Equal(p, make([]byte, 1<<20)) {
				t.Fatalf("message %d: %v of %d B, want 1 MiB of zeros", i, typ, len(p))
			}
		}
	})
	if n := ln.n.Load(); n != 1 {
		t.Errorf("%d TCP connections, want 1: the streams shared one", n)
	}
}

// TestLeanH2ManyStreams runs a thousand WebSockets at once on one
// connection, as the benchmark's h2many does.
func TestLeanH2ManyStreams(t *testing.T) {
	const n = 1000
	ln, tc := startLean(t)
	d := leanDialer(t, tc)
	addr := ln.Addr().String()
	// The first dial opens the connection; the others are its streams.
	first := dialLean(t, d, addr, wire.PathEcho)
	defer first.Close()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := d.DialWebSocket(ctx, "wss://"+addr+wire.PathEcho)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			msg := bytes.Repeat([]byte{byte(i)}, 128+i)
			for range 10 {
				if err := c.WriteMessage(wsdial.BinaryMessage, msg); err != nil {
					errs[i] = err
					return
				}
				_, got, err := c.ReadMessage()
				if err != nil {
					errs[i] = err
					return
				}
				if !bytes.Equal(got, msg) {
					errs[i] = fmt.Errorf("stream %d: the echo came back different", i)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := ln.n.Load(); got != 1 {
		t.Errorf("%d TCP connections, want 1", got)
	}
}

// rawH2 is a hand-driven HTTP/2 client, for what wsdial's client would
// never show: what the server sends beyond the windows it was given.
type rawH2 struct {
	t   *testing.T
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
}

// dialRaw opens a connection whose client grants the server a stream
// window of streamWin bytes.
func dialRaw(t *testing.T, addr string, tc *tls.Config, streamWin uint32) *rawH2 {
	t.Helper()
	cfg := tc.Clone()
	cfg.NextProtos = []string{"h2"}
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	r := &rawH2{t: t, fr: http2.NewFramer(c, c)}
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.enc = hpack.NewEncoder(&r.hb)
	if err := r.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: streamWin}); err != nil {
		t.Fatal(err)
	}
	f := r.next()
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		t.Fatalf("first frame %v, want the server's SETTINGS", f)
	}
	if v, ok := sf.Value(http2.SettingEnableConnectProtocol); !ok || v != 1 {
		t.Fatalf("SETTINGS_ENABLE_CONNECT_PROTOCOL = %d, %v; want 1", v, ok)
	}
	if err := r.fr.WriteSettingsAck(); err != nil {
		t.Fatal(err)
	}
	return r
}

// next reads the next frame, skipping the connection-level bookkeeping
// the tests do not look at.
func (r *rawH2) next() http2.Frame {
	r.t.Helper()
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && sf.IsAck() {
			continue
		}
		if wf, ok := f.(*http2.WindowUpdateFrame); ok && wf.StreamID == 0 {
			continue
		}
		return f
	}
}

// open sends an extended CONNECT for path on stream id and checks its 200.
func (r *rawH2) open(id uint32, path string) {
	r.t.Helper()
	r.hb.Reset()
	for _, hf := range [][2]string{{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"}, {":path", path}, {":authority", "127.0.0.1"}, {"sec-websocket-version", "13"}} {
		r.enc.WriteField(hpack.HeaderField{Name: hf[0], Value: hf[1]})
	}
	if err := r.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.hb.Bytes(), EndHeaders: true}); err != nil {
		r.t.Fatal(err)
	}
	f, ok := r.next().(*http2.MetaHeadersFrame)
	if !ok || f.StreamID != id || f.PseudoValue("status") != "200" {
		r.t.Fatalf("response to CONNECT: %v, want a 200 on stream %d", f, id)
	}
}

// readData reads DATA frames of stream id until they carry at least n
// bytes, and returns how many they carried.
func (r *rawH2) readData(id uint32, n int) int {
	r.t.Helper()
	got := 0
	for got < n {
		f, ok := r.next().(*http2.DataFrame)
		if !ok || f.StreamID != id {
			r.t.Fatalf("got %v, want DATA on stream %d", f, id)
		}
		got += len(f.Data())
	}
	return got
}

// sendText sends a masked text message on stream id.
func (r *rawH2) sendText(id uint32, s string) {
	r.t.Helper()
	var b bytes.Buffer
	mask := ws.NewMask()
	ws.WriteHeader(&b, ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Mask: mask, Length: int64(len(s))})
	p := []byte(s)
	ws.Cipher(p, mask, 0)
	b.Write(p)
	if err := r.fr.WriteData(id, false, b.Bytes()); err != nil {
		r.t.Fatal(err)
	}
}

// TestLeanH2HonoursWindows grants the server 1,000 bytes a stream and
// checks it sends no more until credited, answers PING meanwhile, and goes
// on serving another stream after one is reset.
func TestLeanH2HonoursWindows(t *testing.T) {
	const win = 1000
	ln, tc := startLean(t)
	r := dialRaw(t, ln.Addr().String(), tc, win)
	r.open(1, wire.PathSource)
	r.sendText(1, wire.SourceRequest(1, 5000))
	if got := r.readData(1, win); got != win {
		t.Fatalf("server sent %d bytes on a window of %d", got, win)
	}
	// Nothing more may come until credit: a PING's ACK must be the next
	// frame.
	if err := r.fr.WritePing(false, [8]byte{7}); err != nil {
		t.Fatal(err)
	}
	if f, ok := r.next().(*http2.PingFrame); !ok || !f.IsAck() || f.Data != [8]byte{7} {
		t.Fatalf("got %v, want the PING's ACK with nothing before it", f)
	}
	if err := r.fr.WriteWindowUpdate(1, 10000); err != nil {
		t.Fatal(err)
	}
	// The rest: the payload and its 4-byte header, less the first window.
	if got, want := r.readData(1, 5004-win), 5004-win; got != want {
		t.Fatalf("server sent %d bytes after the credit, want %d", got, want)
	}
	if err := r.fr.WriteRSTStream(1, http2.ErrCodeCancel); err != nil {
		t.Fatal(err)
	}
	r.open(3, wire.PathEcho)
	r.sendText(3, "hello")
	f, ok := r.next().(*http2.DataFrame)
	if !ok || f.StreamID != 3 || !bytes.Equal(f.Data(), append([]byte{0x81, 5}, "hello"...)) {
		t.Fatalf("got %v, want the echo on stream 3", f)
	}
	// After the client's GOAWAY, the connection ends with its last stream.
	if err := r.fr.WriteGoAway(3, http2.ErrCodeNo, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.fr.WriteData(3, true, nil); err != nil {
		t.Fatal(err)
	}
	if f, ok := r.next().(*http2.DataFrame); !ok || f.StreamID != 3 || !f.StreamEnded() {
		t.Fatalf("got %v, want END_STREAM on stream 3", f)
	}
	if f, err := r.fr.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, %v; want the connection closed", f, err)
	}
}

// TestLeanH2HonoursTheConnectionWindow: with a stream window larger than
// the connection's, 65,535 bytes, the server stops at the connection's,
// answers a PING meanwhile, and sends the rest once the connection is
// credited.
func TestLeanH2HonoursTheConnectionWindow(t *testing.T) {
	const connWin, size = 65535, 70000
	ln, tc := startLean(t)
	r := dialRaw(t, ln.Addr().String(), tc, 1<<20)
	r.open(1, wire.PathSource)
	r.sendText(1, wire.SourceRequest(1, size))
	if got := r.readData(1, connWin); got != connWin {
		t.Fatalf("server sent %d bytes on a connection window of %d", got, connWin)
	}
	if err := r.fr.WritePing(false, [8]byte{9}); err != nil {
		t.Fatal(err)
	}
	if f, ok := r.next().(*http2.PingFrame); !ok || !f.IsAck() || f.Data != [8]byte{9} {
		t.Fatalf("got %v, want the PING's ACK with nothing before it", f)
	}
	if err := r.fr.WriteWindowUpdate(0, 10000); err != nil {
		t.Fatal(err)
	}
	// The rest: the payload and its 10-byte header, less the first window.
	if got, want := r.readData(1, size+10-connWin), size+10-connWin; got != want {
		t.Fatalf("server sent %d bytes after the credit, want %d", got, want)
	}
}
