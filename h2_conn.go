package wsdial

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Conn is the client side of one HTTP/2 connection (RFC 9113) that carries
// CONNECT streams only: WebSockets opened by extended CONNECT (RFC 8441) and
// tunnels through a proxy (RFC 9113 §8.5). x/net/http2's Framer reads and
// writes the frames and its hpack package codes the header blocks; this file
// is the rest of a client: the preface, SETTINGS, flow control, PING, GOAWAY,
// RST_STREAM and the table of streams.
//
// Goroutines. Each h2Conn has two, both started by newH2Conn and both ended
// by shutdown: the reader, which alone reads the network and never writes to
// it, and the writer, which alone writes to it. So a server that stops
// reading stalls the writer but never the reader, and a stream's Write never
// blocks on the network: it hands its bytes to the writer, within a bound per
// stream, and returns.
//
// Locking. mu guards every field below it and every stream's state (see
// h2Stream). Nothing blocks while holding it: the network is read and written
// outside it.
//
// Flow control. Each stream may receive h2StreamWindow bytes that its reader
// has not read yet; its window opens again as it reads. Bytes count against
// the connection's window only until they reach their stream's buffer, so one
// stream that is not read holds back no other. Sending, each stream waits for
// its own window and the connection's, and the writer takes the streams that
// have something to send in turn, a frame at a time.
type h2Conn struct {
	nc net.Conn
	fr *http2.Framer // its reading half is the reader's; its writing half the writer's
	bw *bufio.Writer // the writer's

	settingsSeen chan struct{} // closed at the server's first SETTINGS, or when the connection ends before it
	readerDone   chan struct{} // closed when the reader has returned
	done         chan struct{} // closed when both goroutines have returned and nc is closed

	// onEnd, if set, is called once, outside mu, when the connection can take
	// no more streams: it ended, or the server sent GOAWAY.
	onEnd func(*h2Conn)

	mu        sync.Mutex
	wake      sync.Cond // the writer waits on it for work
	henc      *hpack.Encoder
	hbuf      bytes.Buffer // henc's output
	streams   map[uint32]*h2Stream
	nextID    uint32
	held      int         // streams the application has not closed
	idleTimer *time.Timer // closes the connection once nothing is held for h2IdleTimeout
	ctrl      []h2Frame   // frames for the writer, in order, before any data
	asked     int         // of them, those that queueLocked bounds
	spare     []h2Frame   // the writer's last batch, for reuse
	ready     h2Queue     // streams with data or an END_STREAM to send

	// The server's settings, and the connection's send window.
	maxStreams    uint32
	maxFrame      uint32
	initWindow    int64
	maxHeaderList uint32 // 0: no limit
	xconnect      bool   // SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3)
	sawSettings   bool
	early         bool // streams may open before the server's SETTINGS
	sendWindow    int64

	recvWindow  int64 // how much more the server may send on the connection
	recvUnacked int64 // received but not yet given back by WINDOW_UPDATE

	goingAway bool   // GOAWAY came: no new streams
	goAwayID  uint32 // its last stream ID
	retired   bool   // the server fell silent on a dial: no new streams
	frames    uint64 // frames read, to tell a silent server
	ended     bool   // onEnd has been called
	err       error  // why the connection ended; nil while it lives
	closing   bool   // the writer sends what ctrl holds, then closes nc
}

const (
	// h2StreamWindow is each stream's receive window: how much a server may
	// send on one stream that the application has not read. It bounds the
	// memory of a slow reader.
	h2StreamWindow = 1 << 20
	// h2ConnWindow is the connection's receive window. Since bytes leave it
	// as they reach a stream's buffer, it bounds only bytes in flight.
	h2ConnWindow = 1 << 30
	// h2StreamBuffer is how much a stream's writes may leave for the writer;
	// a Write beyond it waits, for the server's window or a slow network.
	h2StreamBuffer = 64 << 10
	// h2WriteBatch is how much data the writer takes from the streams at once.
	h2WriteBatch = 64 << 10
	// h2MaxControl bounds the frames queued for the writer that the server's
	// frames call for (acknowledgements, window updates, resets of streams
	// the client does not know): one that floods them while not reading is
	// cut off.
	h2MaxControl = 4096
	// h2Linger is how long a stream closed here waits for the server to end
	// its side before it is reset.
	h2Linger = 2 * time.Second
	// h2CloseTimeout bounds the GOAWAY written when the connection closes.
	h2CloseTimeout = time.Second
	// h2IdleTimeout closes a connection on which no stream has been held for
	// that long.
	h2IdleTimeout = 90 * time.Second
	// h2ReadFrame is the largest frame the server may send: a quarter of a
	// stream's buffer, so that a large message costs the server fewer frames
	// while one frame still holds another stream back by little.
	h2ReadFrame = 64 << 10
	// h2DefaultFrame and h2DefaultWindow are RFC 9113's initial values.
	h2DefaultFrame  = 16 << 10
	h2DefaultWindow = 65535
	h2MaxWindow     = 1<<31 - 1
)

// h2Frame is a frame for the writer, other than DATA.
type h2Frame struct {
	typ    http2.FrameType
	ack    bool
	stream uint32
	code   http2.ErrCode
	incr   uint32  // WINDOW_UPDATE
	ping   [8]byte // PING
	block  []byte  // HEADERS: the whole encoded header block
}

// h2Data is a DATA frame that the writer took from a stream.
type h2Data struct {
	stream uint32
	data   []byte // a slice of the writer's scratch buffer
	end    bool
}

// newH2Conn starts the client side of HTTP/2 on nc, which has negotiated h2:
// the writer sends the preface and SETTINGS at once; waitSettings waits for
// the server's. With early, streams may open before those come, as RFC 9113
// §3.4 allows: a proxy's tunnels need nothing from them, while an extended
// CONNECT must wait to learn that the server takes it (RFC 8441 §3).
func newH2Conn(nc net.Conn, early bool) *h2Conn {
	cc := &h2Conn{
		nc:           nc,
		early:        early,
		bw:           bufio.NewWriterSize(nc, 32<<10),
		settingsSeen: make(chan struct{}),
		readerDone:   make(chan struct{}),
		done:         make(chan struct{}),
		streams:      make(map[uint32]*h2Stream),
		nextID:       1,
		maxStreams:   math.MaxUint32,
		maxFrame:     h2DefaultFrame,
		initWindow:   h2DefaultWindow,
		sendWindow:   h2DefaultWindow,
		recvWindow:   h2ConnWindow,
	}
	cc.wake.L = &cc.mu
	cc.fr = http2.NewFramer(cc.bw, nc)
	cc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	cc.fr.MaxHeaderListSize = maxHeadBytes
	cc.fr.SetMaxReadFrameSize(h2ReadFrame)
	cc.fr.SetReuseFrames()
	cc.henc = hpack.NewEncoder(&cc.hbuf)
	cc.idleTimer = time.AfterFunc(h2IdleTimeout, func() { cc.closeIfIdle() })
	go cc.readLoop()
	go cc.writeLoop()
	return cc
}

// waitSettings waits for the server's first SETTINGS, or for ctx to end, and
// reports whether it enabled extended CONNECT.
func (cc *h2Conn) waitSettings(ctx context.Context) (xconnect bool, err error) {
	select {
	case <-cc.settingsSeen:
	case <-ctx.Done():
		return false, fmt.Errorf("waiting for the server's SETTINGS: %w", ctxErr(ctx))
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.sawSettings {
		return false, cc.err
	}
	return cc.xconnect, nil
}

// canTake reports whether a new stream may open on cc now.
func (cc *h2Conn) canTake() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.canTakeLocked()
}

func (cc *h2Conn) canTakeLocked() bool {
	return cc.err == nil && !cc.goingAway && !cc.retired && (cc.sawSettings || cc.early) &&
		uint32(len(cc.streams)) < cc.maxStreams && cc.nextID < 1<<31
}

// fullLocked says why cc has no room for another stream: it ended, the
// server sent GOAWAY, or its concurrent streams are all in use.
func (cc *h2Conn) fullLocked() error {
	switch {
	case cc.err != nil:
		return &h2Unprocessed{why: "HTTP/2 connection ended: " + cc.err.Error()}
	case cc.goingAway:
		return &h2Unprocessed{why: "the server sent GOAWAY"}
	case cc.retired:
		return &h2Unprocessed{why: "the HTTP/2 connection fell silent"}
	}
	return &h2Unprocessed{why: "the HTTP/2 connection takes no more streams"}
}

// h2Unprocessed is the error of a stream that the server never processed:
// it had no room, refused it with REFUSED_STREAM, or left it out of a GOAWAY
// (RFC 9113 §8.7). Such a stream can be opened again elsewhere.
type h2Unprocessed struct{ why string }

func (e *h2Unprocessed) Error() string { return e.why }

// h2ResetError is a stream ended by RST_STREAM.
type h2ResetError struct {
	code   http2.ErrCode
	remote bool // the server sent it
}

func (e *h2ResetError) Error() string {
	if e.remote {
		return "HTTP/2 stream reset by the server: " + e.code.String()
	}
	return "HTTP/2 stream reset: " + e.code.String()
}

// h2ConnError is a connection-level protocol error that the server made; the
// connection ends with a GOAWAY that carries code.
type h2ConnError struct {
	code http2.ErrCode
	why  string
}

func (e *h2ConnError) Error() string {
	return fmt.Sprintf("HTTP/2 protocol error (%v): %s", e.code, e.why)
}

// openStream opens a stream with the header fields given, in order, and
// returns it at once; its response is awaited with awaitResponse. A
// connection that cannot take it returns an *h2Unprocessed.
func (cc *h2Conn) openStream(fields []hpack.HeaderField) (*h2Stream, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if !cc.canTakeLocked() {
		return nil, cc.fullLocked()
	}
	if cc.maxHeaderList != 0 {
		var size uint64
		for _, f := range fields {
			size += uint64(f.Size())
		}
		if size > uint64(cc.maxHeaderList) {
			return nil, fmt.Errorf("the request's header fields (%d bytes) exceed the server's limit of %d", size, cc.maxHeaderList)
		}
	}
	// Encoding and queueing under one lock keeps the header blocks, and the
	// stream IDs, in the order that HPACK and RFC 9113 §5.1.1 need.
	cc.hbuf.Reset()
	for _, f := range fields {
		cc.henc.WriteField(f)
	}
	s := newH2Stream(cc, cc.nextID)
	s.framesAtOpen = cc.frames
	cc.nextID += 2
	cc.streams[s.id] = s
	cc.held++
	cc.idleTimer.Stop()
	cc.queueOwnLocked(h2Frame{typ: http2.FrameHeaders, stream: s.id, block: bytes.Clone(cc.hbuf.Bytes())})
	return s, nil
}

// queueLocked hands f, a frame that the server's frames call for, to the
// writer. Past h2MaxControl of those queued the server is not reading what
// it asks for, and the connection ends.
func (cc *h2Conn) queueLocked(f h2Frame) {
	if cc.closing {
		return
	}
	if cc.asked >= h2MaxControl {
		cc.shutdownLocked(&h2ConnError{http2.ErrCodeEnhanceYourCalm, "the server does not read the frames it asks for"}, true)
		return
	}
	cc.asked++
	cc.queueOwnLocked(f)
}

// queueOwnLocked hands the writer a frame of the client's own, a stream's
// HEADERS or its one RST_STREAM: there are at most two of them for each
// stream that the application opened, which bounds them.
func (cc *h2Conn) queueOwnLocked(f h2Frame) {
	if cc.closing {
		return
	}
	cc.ctrl = append(cc.ctrl, f)
	cc.wake.Signal()
}

// readyLocked puts s in line for the writer.
func (cc *h2Conn) readyLocked(s *h2Stream) {
	if !s.queued && !cc.closing {
		s.queued = true
		cc.ready.push(s)
		cc.wake.Signal()
	}
}

// removeLocked takes s out of the table once both sides have ended or it
// was reset. A connection that GOAWAY ended closes with its last stream.
func (cc *h2Conn) removeLocked(s *h2Stream) {
	if s.removed {
		return
	}
	s.removed = true
	s.stopLocked()
	delete(cc.streams, s.id)
	switch {
	case len(cc.streams) > 0:
	case cc.goingAway:
		cc.shutdownLocked(errors.New("the server sent GOAWAY and every stream has ended"), true)
	case cc.retired:
		cc.shutdownLocked(errors.New("the HTTP/2 connection fell silent"), true)
	}
}

// releaseLocked notes that the application has closed s.
func (cc *h2Conn) releaseLocked() {
	cc.held--
	if cc.held == 0 && cc.err == nil {
		cc.idleTimer.Reset(h2IdleTimeout)
	}
}

// resetLocked ends s with RST_STREAM code, unless it has ended already.
func (cc *h2Conn) resetLocked(s *h2Stream, code http2.ErrCode) {
	if s.removed {
		return
	}
	cc.queueOwnLocked(h2Frame{typ: http2.FrameRSTStream, stream: s.id, code: code})
	s.failLocked(&h2ResetError{code: code})
	cc.removeLocked(s)
}

// closeIfIdle closes cc with GOAWAY if the application holds no stream of
// it, and reports whether it did (or cc had ended already).
func (cc *h2Conn) closeIfIdle() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.held != 0 {
		return false
	}
	cc.shutdownLocked(errors.New("the HTTP/2 connection was closed as idle"), true)
	return true
}

// usable reports whether cc may still take streams: it lives, no GOAWAY
// came, and stream IDs are left.
func (cc *h2Conn) usable() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.err == nil && !cc.goingAway && !cc.retired && cc.nextID < 1<<31
}

// retireIfSilent takes cc out of use for new streams when a dial on s has
// timed out and not a frame has come since s opened: the connection may
// have died without a word, as one that a NAT forgot does, and every dial
// on it would wait in vain. Its streams go on; it closes after the last.
func (cc *h2Conn) retireIfSilent(s *h2Stream) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.frames != s.framesAtOpen || cc.retired || cc.err != nil {
		return
	}
	cc.retired = true
	cc.endLocked()
	if len(cc.streams) == 0 {
		cc.shutdownLocked(errors.New("the HTTP/2 connection fell silent"), true)
	}
}

// watch has onEnd called once cc can take no more streams, and reports
// whether it still can; if not, onEnd is dropped.
func (cc *h2Conn) watch(onEnd func(*h2Conn)) bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.ended {
		return false
	}
	cc.onEnd = onEnd
	return true
}

// shutdown is shutdownLocked taking the lock. Without goAway it closes nc at
// once, which ends a write that the network stalls.
func (cc *h2Conn) shutdown(err error, goAway bool) {
	cc.mu.Lock()
	cc.shutdownLocked(err, goAway)
	cc.mu.Unlock()
	if !goAway {
		cc.nc.Close()
	}
}

// shutdownLocked ends the connection for err, once: every stream fails with
// it, and the writer closes nc after sending, if goAway, a GOAWAY whose code
// comes from err (NO_ERROR unless err is an *h2ConnError). nc is not closed
// here: closing a TLS connection may write, which must not happen under mu.
func (cc *h2Conn) shutdownLocked(err error, goAway bool) {
	if cc.err != nil {
		return
	}
	cc.err = err
	cc.idleTimer.Stop()
	lost := fmt.Errorf("HTTP/2 connection ended: %w", err)
	for _, s := range cc.streams {
		s.failLocked(lost)
		s.removed = true
		s.stopLocked()
	}
	clear(cc.streams)
	cc.ctrl = cc.ctrl[:0]
	cc.ready = h2Queue{}
	if !cc.sawSettings {
		close(cc.settingsSeen)
	}
	cc.endLocked()
	if goAway {
		code := http2.ErrCodeNo
		var ce *h2ConnError
		if errors.As(err, &ce) {
			code = ce.code
		}
		cc.ctrl = append(cc.ctrl, h2Frame{typ: http2.FrameGoAway, code: code})
		// A writer stalled by a server that does not read gives up by then.
		cc.nc.SetWriteDeadline(time.Now().Add(h2CloseTimeout))
	}
	cc.closing = true
	cc.wake.Signal()
}

// endLocked tells onEnd, once, that cc takes no more streams. onEnd runs on a
// goroutine of its own since it takes the pool's lock, which may be held by
// a goroutine waiting for mu.
func (cc *h2Conn) endLocked() {
	if cc.ended || cc.onEnd == nil {
		cc.ended = true
		return
	}
	cc.ended = true
	go cc.onEnd(cc)
}

// readLoop is the reader: it reads frames until the connection ends.
func (cc *h2Conn) readLoop() {
	defer close(cc.readerDone)
	err := cc.readFrames()
	var ce *h2ConnError
	if errors.As(err, &ce) {
		cc.shutdown(err, true)
		return
	}
	if errors.Is(err, io.EOF) {
		// As a TCP connection that ends under a WebSocket, which the message
		// layer reports as 1006.
		err = fmt.Errorf("the server closed the connection: %w", io.ErrUnexpectedEOF)
	}
	cc.shutdown(err, false)
}

func (cc *h2Conn) readFrames() error {
	for first := true; ; first = false {
		f, err := cc.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				if first {
					return &h2ConnError{http2.ErrCodeProtocol, "the server's first frame is not SETTINGS"}
				}
				if se.Cause == nil {
					// A frame the Framer could not parse: a HEADERS padded
					// beyond its payload, whose block HPACK never saw (RFC
					// 9113 §6.2 makes it a connection error), or a WINDOW_UPDATE
					// of 0, which §5.4.1 lets end the connection too.
					return &h2ConnError{se.Code, fmt.Sprintf("malformed frame on stream %d", se.StreamID)}
				}
				cc.mu.Lock()
				cc.streamErrorLocked(se.StreamID, se.Code)
				cc.mu.Unlock()
				continue
			}
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				why := "malformed frame"
				if d := cc.fr.ErrorDetail(); d != nil {
					why = d.Error()
				}
				return &h2ConnError{http2.ErrCode(ce), why}
			}
			if errors.Is(err, http2.ErrFrameTooLarge) {
				return &h2ConnError{http2.ErrCodeFrameSize, "frame larger than SETTINGS_MAX_FRAME_SIZE"}
			}
			return err
		}
		if sf, ok := f.(*http2.SettingsFrame); first && (!ok || sf.IsAck()) {
			// RFC 9113 §3.4: the server's preface is a SETTINGS frame.
			return &h2ConnError{http2.ErrCodeProtocol, "the server's first frame is not SETTINGS"}
		}
		cc.mu.Lock()
		err = cc.handleLocked(f)
		cc.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// streamErrorLocked resets stream id for a stream error the Framer found.
func (cc *h2Conn) streamErrorLocked(id uint32, code http2.ErrCode) {
	if s := cc.streams[id]; s != nil {
		cc.resetLocked(s, code)
		return
	}
	cc.queueLocked(h2Frame{typ: http2.FrameRSTStream, stream: id, code: code})
}

func (cc *h2Conn) handleLocked(f http2.Frame) error {
	if cc.err != nil {
		return cc.err
	}
	cc.frames++
	switch f := f.(type) {
	case *http2.SettingsFrame:
		return cc.handleSettingsLocked(f)
	case *http2.MetaHeadersFrame:
		return cc.handleHeadersLocked(f)
	case *http2.DataFrame:
		return cc.handleDataLocked(f)
	case *http2.WindowUpdateFrame:
		return cc.handleWindowUpdateLocked(f)
	case *http2.RSTStreamFrame:
		if err := cc.checkKnownLocked(f.StreamID); err != nil {
			return err
		}
		if s := cc.streams[f.StreamID]; s != nil {
			var err error = &h2ResetError{code: f.ErrCode, remote: true}
			if f.ErrCode == http2.ErrCodeRefusedStream {
				err = &h2Unprocessed{why: "the server refused the stream (REFUSED_STREAM)"}
			}
			s.failLocked(err)
			cc.removeLocked(s)
		}
	case *http2.PingFrame:
		if !f.IsAck() {
			cc.queueLocked(h2Frame{typ: http2.FramePing, ack: true, ping: f.Data})
		}
	case *http2.GoAwayFrame:
		cc.handleGoAwayLocked(f)
	case *http2.PushPromiseFrame:
		return &h2ConnError{http2.ErrCodeProtocol, "PUSH_PROMISE although SETTINGS_ENABLE_PUSH is 0"}
	}
	// PRIORITY, PRIORITY_UPDATE and unknown frame types are ignored (RFC
	// 9113 §5.5); CONTINUATION comes joined to its HEADERS.
	return nil
}

// checkKnownLocked refuses a frame for a stream that cc never opened: an
// even one, which a server may open only with PUSH_PROMISE, or one above any
// opened yet (RFC 9113 §5.1: it is idle).
func (cc *h2Conn) checkKnownLocked(id uint32) error {
	if id%2 == 0 || id >= cc.nextID {
		return &h2ConnError{http2.ErrCodeProtocol, fmt.Sprintf("frame for stream %d, which the client never opened", id)}
	}
	return nil
}

func (cc *h2Conn) handleSettingsLocked(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	err := f.ForeachSetting(func(st http2.Setting) error {
		if err := st.Valid(); err != nil {
			code := http2.ErrCodeProtocol
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				code = http2.ErrCode(ce)
			}
			return &h2ConnError{code, "invalid " + st.ID.String()}
		}
		switch st.ID {
		case http2.SettingEnablePush:
			if st.Val != 0 {
				// RFC 9113 §6.5.2: a server may only turn push off.
				return &h2ConnError{http2.ErrCodeProtocol, "SETTINGS_ENABLE_PUSH of 1 from a server"}
			}
		case http2.SettingMaxConcurrentStreams:
			cc.maxStreams = st.Val
		case http2.SettingInitialWindowSize:
			delta := int64(st.Val) - cc.initWindow
			for _, s := range cc.streams {
				if s.sendWindow+delta > h2MaxWindow {
					return &h2ConnError{http2.ErrCodeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream's window"}
				}
			}
			for _, s := range cc.streams {
				s.sendWindow += delta
				if s.pendingLocked() > 0 && s.sendWindow > 0 {
					cc.readyLocked(s)
				}
			}
			cc.initWindow = int64(st.Val)
		case http2.SettingMaxFrameSize:
			cc.maxFrame = st.Val
		case http2.SettingHeaderTableSize:
			cc.henc.SetMaxDynamicTableSizeLimit(st.Val)
		case http2.SettingMaxHeaderListSize:
			cc.maxHeaderList = st.Val
		case http2.SettingEnableConnectProtocol:
			if cc.xconnect && st.Val == 0 {
				// RFC 8441 §3: once sent as 1, it must not go back to 0.
				return &h2ConnError{http2.ErrCodeProtocol, "SETTINGS_ENABLE_CONNECT_PROTOCOL went from 1 to 0"}
			}
			cc.xconnect = st.Val == 1
		}
		return nil
	})
	if err != nil {
		return err
	}
	cc.queueLocked(h2Frame{typ: http2.FrameSettings, ack: true})
	if !cc.sawSettings {
		cc.sawSettings = true
		close(cc.settingsSeen)
	}
	return nil
}

func (cc *h2Conn) handleHeadersLocked(f *http2.MetaHeadersFrame) error {
	if err := cc.checkKnownLocked(f.StreamID); err != nil {
		return err
	}
	s := cc.streams[f.StreamID]
	if s == nil {
		return nil // a stream that ended; HPACK has seen the block, which is all it needs
	}
	if s.remoteEnded {
		cc.resetLocked(s, http2.ErrCodeStreamClosed)
		return nil
	}
	if s.head != nil {
		// Every stream here is a CONNECT's: once a 2xx has connected it,
		// only DATA and stream management may come (RFC 9113 §8.5); a
		// refusal may end with trailers, which nothing here needs.
		if s.head.status/100 == 2 || !f.StreamEnded() {
			cc.resetLocked(s, http2.ErrCodeProtocol)
			return nil
		}
		cc.remoteEndLocked(s)
		return nil
	}
	if f.Truncated || len(f.Fields) > maxHeaderFields {
		err := errHeadTooLarge
		if !f.Truncated {
			err = errTooManyFields
		}
		s.failLocked(err)
		cc.resetLocked(s, http2.ErrCodeCancel)
		return nil
	}
	status, err := h2Status(f)
	if err == nil {
		err = h2CheckFields(f)
	}
	if err != nil {
		s.failLocked(err)
		cc.resetLocked(s, http2.ErrCodeProtocol)
		return nil
	}
	if status < 200 {
		// An interim response (RFC 9113 §8.1); 101 has no place in HTTP/2
		// (§8.6), and an interim response cannot end the stream.
		if status == 101 || f.StreamEnded() {
			s.failLocked(fmt.Errorf("malformed interim response %d", status))
			cc.resetLocked(s, http2.ErrCodeProtocol)
		}
		return nil
	}
	h := &responseHead{major: 2, status: status}
	regular := f.RegularFields()
	h.fields = make([]headerField, len(regular))
	for i, hf := range regular {
		h.fields[i] = headerField{hf.Name, hf.Value}
	}
	s.head = h
	close(s.respDone)
	if f.StreamEnded() {
		cc.remoteEndLocked(s)
	}
	return nil
}

// h2Status returns the :status of a response's header block, which must be
// its only pseudo-header (RFC 9113 §8.3.2).
func h2Status(f *http2.MetaHeadersFrame) (int, error) {
	pseudo := f.PseudoFields()
	if len(pseudo) != 1 || pseudo[0].Name != ":status" {
		return 0, errors.New("response has pseudo-headers other than a single :status")
	}
	v := pseudo[0].Value
	code, err := strconv.Atoi(v)
	if err != nil || len(v) != 3 || code < 100 {
		return 0, fmt.Errorf("malformed :status %q", clip(v))
	}
	return code, nil
}

// h2CheckFields refuses a response that carries a field specific to a
// connection, which makes it malformed in HTTP/2 (RFC 9113 §8.2.2).
func h2CheckFields(f *http2.MetaHeadersFrame) error {
	for _, hf := range f.RegularFields() {
		switch hf.Name {
		case "connection", "proxy-connection", "keep-alive", "te", "transfer-encoding", "upgrade":
			return fmt.Errorf("malformed response: connection-specific field %q", hf.Name)
		}
	}
	return nil
}

// remoteEndLocked records the server's END_STREAM on s.
func (cc *h2Conn) remoteEndLocked(s *h2Stream) {
	s.remoteEnded = true
	s.endReadLocked(io.EOF)
	switch {
	case s.localEnded:
		cc.removeLocked(s)
	case s.closed:
		s.endWriteLocked() // Close left the server to end first
	}
}

func (cc *h2Conn) handleDataLocked(f *http2.DataFrame) error {
	if err := cc.checkKnownLocked(f.StreamID); err != nil {
		return err
	}
	n := int64(f.Length) // padding included: it counts against the windows
	if n > cc.recvWindow {
		return &h2ConnError{http2.ErrCodeFlowControl, "DATA beyond the connection's window"}
	}
	// The connection's window opens again as soon as the bytes reach their
	// stream: each stream's own window bounds what it buffers.
	cc.recvWindow -= n
	cc.recvUnacked += n
	if cc.recvUnacked >= h2ConnWindow/2 {
		cc.queueLocked(h2Frame{typ: http2.FrameWindowUpdate, incr: uint32(cc.recvUnacked)})
		cc.recvWindow += cc.recvUnacked
		cc.recvUnacked = 0
	}
	s := cc.streams[f.StreamID]
	switch {
	case s == nil:
		return nil // the stream ended here already
	case s.head == nil:
		s.failLocked(errors.New("DATA before the response headers"))
		cc.resetLocked(s, http2.ErrCodeProtocol)
		return nil
	case s.remoteEnded:
		cc.resetLocked(s, http2.ErrCodeStreamClosed)
		return nil
	case n > s.recvWindow:
		s.failLocked(errors.New("the server sent DATA beyond the stream's window"))
		cc.resetLocked(s, http2.ErrCodeFlowControl)
		return nil
	}
	s.recvWindow -= n
	data := f.Data()
	if s.closed {
		// Nobody reads any more: give the window back so that the server
		// can finish its side.
		s.creditLocked(n, true)
	} else {
		s.creditLocked(n-int64(len(data)), false) // the padding
		if len(data) > 0 {
			s.in.write(data)
			s.signalReadable()
		}
	}
	if f.StreamEnded() {
		cc.remoteEndLocked(s)
	}
	return nil
}

func (cc *h2Conn) handleWindowUpdateLocked(f *http2.WindowUpdateFrame) error {
	incr := int64(f.Increment)
	if f.StreamID == 0 {
		if cc.sendWindow+incr > h2MaxWindow {
			return &h2ConnError{http2.ErrCodeFlowControl, "WINDOW_UPDATE overflows the connection's window"}
		}
		cc.sendWindow += incr
		cc.wake.Signal()
		return nil
	}
	if err := cc.checkKnownLocked(f.StreamID); err != nil {
		return err
	}
	s := cc.streams[f.StreamID]
	if s == nil {
		return nil
	}
	if s.sendWindow+incr > h2MaxWindow {
		s.failLocked(errors.New("WINDOW_UPDATE overflows the stream's window"))
		cc.resetLocked(s, http2.ErrCodeFlowControl)
		return nil
	}
	s.sendWindow += incr
	if s.sendWindow > 0 && (s.pendingLocked() > 0 || s.writeEnd && !s.localEnded) {
		cc.readyLocked(s)
	}
	return nil
}

func (cc *h2Conn) handleGoAwayLocked(f *http2.GoAwayFrame) {
	if !cc.goingAway || f.LastStreamID < cc.goAwayID {
		cc.goAwayID = f.LastStreamID
	}
	cc.goingAway = true
	why := "the server sent GOAWAY (" + f.ErrCode.String() + ")"
	if d := f.DebugData(); len(d) > 0 {
		why += ": " + strconv.QuoteToASCII(clip(string(d)))
	}
	for id, s := range cc.streams {
		if id > cc.goAwayID {
			s.failLocked(&h2Unprocessed{why: why + ", before it processed the stream"})
			cc.removeLocked(s)
		}
	}
	cc.endLocked()
	if len(cc.streams) == 0 {
		cc.shutdownLocked(errors.New(why), true)
	}
}

// writeLoop is the writer: it sends the preface, then whatever the streams
// and the reader give it, until the connection ends.
func (cc *h2Conn) writeLoop() {
	err := cc.writePreface()
	scratch := make([]byte, h2WriteBatch)
	var data []h2Data
	cc.mu.Lock()
	for err == nil {
		for !cc.closing && len(cc.ctrl) == 0 && !cc.dataReadyLocked() {
			cc.wake.Wait()
		}
		if cc.closing {
			break
		}
		ctrl := cc.ctrl
		cc.ctrl, cc.asked = cc.spare[:0], 0
		data = cc.takeDataLocked(scratch, data[:0])
		maxFrame := cc.maxFrame
		cc.mu.Unlock()
		err = cc.writeFrames(ctrl, data, maxFrame)
		cc.mu.Lock()
		clear(ctrl) // drops the header blocks
		cc.spare = ctrl[:0]
		if err == nil && len(cc.ctrl) == 0 && !cc.dataReadyLocked() {
			cc.mu.Unlock()
			err = cc.bw.Flush()
			cc.mu.Lock()
		}
	}
	if err != nil {
		cc.shutdownLocked(fmt.Errorf("writing to the server: %w", err), false)
	}
	last := cc.ctrl // a GOAWAY, when the connection closes cleanly
	cc.ctrl = nil
	cc.mu.Unlock()
	if err == nil {
		if cc.writeFrames(last, nil, h2DefaultFrame) == nil {
			cc.bw.Flush()
		}
	}
	cc.nc.Close()
	<-cc.readerDone
	close(cc.done)
}

func (cc *h2Conn) writePreface() error {
	if _, err := cc.bw.WriteString(http2.ClientPreface); err != nil {
		return err
	}
	err := cc.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2StreamWindow},
		http2.Setting{ID: http2.SettingMaxFrameSize, Val: h2ReadFrame},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: maxHeadBytes},
	)
	if err == nil {
		err = cc.fr.WriteWindowUpdate(0, h2ConnWindow-h2DefaultWindow)
	}
	if err == nil {
		err = cc.bw.Flush()
	}
	return err
}

// writeFrames writes ctrl, then data; the caller flushes.
func (cc *h2Conn) writeFrames(ctrl []h2Frame, data []h2Data, maxFrame uint32) error {
	for i := range ctrl {
		if err := cc.writeFrame(&ctrl[i], maxFrame); err != nil {
			return err
		}
	}
	for _, d := range data {
		if err := cc.fr.WriteData(d.stream, d.end, d.data); err != nil {
			return err
		}
	}
	return nil
}

func (cc *h2Conn) writeFrame(f *h2Frame, maxFrame uint32) error {
	switch f.typ {
	case http2.FrameHeaders:
		// A block longer than a frame goes on in CONTINUATION frames, which
		// nothing may come between (RFC 9113 §6.10).
		block := f.block
		frag := block[:min(len(block), int(maxFrame))]
		block = block[len(frag):]
		err := cc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.stream, BlockFragment: frag, EndHeaders: len(block) == 0})
		for err == nil && len(block) > 0 {
			frag = block[:min(len(block), int(maxFrame))]
			block = block[len(frag):]
			err = cc.fr.WriteContinuation(f.stream, len(block) == 0, frag)
		}
		return err
	case http2.FrameSettings:
		return cc.fr.WriteSettingsAck()
	case http2.FramePing:
		return cc.fr.WritePing(true, f.ping)
	case http2.FrameWindowUpdate:
		return cc.fr.WriteWindowUpdate(f.stream, f.incr)
	case http2.FrameRSTStream:
		return cc.fr.WriteRSTStream(f.stream, f.code)
	case http2.FrameGoAway:
		// The server opens no streams, so none of its was processed.
		return cc.fr.WriteGoAway(0, f.code, nil)
	}
	return fmt.Errorf("no way to write a %v frame", f.typ)
}

// dataReadyLocked reports whether a stream in line can send a frame now.
func (cc *h2Conn) dataReadyLocked() bool {
	if cc.ready.len() == 0 {
		return false
	}
	if cc.sendWindow > 0 {
		return true
	}
	// With the connection's window shut, only a bare END_STREAM can go.
	for _, s := range cc.ready.items() {
		if s.pendingLocked() == 0 {
			return true
		}
	}
	return false
}

// takeDataLocked takes DATA frames from the streams in line, a frame from
// each in turn, up to len(scratch) bytes, into scratch.
func (cc *h2Conn) takeDataLocked(scratch []byte, out []h2Data) []h2Data {
	used := 0
	for n := cc.ready.len(); n > 0 && used < len(scratch); n-- {
		s := cc.ready.pop()
		pending := s.pendingLocked()
		if s.removed || s.localEnded || pending == 0 && !s.writeEnd {
			s.queued = false // reset, or taken already
			continue
		}
		size := int(min(int64(pending), s.sendWindow, cc.sendWindow, int64(cc.maxFrame), int64(len(scratch)-used)))
		if pending > 0 && size <= 0 {
			if s.sendWindow > 0 {
				cc.ready.push(s) // waits for the connection's window
			} else {
				s.queued = false // waits for its own
			}
			continue
		}
		buf := scratch[used : used+size]
		s.out.read(buf)
		s.signalWritable()
		s.sendWindow -= int64(size)
		cc.sendWindow -= int64(size)
		used += size
		end := s.writeEnd && s.pendingLocked() == 0
		out = append(out, h2Data{stream: s.id, data: buf, end: end})
		if end {
			s.localEnded = true
			s.queued = false
			if s.remoteEnded {
				cc.removeLocked(s)
			}
		} else if s.pendingLocked() > 0 && s.sendWindow > 0 {
			cc.ready.push(s)
		} else {
			s.queued = false
		}
	}
	return out
}

// h2Queue is a first-in, first-out line of streams.
type h2Queue struct {
	s    []*h2Stream
	head int
}

func (q *h2Queue) len() int           { return len(q.s) - q.head }
func (q *h2Queue) items() []*h2Stream { return q.s[q.head:] }
func (q *h2Queue) push(s *h2Stream)   { q.s = append(q.s, s) }
func (q *h2Queue) pop() (s *h2Stream) {
	s, q.s[q.head] = q.s[q.head], nil
	q.head++
	switch {
	case q.head == len(q.s):
		q.s, q.head = q.s[:0], 0
	case q.head > 64 && q.head*2 > len(q.s):
		// Move the line to the front, so that the slice does not grow forever.
		n := copy(q.s, q.s[q.head:])
		clear(q.s[n:])
		q.s, q.head = q.s[:n], 0
	}
	return s
}
