package wsdial

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// gatedConn is a net.Conn that reads first, then waits for open before it
// reads rest, then ends; writes are dropped. It puts a fuzzed server's bytes
// before and after a stream is opened, with no network in the way.
type gatedConn struct {
	mu          sync.Mutex
	first, rest []byte
	drained     chan struct{} // closed once a read has found first used up
	gate        chan struct{} // closed by open
	closed      chan struct{}
	drainOnce   sync.Once
	openOnce    sync.Once
	closeOnce   sync.Once
}

func newGatedConn(first, rest []byte) *gatedConn {
	return &gatedConn{first: first, rest: rest, drained: make(chan struct{}), gate: make(chan struct{}), closed: make(chan struct{})}
}

func (g *gatedConn) open() { g.openOnce.Do(func() { close(g.gate) }) }

func (g *gatedConn) Read(p []byte) (int, error) {
	g.mu.Lock()
	if len(g.first) > 0 {
		n := copy(p, g.first)
		g.first = g.first[n:]
		g.mu.Unlock()
		return n, nil
	}
	g.mu.Unlock()
	g.drainOnce.Do(func() { close(g.drained) })
	select {
	case <-g.gate:
	case <-g.closed:
		return 0, net.ErrClosed
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.rest) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.rest)
	g.rest = g.rest[n:]
	return n, nil
}

func (g *gatedConn) Write(p []byte) (int, error) {
	select {
	case <-g.closed:
		return 0, net.ErrClosed
	default:
		return len(p), nil
	}
}

func (g *gatedConn) Close() error {
	g.closeOnce.Do(func() { close(g.closed) })
	return nil
}

func (g *gatedConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (g *gatedConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (g *gatedConn) SetDeadline(time.Time) error      { return nil }
func (g *gatedConn) SetReadDeadline(time.Time) error  { return nil }
func (g *gatedConn) SetWriteDeadline(time.Time) error { return nil }

// h2Frames builds a server's bytes frame by frame.
type h2Frames struct {
	buf  bytes.Buffer
	fr   *http2.Framer
	hbuf bytes.Buffer
	enc  *hpack.Encoder
}

func newH2Frames() *h2Frames {
	f := &h2Frames{}
	f.fr = http2.NewFramer(&f.buf, nil)
	f.fr.AllowIllegalWrites = true
	f.enc = hpack.NewEncoder(&f.hbuf)
	return f
}

func (f *h2Frames) headers(id uint32, end bool, kv ...string) *h2Frames {
	f.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		f.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	f.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: bytes.Clone(f.hbuf.Bytes()), EndHeaders: true, EndStream: end})
	return f
}

func (f *h2Frames) bytes() []byte { return bytes.Clone(f.buf.Bytes()) }

// FuzzH2Conn gives a client HTTP/2 connection a server's bytes: first up to
// its SETTINGS, then, once a stream is open, rest. With early, as for a
// proxy's connection, the stream may open before any SETTINGS. Whatever they hold, the
// connection must end when they end, with every goroutine, and the stream's
// reads and writes must return; it must never buffer more than a stream's
// window, nor panic.
func FuzzH2Conn(f *testing.F) {
	settings := func() *h2Frames {
		fs := newH2Frames()
		fs.fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1})
		return fs
	}
	first := settings().bytes()
	f.Add(first, newH2Frames().headers(1, false, ":status", "200").bytes(), false)
	data := newH2Frames().headers(1, false, ":status", "200")
	data.fr.WriteData(1, false, frame(fin|opTxt, []byte("hello")))
	data.fr.WriteDataPadded(1, true, []byte("x"), make([]byte, 20))
	f.Add(first, data.bytes(), false)
	refuse := newH2Frames().headers(1, false, ":status", "403", "content-length", "2")
	refuse.fr.WriteData(1, true, []byte("no"))
	f.Add(first, refuse.bytes(), false)
	ctl := newH2Frames()
	ctl.fr.WritePing(false, [8]byte{1})
	ctl.fr.WriteWindowUpdate(0, 1000)
	ctl.fr.WriteWindowUpdate(1, 1<<31-1)
	ctl.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1}, http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20})
	ctl.headers(1, false, ":status", "200")
	ctl.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	ctl.fr.WriteGoAway(1, http2.ErrCodeNo, []byte("bye"))
	f.Add(first, ctl.bytes(), false)
	cont := newH2Frames()
	cont.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x88}})
	cont.fr.WriteContinuation(1, true, []byte{0x40, 1, 'a', 1, 'b'})
	cont.fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: []byte{0x88}, EndHeaders: true})
	f.Add(first, cont.bytes(), false)
	f.Add([]byte{0, 0, 0, 4, 1, 0, 0, 0, 0}, []byte{0, 0, 1, 0, 0, 0, 0, 0, 1, 0}, false)
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"), []byte(nil), false)

	f.Add([]byte(nil), data.bytes(), true)
	f.Add(cont.bytes(), first, true)

	f.Fuzz(func(t *testing.T, first, rest []byte, early bool) {
		gc := newGatedConn(first, rest)
		cc := newH2Conn(gc, early)
		select {
		case <-cc.settingsSeen:
		case <-gc.drained:
		}
		s, err := cc.openStream(extendedConnect("example.com", "/", &config{}, ""))
		gc.open()
		if err != nil {
			<-cc.done
			return
		}
		go s.Write(make([]byte, 100<<10))
		s.awaitResponse(neverDone{})
		buf := make([]byte, 4096)
		for {
			if _, err := s.Read(buf); err != nil {
				break
			}
		}
		<-cc.done
		cc.mu.Lock()
		buffered := s.in.len()
		cc.mu.Unlock()
		if buffered > h2StreamWindow {
			t.Fatalf("the stream buffered %d bytes, more than its window", buffered)
		}
		s.Close()
		if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("write after Close: %v", err)
		}
	})
}

// neverDone is a context that never ends, for a wait that only the
// connection's end may stop.
type neverDone struct{}

func (neverDone) Deadline() (time.Time, bool) { return time.Time{}, false }
func (neverDone) Done() <-chan struct{}       { return nil }
func (neverDone) Err() error                  { return nil }
func (neverDone) Value(any) any               { return nil }
