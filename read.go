package wsdial

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// readBufSize is the size of the buffer frames are read through. Payloads
// at least this large bypass it and go straight to the caller's memory.
const readBufSize = 4096

// readBufs lends read buffers. A Conn holds one only while a read is under
// way or bytes wait in it, so idle connections that nobody is reading hold
// none.
var readBufs = sync.Pool{New: func() any { return new([readBufSize]byte) }}

// parkBufSize is the size of the buffer, on the stack, that a read waits
// in while nothing is buffered, when the stream is one whose Read the
// compiler can see does not keep its argument (readWaiting). It is small
// so that a goroutine parked in a read on an idle TCP connection uses no
// more stack than the least a goroutine starts with, 2 KiB, does: a
// larger one would double what every parked reader costs. (crypto/tls's
// read alone takes more, so on TLS the buffer saves only the heap.) It
// holds any control frame the server may send, 2+maxControl bytes, so
// that a keepalive's look takes one that came alone whole; and a message
// of up to 126 bytes still comes in one system call, a larger one in two.
const parkBufSize = 128

// waitBufSize is the size of the buffer, lent from waitBufs, that a read
// waits in on any other stream: enough for the header and payload of a
// small message.
const waitBufSize = 256

// waitBufs lends wait buffers.
var waitBufs = sync.Pool{New: func() any { return new([waitBufSize]byte) }}

// maxPrealloc bounds what ReadMessage allocates on the word of a frame
// header alone, before the bytes have arrived.
const maxPrealloc = 4 << 20

// NextReader waits for the next data message and returns its type and a
// reader of its payload. The reader returns io.EOF at the end of the
// message. It is valid until the next call to NextReader or ReadMessage,
// which discard whatever of the message is still unread; from then on it
// returns io.EOF and reads nothing of a later message. Once reads have
// ended, by a failure or a close, it returns their error instead, never
// io.EOF. Reading into a buffer of the caller's allocates nothing.
func (c *Conn) NextReader() (MessageType, io.Reader, error) {
	if c.unopened() {
		return 0, nil, errUnopened
	}
	c.lockRead()
	defer c.unlockRead()
	t, err := c.nextMessage()
	if err != nil {
		return 0, nil, err
	}
	return t, c.rd.handOut(c), nil
}

// ReadMessage waits for the next data message and returns its type and
// payload, in a slice of its own that the caller may keep.
func (c *Conn) ReadMessage() (MessageType, []byte, error) {
	if c.unopened() {
		return 0, nil, errUnopened
	}
	c.lockRead()
	defer c.unlockRead()
	t, err := c.nextMessage()
	if err != nil {
		return 0, nil, err
	}
	r := &c.rd
	top := c.chain()
	p := make([]byte, 0, r.sizeHint(c.readLimit.Load()))
	for {
		var n int
		if len(p) == cap(p) {
			// An empty read moves on to the next frame, so that p grows by
			// what that announces, or not at all once the message is over.
			if _, err = top.Read(nil); err == nil {
				p = slices.Grow(p, r.growHint(len(p), c.readLimit.Load()))
			}
		}
		if err == nil {
			n, err = top.Read(p[len(p):cap(p)])
			p = p[:len(p)+n]
		}
		if err == io.EOF {
			r.open = false
			return t, p, nil
		}
		if err != nil {
			return 0, nil, c.readFailure()
		}
	}
}

// messageReader is the reader NextReader hands out for one message. Each
// message has one of its own, so that a reader kept past its message can
// tell: it is stale once it is no longer rd.cur.
type messageReader struct{ c *Conn }

func (m *messageReader) Read(p []byte) (int, error) {
	c := m.c
	c.lockRead()
	defer c.unlockRead()
	r := &c.rd
	if c.readFailed() {
		// Reads have ended, perhaps by a Close that cut this reader's
		// message short: an io.EOF would pass what it read off as whole.
		return 0, c.readFailure()
	}
	if r.cur != m {
		return 0, io.EOF
	}
	n, err := c.chain().Read(p)
	switch {
	case err == io.EOF:
		r.open, r.cur = false, nil
	case err != nil:
		err = c.readFailure()
	}
	return n, err
}

// handOut returns the reader of the message just begun. Each message needs
// a reader no earlier message had, so that a stale one can tell; they come
// from slabs that double up to 64 readers, so that a message costs one word
// and, once the slabs are full size, a sixty-fourth of an allocation, while
// a connection that reads few messages holds few.
func (r *readState) handOut(c *Conn) *messageReader {
	if len(r.spare) == 0 {
		r.lastSpares = min(max(2*r.lastSpares, 1), 64)
		r.spare = make([]messageReader, r.lastSpares)
	}
	m := &r.spare[0]
	r.spare = r.spare[1:]
	m.c = c
	r.cur = m
	return m
}

// lockRead takes the read side, from the keepalive too if it is looking.
func (c *Conn) lockRead() {
	if c.tryLockRead() {
		return
	}
	if k := c.ka; k != nil {
		k.wantRead()
		defer k.gotRead()
	}
	c.rd.sem.lock()
	c.holdRead()
}

// lockReadBy is lockRead waiting no later than by, and reports whether it
// took the side.
func (c *Conn) lockReadBy(by time.Time) bool {
	if c.tryLockRead() {
		return true
	}
	if k := c.ka; k != nil {
		k.wantRead()
		defer k.gotRead()
	}
	if !c.rd.sem.lockBy(by) {
		return false
	}
	c.holdRead()
	return true
}

// tryLockRead takes the read side if it is free, and reports whether it did.
func (c *Conn) tryLockRead() bool {
	if !c.rd.sem.tryLock() {
		return false
	}
	c.holdRead()
	return true
}

func (c *Conn) unlockRead() {
	c.releaseBuf()
	c.dropRead()
	c.rd.sem.unlock()
}

// releaseBuf gives the read buffer back once nothing waits in it.
func (c *Conn) releaseBuf() {
	if r := &c.rd; r.buf != nil && r.pos == r.end {
		readBufs.Put(r.buf)
		r.buf, r.pos, r.end = nil, 0, 0
	}
}

// readFailed reports whether reads have ended.
func (c *Conn) readFailed() bool { return c.rd.err != nil || c.closed.Load() }

// readFailure is what a read returns once reads have ended: their first
// failure or, once the application has closed the connection, an error that
// matches net.ErrClosed and keeps the peer's close, or its breach of the
// protocol, reachable with errors.As.
func (c *Conn) readFailure() error {
	r := &c.rd
	if r.err == nil {
		r.err = c.closedErr() // the stream was closed under the read
	}
	if !c.appClosed.Load() {
		return r.err
	}
	return closedAfter(r.err)
}

// errAwait is what beginMessage returns when nothing is buffered between
// messages, for nextMessage to wait.
var errAwait = errors.New("wsdial: internal: nothing buffered")

// nextMessage discards the rest of the current message, if any, and reads
// up to the first data frame of the next one. It waits for the stream
// here, at the top of the read, rather than deep in the reading of frames:
// a goroutine parked on an idle connection then holds no read buffer, and
// uses so little stack, its wait buffer included, that the least a
// goroutine starts with, 2 KiB, does; deep in the frames it took 4 KiB.
func (c *Conn) nextMessage() (MessageType, error) {
	for {
		t, err := c.beginMessage()
		if err != errAwait {
			return t, err
		}
		// Nothing in the read's record outlives the wait, so a parked read
		// holds none; readWaiting takes one once bytes come.
		c.dropRead()
		err = c.await()
		c.holdRead()
		if err != nil {
			c.ioFailed(err)
			return 0, c.readFailure()
		}
	}
}

// beginMessage is nextMessage, but for the wait: it returns errAwait when
// nothing is buffered between messages.
func (c *Conn) beginMessage() (MessageType, error) {
	r := &c.rd
	r.cur = nil // a reader handed out before reads nothing from here on
	if c.readFailed() {
		return 0, c.readFailure()
	}
	if r.open {
		// Discarding still checks the message, and feeds the window of a
		// compressed one, as reading it would.
		if _, err := io.Copy(io.Discard, c.chain()); err != nil {
			return 0, c.readFailure()
		}
		r.open = false
	}
	op, err := c.nextFrame()
	if err == errAwait {
		return 0, err
	}
	if err != nil {
		return 0, c.readFailure()
	}
	r.open = true
	r.text, r.utf8, r.inflated = op == opText, utf8State{}, 0
	if r.compressed {
		r.inflate.begin()
	}
	return MessageType(op), nil
}

// chain returns the end of the current message's chain of readers.
func (c *Conn) chain() io.Reader {
	switch r := &c.rd; {
	case r.text:
		return (*utf8Reader)(c)
	case r.compressed:
		return (*limitReader)(c)
	}
	return (*frameReader)(c)
}

// sizeHint is how much ReadMessage takes at first for the message just
// begun: as much as its first frame announces, within reason, and for a
// compressed one, which text inflates three to five times, four times that,
// never past the read limit.
func (r *readState) sizeHint(limit int64) int {
	if !r.compressed {
		return int(min(r.remain, maxPrealloc))
	}
	n := min(max(4*r.remain, 512), maxPrealloc)
	if limit > 0 && limit < n {
		n = limit + 1
	}
	return int(n)
}

// growHint is how much ReadMessage grows a full slice of n bytes by: at
// least double, or as much as the frame under way announces, within reason;
// for a compressed message never more than a byte past the read limit, so a
// small message that inflates far is refused before its size is allocated.
func (r *readState) growHint(n int, limit int64) int {
	if !r.compressed {
		return int(max(min(r.remain, maxPrealloc), int64(n)))
	}
	grow := int64(max(n, 512))
	if room := limit - int64(n); limit > 0 && room < grow {
		grow = max(room+1, 1)
	}
	return int(grow)
}

func (l *limitReader) Read(p []byte) (int, error) {
	c := (*Conn)(l)
	r := &c.rd
	limit := c.readLimit.Load()
	if limit > 0 {
		if r.inflated > limit { // SetReadLimit lowered it below what was read
			return 0, c.fail(StatusMessageTooBig, fmt.Sprintf("message longer than the read limit of %d bytes", limit))
		}
		if room := limit - r.inflated; int64(len(p)) > room {
			p = p[:room+1]
		}
	}
	n, err := r.inflate.Read(p)
	r.inflated += int64(n)
	if limit > 0 && r.inflated > limit {
		return 0, c.fail(StatusMessageTooBig, fmt.Sprintf("message longer than the read limit of %d bytes", limit))
	}
	return n, err
}

func (f *frameReader) Read(p []byte) (int, error) {
	c := (*Conn)(f)
	r := &c.rd
	if err := f.nextPayload(false); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := c.readPayload(p)
	r.remain -= int64(n)
	if err != nil {
		return n, c.ioFailed(err)
	}
	return n, f.endOfFrame()
}

// ReadByte gives the decompressor the next byte of the message: as an
// io.ByteReader, the chain keeps compress/flate from reading ahead through
// a buffer of its own.
func (f *frameReader) ReadByte() (byte, error) {
	r := &(*Conn)(f).rd
	if r.remain > 1 && r.pos < r.end {
		b := r.buf[r.pos]
		r.pos++
		r.remain--
		return b, nil
	}
	return f.readByteSlow()
}

func (f *frameReader) readByteSlow() (byte, error) {
	if err := f.nextPayload(true); err != nil {
		return 0, err
	}
	r := &(*Conn)(f).rd
	b := r.buf[r.pos]
	r.pos++
	r.remain--
	f.endOfFrame()
	return b, nil
}

// skip drops the rest of the message's payload, unread.
func (f *frameReader) skip() error {
	r := &(*Conn)(f).rd
	for {
		if err := f.nextPayload(true); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		n := int(min(int64(r.end-r.pos), r.remain))
		r.pos += n
		r.remain -= int64(n)
		f.endOfFrame()
	}
}

// nextPayload moves on, frame by frame, to payload left to read, and with
// buffered, to payload in the buffer. It returns io.EOF once the message's
// frames are over.
func (f *frameReader) nextPayload(buffered bool) error {
	c := (*Conn)(f)
	r := &c.rd
	for r.remain == 0 {
		if !r.inMessage {
			return io.EOF
		}
		if _, err := c.nextFrame(); err != nil {
			return err
		}
	}
	if buffered && r.pos == r.end {
		if err := c.fill(1); err != nil {
			return c.ioFailed(err)
		}
	}
	return nil
}

// endOfFrame ends the message when the last byte of its last frame has been
// read, returning io.EOF.
func (f *frameReader) endOfFrame() error {
	r := &(*Conn)(f).rd
	if r.remain == 0 && r.fin {
		r.inMessage = false
		return io.EOF
	}
	return nil
}

// nextFrame reads frame headers, handling any control frames on the way,
// until a data frame comes, and returns its opcode. When no message is under
// way, that frame starts one; otherwise it continues the current one. A
// frame of no payload that ends a message ends it here. With no message
// under way and nothing buffered, it returns errAwait, for nextMessage to
// wait.
func (c *Conn) nextFrame() (byte, error) {
	r := &c.rd
	for {
		if !r.inMessage && r.pos == r.end {
			// Nothing buffered between messages, a control frame perhaps
			// just taken: nextMessage waits, in a wait buffer, not the read
			// buffer, where the stack is shallow.
			c.releaseBuf()
			return 0, errAwait
		}
		h, err := c.readHeader()
		if err != nil {
			return 0, err
		}
		switch h.op {
		case opClose, opPing, opPong:
			if err := c.readControl(h); err != nil {
				return 0, err
			}
			continue
		case opText, opBinary:
			if r.inMessage {
				return 0, c.fail(StatusProtocolError, "new message before the last one ended")
			}
			r.inMessage, r.length = true, 0
			r.compressed = h.rsv != 0
		case opContinuation:
			if !r.inMessage {
				return 0, c.fail(StatusProtocolError, "continuation frame outside a message")
			}
		default:
			return 0, c.fail(StatusProtocolError, fmt.Sprintf("unknown opcode %#x", h.op))
		}

		if limit := c.readLimit.Load(); limit > 0 && h.length > limit-r.length && !c.compressedWithin(h.length, limit) {
			return 0, c.fail(StatusMessageTooBig, fmt.Sprintf("message longer than the read limit of %d bytes", limit))
		}
		r.length += h.length
		r.remain, r.fin = h.length, h.fin
		if h.length == 0 && h.fin {
			r.inMessage = false
		}
		return h.op, nil
	}
}

// readHeader reads the next frame header and checks what may be checked of
// it alone.
func (c *Conn) readHeader() (frameHeader, error) {
	r := &c.rd
	if err := c.fill(2); err != nil {
		return frameHeader{}, c.ioFailed(err)
	}
	n := headerLen(r.buf[r.pos], r.buf[r.pos+1])
	if err := c.fill(n); err != nil {
		return frameHeader{}, c.ioFailed(err)
	}
	h, err := parseHeader(r.buf[r.pos : r.pos+n])
	if err != nil {
		return h, c.fail(StatusProtocolError, err.Error())
	}
	r.pos += n
	switch {
	case h.masked:
		return h, c.fail(StatusProtocolError, "server sent a masked frame")
	case h.rsv != 0 && (h.rsv&^r.rsvAllowed != 0 || isControl(h.op) || h.op == opContinuation):
		return h, c.fail(StatusProtocolError, rsvError(h, r.rsvAllowed))
	}
	return h, nil
}

// readControl reads the payload of the control frame whose header h was
// just read, and acts on it.
func (c *Conn) readControl(h frameHeader) error {
	r := &c.rd
	switch {
	case !h.fin:
		return c.fail(StatusProtocolError, "fragmented control frame")
	case h.length > maxControl:
		return c.fail(StatusProtocolError, fmt.Sprintf("control frame of %d bytes", h.length))
	}
	// The payload is handled in place, in the read buffer: whoever keeps any
	// of it copies it first.
	var p []byte
	if h.length > 0 {
		if err := c.fill(int(h.length)); err != nil {
			return c.ioFailed(err)
		}
		p = r.buf[r.pos : r.pos+int(h.length)]
		r.pos += len(p)
	}
	return c.handleControl(h.op, p)
}

// takeControl acts on the control frames that wait whole at the head of the
// buffer, at a frame's edge, without reading the stream: with nobody
// reading, the keepalive's look hands them on as a read would. It stops at
// the first other frame, which waits for a read (one of a reserved opcode
// included, which the read fails), and at a frame not yet all here.
func (c *Conn) takeControl() error {
	r := &c.rd
	for r.remain == 0 && r.end-r.pos >= 2 && !c.readFailed() {
		need, control := controlNeed(r.buf[r.pos], r.buf[r.pos+1])
		if !control || r.end-r.pos < need {
			return nil
		}
		h, err := c.readHeader()
		if err == nil {
			err = c.readControl(h)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// controlNeed says of the frame whose first two bytes are b0 and b1 whether
// takeControl takes it, as a close, ping or pong, and how many bytes it
// needs here to: a longer payload than a control frame may have fails on its
// header alone, so only a valid one need be here whole.
func controlNeed(b0, b1 byte) (need int, control bool) {
	switch b0 & 0x0F {
	case opClose, opPing, opPong:
	default:
		return 0, false
	}
	need = headerLen(b0, b1)
	if n := int(b1 & 0x7F); n <= maxControl {
		need += n
	}
	return need, true
}

// controlCut reports whether the control frames that wait at the head of
// the buffer, at a frame's edge, end in one not all here, which takeControl
// would leave for a later read.
func (c *Conn) controlCut() bool {
	r := &c.rd
	if r.buf == nil || r.remain != 0 {
		return false
	}
	for i := r.pos; i < r.end; {
		if r.end-i < 2 {
			_, control := controlNeed(r.buf[i], 0)
			return control
		}
		need, control := controlNeed(r.buf[i], r.buf[i+1])
		if !control {
			return false
		}
		if r.end-i < need {
			return true
		}
		i += need
	}
	return false
}

// handleControl acts on a control frame: it answers a ping, hands a pong to
// the pong handler, and takes the peer's close.
func (c *Conn) handleControl(op byte, p []byte) error {
	switch op {
	case opPing:
		c.queuePong(p)
	case opPong:
		if h := c.pongHandler.Load(); h != nil {
			(*h)(p)
		}
	case opClose:
		ce, code, err := parseClose(p)
		if err != nil {
			return c.fail(code, err.Error())
		}
		return c.peerClosed(ce)
	}
	return nil
}

// fill makes at least n bytes (n ≤ readBufSize) available in the buffer.
func (c *Conn) fill(n int) error {
	r := &c.rd
	if r.end-r.pos >= n {
		return nil
	}
	switch {
	case r.buf != nil:
	case r.inMessage:
		// More of the message is on its way: read it through a whole buffer,
		// not in steps of a wait buffer.
		r.buf, r.pos, r.end = readBufs.Get().(*[readBufSize]byte), 0, 0
	default:
		if err := c.await(); err != nil {
			return err
		}
	}
	if readBufSize-r.pos < n {
		r.end = copy(r.buf[:], r.buf[r.pos:r.end])
		r.pos = 0
	}
	for r.end-r.pos < n {
		m, err := c.readStream(r.buf[r.end:])
		r.end += m
		if err != nil && r.end-r.pos < n {
			return err
		}
	}
	return nil
}

// await waits for the next bytes of the stream when none are buffered.
func (c *Conn) await() error {
	for {
		m, err := c.readWaiting()
		if m > 0 {
			// An error that came with the bytes comes again from the next
			// read of the stream, once these are consumed.
			c.noteRecv()
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readAhead reads the stream once into the buffer, behind what waits there.
// With nothing buffered, it waits in a wait buffer, and only once bytes have
// come borrows a read buffer for them. It leaves noting the bytes to its
// caller.
func (c *Conn) readAhead() (int, error) {
	r := &c.rd
	if r.buf == nil {
		return c.readWaiting()
	}
	if r.pos > 0 {
		r.end = copy(r.buf[:], r.buf[r.pos:r.end])
		r.pos = 0
	}
	m, err := c.netConn().Read(r.buf[r.end:])
	r.end += m
	return m, err
}

// readWaiting reads the stream once, with nothing buffered, into a wait
// buffer, and only once bytes have come borrows a read buffer for them.
// On the streams a dial makes, TCP and TLS, the wait buffer is on the
// stack, so that a read parked on an idle connection holds no memory of
// its own; on others it is lent.
func (c *Conn) readWaiting() (int, error) {
	var wb [parkBufSize]byte
	var m int
	var err error
	// Each case calls Read on the concrete type: through the interface,
	// the compiler would have to move wb to the heap.
	switch s := c.netConn().(type) {
	case *net.TCPConn:
		m, err = s.Read(wb[:])
	case *tls.Conn:
		m, err = s.Read(wb[:])
	default:
		return c.readWaitingLent(s)
	}
	c.keepWaited(wb[:m])
	return m, err
}

// readWaitingLent is readWaiting on a stream of any other kind, waiting in
// a wait buffer lent from waitBufs.
func (c *Conn) readWaitingLent(s net.Conn) (int, error) {
	wb := waitBufs.Get().(*[waitBufSize]byte)
	m, err := s.Read(wb[:])
	c.keepWaited(wb[:m])
	waitBufs.Put(wb)
	return m, err
}

// keepWaited moves b, the bytes a wait read, if any, into a read buffer.
func (c *Conn) keepWaited(b []byte) {
	if len(b) == 0 {
		return
	}
	c.holdRead()
	r := &c.rd
	r.buf, r.pos = readBufs.Get().(*[readBufSize]byte), 0
	r.end = copy(r.buf[:], b)
}

// readStream reads the stream into p, noting any bytes it takes.
func (c *Conn) readStream(p []byte) (int, error) {
	n, err := c.netConn().Read(p)
	if n > 0 {
		c.noteRecv()
	}
	return n, err
}

// readPayload reads at least one byte and at most len(p) of the stream.
func (c *Conn) readPayload(p []byte) (int, error) {
	r := &c.rd
	if r.pos == r.end && len(p) >= readBufSize {
		return c.readStream(p)
	}
	if err := c.fill(1); err != nil {
		return 0, err
	}
	n := copy(p, r.buf[r.pos:r.end])
	r.pos += n
	return n, nil
}

// ioFailed records err, a failure of the stream, as the error of every
// later read, and returns it. Every read of the stream ends here on failure:
// an EOF, at a frame's edge or inside one, is the stream ending without a
// close frame.
func (c *Conn) ioFailed(err error) error {
	switch {
	case c.closed.Load():
		err = c.closedErr() // Close or the keepalive, from another goroutine, closed the stream under the read
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		err = &CloseError{Code: StatusAbnormalClosure, Text: "connection ended without a close frame"}
		c.closeStream()
	default:
		err = ioError("read", err)
	}
	c.rd.err = err
	return err
}

// fail fails the connection (RFC 6455 §7.1.7) for a protocol violation by
// the peer: it tells the peer code, if the stream lets it within the bound
// of control frames, closes the stream, and makes every later read return
// the error.
func (c *Conn) fail(code StatusCode, msg string) error {
	err := &ProtocolError{Code: code, Text: msg}
	c.rd.err = err
	c.endStream(c.writeClose(code, msg[:min(len(msg), maxCloseReason)], ownBound()))
	return err
}
