package server

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"

	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// A lean HTTP/2 server for the WebSocket endpoints, the HTTP/2 counterpart
// of the bare gobwas/ws HTTP/1.1 fixture. x/net/http2's server hands every
// frame between its reading, serving and handler goroutines, and starts a
// goroutine for each flush; measured, that cost more CPU per echo than the
// whole of issue 16's echo budget, so against it the benchmark measured
// x/net's server more than wsdial's client. This one keeps each connection
// on one goroutine: it reads a frame, runs the WebSocket endpoint of its
// stream over the bytes, and writes what that makes, within the client's
// windows. Only x/net's framing (Framer, HPACK) is used.
//
// One goroutine suffices because a send never waits on the client's windows
// here: what the windows do not allow stays queued on its stream until a
// WINDOW_UPDATE, which the same goroutine reads, and a stream's input is not
// consumed (nor credited back) while its queue is full, so memory stays
// bounded by the windows this server grants. A write can block only on TCP,
// which an HTTP/2 client keeps reading.

// LeanH2 is the lean HTTP/2 server's configuration: the receive windows it
// grants the client. Zero fields take HTTP/2's default of 65,535 bytes.
type LeanH2 struct {
	StreamWindow uint32 // SETTINGS_INITIAL_WINDOW_SIZE, at least 65,535
	ConnWindow   uint32 // the connection's receive window, at least 65,535
}

// LeanH2Bench is what the benchmarks run: x/net's server's own windows
// (1 MiB per stream, 1 MiB for the connection), so that the two HTTP/2
// servers differ in their machinery, not in their windows.
var LeanH2Bench = LeanH2{StreamWindow: 1 << 20, ConnWindow: 1 << 20}

// ServeH2Lean serves the WebSocket endpoints on ln over TLS as ServeH2
// does, HTTP/1.1 upgrades by the same gobwas/ws code, but RFC 8441 streams
// by the lean server that cfg configures.
func ServeH2Lean(g *Group, ln net.Listener, tlsCfg *tls.Config, cfg LeanH2) {
	serveALPN(g, ln, tlsCfg, func(tc *tls.Conn) { serveLean(tc, cfg) })
}

const (
	defaultWindow = 65535
	maxWindow     = 1<<31 - 1
	// leanMaxFrame bounds the DATA frames sent: the smallest maximum a
	// client may set, so that no client's setting needs checking.
	leanMaxFrame = 16384
	// leanOutLimit is how much a stream may hold to send before its input
	// waits: enough that an echo's reply never waits on its own request.
	leanOutLimit = 64 << 10
	// leanMsgLimit bounds a message the server reads whole: a source
	// request, and control frames (125 bytes by RFC 6455).
	leanMsgLimit = 4 << 10
	// leanInlineSource is the largest source message built whole in the
	// queue; larger ones send their zeros from zeroChunk.
	leanInlineSource = 4 << 10
)

var zeroChunk [leanMaxFrame]byte

// leanConn is one HTTP/2 connection of the lean server, owned by the one
// goroutine that serves it.
type leanConn struct {
	cfg LeanH2
	fr  *http2.Framer
	bw  *bufio.Writer
	enc *hpack.Encoder
	hb  []byte // the encoder's output

	streams  map[uint32]*leanStream
	lastID   uint32 // the highest stream the client opened
	sendWin  int64  // the client's connection window for our DATA
	peerInit int64  // the client's SETTINGS_INITIAL_WINDOW_SIZE
	recvWin  int64  // our connection window left to the client
	unacked  int64  // consumed bytes not yet credited to the connection
	// waiting are streams with output that the connection window stopped.
	waiting   []*leanStream
	goingAway bool // the client sent GOAWAY
	scratch   [leanMaxFrame]byte
}

// leanStream is one WebSocket stream.
type leanStream struct {
	id      uint32
	path    string
	every   int // sink: ack every this many messages
	msgs    int // sink: messages read
	sendWin int64
	recvWin int64
	unacked int64 // consumed bytes not yet credited to the stream

	in  []byte // received, not yet consumed
	out []byte // to send, waiting for window
	off int    // how much of out is sent
	// zeros are bytes of zero to send after out: a large source message's
	// payload.
	zeros int

	// The WebSocket frame being read: its header once read, how much of its
	// payload is still to come, and how much of it was unmasked.
	inFrame bool
	hdr     ws.Header
	left    int64
	pos     int
	msg     []byte // a source request, read whole
	ctl     []byte // a control frame's payload, read whole

	srcLeft, srcSize int // source: messages still to send, and their size

	closing      bool // a close frame is queued: END_STREAM follows it
	remoteEnded  bool // the client sent END_STREAM
	localEnded   bool // we sent END_STREAM
	waitingQueue bool // in leanConn.waiting
}

func serveLean(tc *tls.Conn, cfg LeanH2) {
	cfg.StreamWindow = max(cfg.StreamWindow, defaultWindow)
	cfg.ConnWindow = max(cfg.ConnWindow, defaultWindow)
	br := bufio.NewReaderSize(tc, 16<<10)
	bw := bufio.NewWriterSize(tc, 32<<10)
	var pre [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(br, pre[:]); err != nil || string(pre[:]) != http2.ClientPreface {
		return
	}
	c := &leanConn{
		cfg:      cfg,
		fr:       http2.NewFramer(bw, br),
		bw:       bw,
		streams:  make(map[uint32]*leanStream),
		sendWin:  defaultWindow,
		peerInit: defaultWindow,
		recvWin:  int64(cfg.ConnWindow),
	}
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = 64 << 10
	c.fr.SetReuseFrames()
	c.fr.SetMaxReadFrameSize(leanMaxFrame) // the default this server keeps
	c.enc = hpack.NewEncoder(hpackSink{c})
	settings := []http2.Setting{
		{ID: http2.SettingEnableConnectProtocol, Val: 1},
		{ID: http2.SettingMaxConcurrentStreams, Val: h2MaxStreams},
	}
	if cfg.StreamWindow != defaultWindow {
		settings = append(settings, http2.Setting{ID: http2.SettingInitialWindowSize, Val: cfg.StreamWindow})
	}
	c.fr.WriteSettings(settings...)
	if cfg.ConnWindow > defaultWindow {
		c.fr.WriteWindowUpdate(0, cfg.ConnWindow-defaultWindow)
	}
	if bw.Flush() != nil {
		return
	}
	first := true
	for {
		f, err := c.fr.ReadFrame()
		if err == nil && first {
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				err = http2.ConnectionError(http2.ErrCodeProtocol)
			}
			first = false
		}
		if err == nil {
			err = c.handle(f)
		}
		var se http2.StreamError
		switch {
		case errors.As(err, &se):
			c.reset(se.StreamID, se.Code)
		case err != nil:
			code := http2.ErrCodeProtocol
			var ce http2.ConnectionError
			switch {
			case errors.As(err, &ce):
				code = http2.ErrCode(ce)
			case errors.Is(err, http2.ErrFrameTooLarge):
				code = http2.ErrCodeFrameSize
			}
			c.fr.WriteGoAway(c.lastID, code, nil)
			bw.Flush()
			return
		}
		if c.goingAway && len(c.streams) == 0 {
			bw.Flush()
			return
		}
		// Flush once nothing more is at hand, so that replies to the frames
		// of one read go out in one write.
		if br.Buffered() == 0 && bw.Flush() != nil {
			return
		}
	}
}

// hpackSink collects the encoder's output in the connection's buffer.
type hpackSink struct{ c *leanConn }

func (h hpackSink) Write(p []byte) (int, error) {
	h.c.hb = append(h.c.hb, p...)
	return len(p), nil
}

func (c *leanConn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		if err := f.ForeachSetting(c.setting); err != nil {
			return err
		}
		return c.fr.WriteSettingsAck()
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		return c.fr.WritePing(true, f.Data)
	case *http2.MetaHeadersFrame:
		return c.headers(f)
	case *http2.DataFrame:
		return c.data(f)
	case *http2.WindowUpdateFrame:
		return c.windowUpdate(f)
	case *http2.RSTStreamFrame:
		if s := c.streams[f.StreamID]; s != nil {
			c.drop(s)
		}
		return nil
	case *http2.GoAwayFrame:
		c.goingAway = true
		return nil
	case *http2.PushPromiseFrame:
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	return nil // PRIORITY and unknown frames
}

func (c *leanConn) setting(s http2.Setting) error {
	if err := s.Valid(); err != nil {
		return err
	}
	switch s.ID {
	case http2.SettingHeaderTableSize:
		// The client's decoder keeps no more dynamic table than this.
		c.enc.SetMaxDynamicTableSizeLimit(s.Val)
		return nil
	case http2.SettingInitialWindowSize:
	default:
		return nil
	}
	// RFC 9113 §6.9.2: the change applies to every open stream's window.
	delta := int64(s.Val) - c.peerInit
	c.peerInit = int64(s.Val)
	for _, st := range c.streams {
		st.sendWin += delta
		if st.sendWin > maxWindow {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
	}
	if delta > 0 {
		for _, st := range c.streams {
			if err := c.pump(st); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *leanConn) headers(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if s := c.streams[id]; s != nil {
		// Trailers: legal only as the end of the client's side.
		if !f.StreamEnded() {
			return http2.StreamError{StreamID: id, Code: http2.ErrCodeProtocol}
		}
		s.remoteEnded = true
		return c.pump(s)
	}
	if id%2 == 0 || id <= c.lastID {
		return http2.ConnectionError(http2.ErrCodeProtocol)
	}
	c.lastID = id
	if c.goingAway {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream}
	}
	if len(c.streams) >= h2MaxStreams {
		return http2.StreamError{StreamID: id, Code: http2.ErrCodeRefusedStream}
	}
	var method, protocol, path, version string
	for _, hf := range f.Fields {
		switch hf.Name {
		case ":method":
			method = hf.Value
		case ":protocol":
			protocol = hf.Value
		case ":path":
			path = hf.Value
		case "sec-websocket-version":
			version = hf.Value
		}
	}
	status := "200"
	u, err := url.ParseRequestURI(path)
	switch {
	case method != "CONNECT" || protocol != "websocket" || version != "13" || err != nil || f.StreamEnded():
		status = "400"
	case u.Path != wire.PathEcho && u.Path != wire.PathSink && u.Path != wire.PathSource:
		status = "404"
	}
	c.hb = c.hb[:0]
	c.enc.WriteField(hpack.HeaderField{Name: ":status", Value: status})
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hb, EndHeaders: true, EndStream: status != "200"}); err != nil {
		return err
	}
	if status != "200" {
		if !f.StreamEnded() {
			// The client's side is still open: reset it, since nothing it
			// sends would be read.
			return c.fr.WriteRSTStream(id, http2.ErrCodeNo)
		}
		return nil
	}
	s := &leanStream{id: id, path: u.Path, every: 1, sendWin: c.peerInit, recvWin: int64(c.cfg.StreamWindow)}
	if n, err := strconv.Atoi(u.Query().Get("every")); err == nil && n > 0 {
		s.every = n
	}
	c.streams[id] = s
	return nil
}

func (c *leanConn) data(f *http2.DataFrame) error {
	n := int64(f.Length)
	c.recvWin -= n
	if c.recvWin < 0 {
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	p := f.Data()
	// Padding is consumed as it arrives.
	c.unacked += n - int64(len(p))
	s := c.streams[f.StreamID]
	if s == nil {
		if f.StreamID > c.lastID {
			return http2.ConnectionError(http2.ErrCodeProtocol)
		}
		// A stream already ended or reset: its data still spent the
		// connection's window.
		c.unacked += int64(len(p))
		return c.credit(nil)
	}
	if s.remoteEnded {
		return http2.StreamError{StreamID: s.id, Code: http2.ErrCodeStreamClosed}
	}
	s.recvWin -= n
	if s.recvWin < 0 {
		return http2.StreamError{StreamID: s.id, Code: http2.ErrCodeFlowControl}
	}
	s.unacked += n - int64(len(p))
	s.in = append(s.in, p...)
	if f.StreamEnded() {
		s.remoteEnded = true
	}
	return c.pump(s)
}

func (c *leanConn) windowUpdate(f *http2.WindowUpdateFrame) error {
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		c.sendWin += inc
		if c.sendWin > maxWindow {
			return http2.ConnectionError(http2.ErrCodeFlowControl)
		}
		waiting := c.waiting
		c.waiting = nil
		for _, s := range waiting {
			s.waitingQueue = false
			if c.streams[s.id] == s {
				if err := c.pump(s); err != nil {
					return err
				}
			}
		}
		return nil
	}
	s := c.streams[f.StreamID]
	if s == nil {
		return nil // a stream already gone
	}
	s.sendWin += inc
	if s.sendWin > maxWindow {
		return http2.StreamError{StreamID: s.id, Code: http2.ErrCodeFlowControl}
	}
	return c.pump(s)
}

// reset sends RST_STREAM and forgets the stream.
func (c *leanConn) reset(id uint32, code http2.ErrCode) {
	if s := c.streams[id]; s != nil {
		c.drop(s)
	}
	c.fr.WriteRSTStream(id, code)
}

// drop forgets s, crediting the connection for what it never consumed.
func (c *leanConn) drop(s *leanStream) {
	c.unacked += int64(len(s.in))
	s.in = nil
	delete(c.streams, s.id)
	c.credit(nil)
}

// pump moves s along as far as the windows allow: it sends what is queued,
// consumes input while the queue has room, makes the source's messages, and
// credits what it consumed.
func (c *leanConn) pump(s *leanStream) error {
	for {
		sent, err := c.send(s)
		if err != nil {
			return err
		}
		ate := c.consume(s)
		made := c.generate(s)
		if !sent && !ate && !made {
			break
		}
	}
	if s.queued() == 0 && !s.localEnded && (s.closing || s.remoteEnded && s.srcLeft == 0) {
		if err := c.fr.WriteData(s.id, true, nil); err != nil {
			return err
		}
		s.localEnded = true
	}
	if s.localEnded && s.remoteEnded {
		c.drop(s)
		return nil
	}
	return c.credit(s)
}

func (s *leanStream) queued() int { return len(s.out) - s.off + s.zeros }

// blocked reports whether s's input must wait: its queue is full, or a
// source is still sending what the last request asked for.
func (s *leanStream) blocked() bool {
	return len(s.out)-s.off >= leanOutLimit || s.zeros > 0 || s.srcLeft > 0
}

// send writes DATA frames from s's queue within both windows.
func (c *leanConn) send(s *leanStream) (bool, error) {
	sent := false
	for s.queued() > 0 {
		n := min(int64(s.queued()), s.sendWin, c.sendWin, leanMaxFrame)
		if n <= 0 {
			if s.sendWin > 0 && !s.waitingQueue {
				s.waitingQueue = true
				c.waiting = append(c.waiting, s)
			}
			break
		}
		p := c.scratch[:n]
		k := copy(p, s.out[s.off:])
		s.off += k
		if k < len(p) {
			clear(p[k:])
			s.zeros -= len(p) - k
		}
		if s.off == len(s.out) {
			s.out, s.off = s.out[:0], 0
		}
		if err := c.fr.WriteData(s.id, false, p); err != nil {
			return sent, err
		}
		s.sendWin -= n
		c.sendWin -= n
		sent = true
	}
	return sent, nil
}

// consume runs s's endpoint over its input while its queue has room.
func (c *leanConn) consume(s *leanStream) bool {
	start := len(s.in)
	in := s.in
	for len(in) > 0 && !s.blocked() {
		if s.closing {
			in = in[len(in):] // after a close frame, input is dropped
			break
		}
		if !s.inFrame {
			h, hl, ok := parseHeader(in)
			if !ok {
				break
			}
			// No extension is negotiated, so no RSV bit may be set.
			if !h.Masked || h.Rsv != 0 || h.OpCode.IsReserved() || h.Length > wire.MaxFrame ||
				h.OpCode.IsControl() && (h.Length > 125 || !h.Fin) {
				s.queueClose(ws.StatusProtocolError)
				continue
			}
			in = in[hl:]
			s.inFrame, s.hdr, s.left, s.pos = true, h, h.Length, 0
			if s.path == wire.PathEcho && !h.OpCode.IsControl() {
				s.queueHeader(ws.Header{Fin: h.Fin, OpCode: h.OpCode, Length: h.Length})
			}
		}
		k := int(min(s.left, int64(len(in)), leanOutLimit))
		chunk := in[:k]
		ws.Cipher(chunk, s.hdr.Mask, s.pos)
		s.pos += k
		s.left -= int64(k)
		in = in[k:]
		if !s.frame(chunk) {
			continue
		}
		s.inFrame = false
	}
	eaten := start - len(in)
	if eaten == 0 {
		return false
	}
	s.in = append(s.in[:0], in...)
	s.unacked += int64(eaten)
	c.unacked += int64(eaten)
	return true
}

// parseHeader reads a WebSocket frame header from the front of p, reporting
// false while p holds less than one.
func parseHeader(p []byte) (ws.Header, int, bool) {
	if len(p) < 2 {
		return ws.Header{}, 0, false
	}
	hl := 2
	switch p[1] & 0x7f {
	case 126:
		hl += 2
	case 127:
		hl += 8
	}
	if p[1]&0x80 != 0 {
		hl += 4
	}
	if len(p) < hl {
		return ws.Header{}, 0, false
	}
	h := ws.Header{Fin: p[0]&0x80 != 0, Rsv: (p[0] >> 4) & 0x7, OpCode: ws.OpCode(p[0] & 0xf), Masked: p[1]&0x80 != 0}
	i := 2
	switch l := p[1] & 0x7f; l {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(p[2:]))
		i = 4
	case 127:
		// RFC 6455 §5.2 forbids the top bit; kept, it would read as a
		// negative length, so it reads as too long instead.
		n := binary.BigEndian.Uint64(p[2:])
		if n >= 1<<63 {
			n = 1 << 62
		}
		h.Length = int64(n)
		i = 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		copy(h.Mask[:], p[i:])
	}
	return h, hl, true
}

// frame takes chunk, the next unmasked piece of the current frame's payload,
// reporting whether the frame is now whole.
func (s *leanStream) frame(chunk []byte) bool {
	h := s.hdr
	whole := s.left == 0
	// A control frame may come between a message's fragments: its payload
	// is kept apart from the message's.
	buf := &s.msg
	if h.OpCode.IsControl() {
		buf = &s.ctl
	}
	if h.OpCode.IsControl() || s.path == wire.PathSource {
		if len(*buf)+len(chunk) > leanMsgLimit {
			s.queueClose(ws.StatusMessageTooBig)
			return true
		}
		*buf = append(*buf, chunk...)
		if !whole {
			return false
		}
	}
	if s.path == wire.PathEcho && !h.OpCode.IsControl() {
		s.out = append(s.out, chunk...)
		return whole
	}
	if !whole {
		return false // sink: the payload is dropped as it comes
	}
	if !h.OpCode.IsControl() && !h.Fin {
		return true // a fragment: the message goes on
	}
	msg := *buf
	*buf = (*buf)[:0]
	switch {
	case h.OpCode == ws.OpPing:
		s.queueHeader(ws.Header{Fin: true, OpCode: ws.OpPong, Length: int64(len(msg))})
		s.out = append(s.out, msg...)
	case h.OpCode == ws.OpPong:
	case h.OpCode == ws.OpClose:
		// Answer with the client's code, as gobwas's endpoint does.
		code := ws.StatusNoStatusRcvd
		if len(msg) >= 2 {
			code = ws.StatusCode(binary.BigEndian.Uint16(msg))
		}
		s.queueClose(code)
	case s.path == wire.PathSink:
		s.msgs++
		if s.msgs%s.every == 0 {
			s.queueHeader(ws.Header{Fin: true, OpCode: ws.OpText, Length: 1})
			s.out = append(s.out, 'a')
		}
	case s.path == wire.PathSource:
		count, size, err := wire.ParseSourceRequest(string(msg))
		if err != nil {
			s.queueClose(ws.StatusUnsupportedData)
			break
		}
		s.srcLeft, s.srcSize = count, size
	}
	return true
}

func (s *leanStream) queueHeader(h ws.Header) {
	var b [ws.MaxHeaderSize]byte
	n := putHeader(b[:], h)
	s.out = append(s.out, b[:n]...)
}

// putHeader writes an unmasked frame header into b, returning its length.
func putHeader(b []byte, h ws.Header) int {
	b[0] = byte(h.OpCode)
	if h.Fin {
		b[0] |= 0x80
	}
	switch {
	case h.Length < 126:
		b[1] = byte(h.Length)
		return 2
	case h.Length <= 0xffff:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(h.Length))
		return 4
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(h.Length))
		return 10
	}
}

// queueClose queues a close frame with code (none for StatusNoStatusRcvd),
// after which the stream ends and its input is dropped.
func (s *leanStream) queueClose(code ws.StatusCode) {
	if s.closing {
		return
	}
	s.closing = true
	s.srcLeft = 0
	if code == ws.StatusNoStatusRcvd {
		s.queueHeader(ws.Header{Fin: true, OpCode: ws.OpClose})
		return
	}
	s.queueHeader(ws.Header{Fin: true, OpCode: ws.OpClose, Length: 2})
	s.out = binary.BigEndian.AppendUint16(s.out, uint16(code))
}

// generate queues the source's next messages while its queue has room.
func (c *leanConn) generate(s *leanStream) bool {
	made := false
	for s.srcLeft > 0 && s.zeros == 0 && len(s.out)-s.off < leanOutLimit {
		s.queueHeader(ws.Header{Fin: true, OpCode: ws.OpBinary, Length: int64(s.srcSize)})
		if s.srcSize <= leanInlineSource {
			s.out = append(s.out, zeroChunk[:s.srcSize]...)
		} else {
			s.zeros = s.srcSize
		}
		s.srcLeft--
		made = true
	}
	return made
}

// credit returns consumed bytes to the client once they make half a
// window, so that a client never waits on credit for less.
func (c *leanConn) credit(s *leanStream) error {
	if s != nil && !s.remoteEnded && s.unacked >= int64(c.cfg.StreamWindow)/2 {
		if err := c.fr.WriteWindowUpdate(s.id, uint32(s.unacked)); err != nil {
			return err
		}
		s.recvWin += s.unacked
		s.unacked = 0
	}
	if c.unacked >= int64(c.cfg.ConnWindow)/2 {
		if err := c.fr.WriteWindowUpdate(0, uint32(c.unacked)); err != nil {
			return err
		}
		c.recvWin += c.unacked
		c.unacked = 0
	}
	return nil
}
