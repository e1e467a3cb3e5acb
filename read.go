package wsdial

import (
	"errors"
	"fmt"
	"io"
	"sync"
)

// readBufSize is the size of the buffer frames are read through. Payloads
// at least this large bypass it and go straight to the caller's memory.
const readBufSize = 4096

// readBufs lends read buffers. A Conn holds one only while a read is under
// way or bytes wait in it, so idle connections that nobody is reading hold
// none.
var readBufs = sync.Pool{New: func() any { return new([readBufSize]byte) }}

// waitBufSize is the size of the buffer a read waits in while nothing is
// buffered: enough for the header and payload of a small message, so that
// one system call still takes it whole.
const waitBufSize = 256

// waitBufs lends wait buffers. A reader parked on an idle connection holds
// one of these rather than a whole read buffer.
var waitBufs = sync.Pool{New: func() any { return new([waitBufSize]byte) }}

// maxPrealloc bounds what ReadMessage allocates on the word of a frame
// header alone, before the bytes have arrived.
const maxPrealloc = 4 << 20

// readState is the reading side of a Conn, guarded by Conn.readSem.
type readState struct {
	buf      *[readBufSize]byte // nil while empty and idle
	pos, end int                // buf[pos:end] is read but not yet consumed
	err      error              // the first failure; every later read returns it

	// The frame being read.
	remain int64 // payload bytes still to read
	fin    bool

	// The message being read.
	inMessage bool  // a data message began and its last byte is not yet read
	text      bool  // it is a text message, whose UTF-8 is checked
	length    int64 // its length so far, as announced by its frames' headers
	utf8      utf8State

	// rsvAllowed holds the reserved bits that a negotiated extension gives a
	// meaning to: RSV1, on a message's first frame, with permessage-deflate.
	rsvAllowed byte
	// inflate is permessage-deflate's reading side, nil when it was not
	// negotiated. While compressed is set, the current message's frames
	// carry compressed data, and the message lasts until the decompressor
	// has given all its output, which may be after its last frame is read.
	inflate    *inflater
	compressed bool
}

// NextReader waits for the next data message and returns its type and a
// reader of its payload. The reader returns io.EOF at the end of the
// message, and is the Conn's own: it is valid until the next call to
// NextReader or ReadMessage, which discard whatever of the message is still
// unread. Reading into a buffer of the caller's allocates nothing.
func (c *Conn) NextReader() (MessageType, io.Reader, error) {
	c.lockRead()
	defer c.unlockRead()
	t, err := c.nextMessage()
	if err != nil {
		return 0, nil, err
	}
	return t, &c.mr, nil
}

// ReadMessage waits for the next data message and returns its type and
// payload, in a slice of its own that the caller may keep.
func (c *Conn) ReadMessage() (MessageType, []byte, error) {
	c.lockRead()
	defer c.unlockRead()
	t, err := c.nextMessage()
	if err != nil {
		return 0, nil, err
	}
	if c.rd.compressed {
		p, err := c.readInflatedMessage()
		if err != nil {
			return 0, nil, err
		}
		return t, p, nil
	}
	r := &c.rd
	p := []byte{}
	for r.inMessage {
		if free := int64(cap(p) - len(p)); free < r.remain {
			// The frame header says how much is coming; take it in one
			// allocation, within reason, or at least double.
			grow := min(r.remain, maxPrealloc)
			grow = max(grow, int64(cap(p)))
			p = append(p[:cap(p)], make([]byte, grow)...)[:len(p)]
		}
		n, err := c.readMessage(p[len(p):cap(p)])
		p = p[:len(p)+n]
		if err != nil {
			return 0, nil, err
		}
	}
	return t, p, nil
}

// messageReader reads the payload of the current message.
type messageReader struct{ c *Conn }

func (r *messageReader) Read(p []byte) (int, error) {
	c := r.c
	c.lockRead()
	defer c.unlockRead()
	if err := c.readable(); err != nil {
		return 0, err
	}
	if c.rd.compressed {
		if len(p) == 0 {
			return 0, nil
		}
		n, err := c.readInflated(p)
		if err == nil && !c.rd.compressed {
			err = io.EOF
		}
		return n, err
	}
	if !c.rd.inMessage {
		return 0, io.EOF
	}
	n, err := c.readMessage(p)
	if err == nil && !c.rd.inMessage {
		err = io.EOF
	}
	return n, err
}

func (c *Conn) lockRead() { c.readSem <- struct{}{} }

func (c *Conn) unlockRead() {
	r := &c.rd
	if r.buf != nil && r.pos == r.end {
		readBufs.Put(r.buf)
		r.buf, r.pos, r.end = nil, 0, 0
	}
	<-c.readSem
}

// readable returns the error that stops reads, if any.
func (c *Conn) readable() error {
	if c.rd.err != nil {
		return c.rd.err
	}
	if c.closed.Load() {
		return errClosed
	}
	return nil
}

// nextMessage discards the rest of the current message, if any, and reads
// up to the first data frame of the next one.
func (c *Conn) nextMessage() (MessageType, error) {
	if err := c.readable(); err != nil {
		return 0, err
	}
	r := &c.rd
	if r.compressed {
		if err := c.discardInflated(); err != nil {
			return 0, err
		}
	}
	for r.inMessage {
		if err := c.discard(); err != nil {
			return 0, err
		}
	}
	op, err := c.nextFrame()
	if err != nil {
		return 0, err
	}
	if r.compressed {
		c.beginInflate()
	}
	return MessageType(op), nil
}

// readMessage reads payload of the current message into p, moving on to its
// next frames as needed. It returns 0, nil only when p is empty or the
// message is over.
func (c *Conn) readMessage(p []byte) (int, error) {
	r := &c.rd
	for r.remain == 0 && r.inMessage {
		if _, err := c.nextFrame(); err != nil {
			return 0, err
		}
	}
	if len(p) == 0 || !r.inMessage {
		return 0, nil
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := c.readPayload(p)
	r.remain -= int64(n)
	if r.text && !r.utf8.write(p[:n]) {
		return n, c.fail(StatusInvalidFramePayloadData, "text message is not valid UTF-8")
	}
	if err != nil {
		return n, c.ioFailed(err)
	}
	if r.remain == 0 {
		return n, c.endFrame()
	}
	return n, nil
}

// discard skips the rest of the current frame, checking it as if read, and
// moves on to the next frame of the message if there is one.
func (c *Conn) discard() error {
	r := &c.rd
	for r.remain > 0 {
		if r.pos == r.end {
			if err := c.fill(1); err != nil {
				return c.ioFailed(err)
			}
		}
		p := r.buf[r.pos:min(int64(r.end), int64(r.pos)+r.remain)]
		r.pos += len(p)
		r.remain -= int64(len(p))
		if r.text && !r.utf8.write(p) {
			return c.fail(StatusInvalidFramePayloadData, "text message is not valid UTF-8")
		}
	}
	if err := c.endFrame(); err != nil {
		return err
	}
	if r.inMessage {
		_, err := c.nextFrame()
		return err
	}
	return nil
}

// endFrame is called when the payload of a data frame has been read. After
// the last frame of a message, the message is over.
func (c *Conn) endFrame() error {
	r := &c.rd
	if !r.fin {
		return nil
	}
	r.inMessage = false
	if r.text && !r.utf8.complete() {
		return c.fail(StatusInvalidFramePayloadData, "text message ends inside a UTF-8 sequence")
	}
	return nil
}

// nextFrame reads frame headers, handling any control frames on the way,
// until a data frame comes, and returns its opcode. When no message is under
// way, that frame starts one; otherwise it continues the current one. A
// frame of no payload that ends a message ends it here.
func (c *Conn) nextFrame() (byte, error) {
	r := &c.rd
	for {
		if err := c.fill(2); err != nil {
			return 0, c.ioFailed(err)
		}
		n := headerLen(r.buf[r.pos], r.buf[r.pos+1])
		if err := c.fill(n); err != nil {
			return 0, c.ioFailed(err)
		}
		h, err := parseHeader(r.buf[r.pos : r.pos+n])
		if err != nil {
			return 0, c.fail(StatusProtocolError, err.Error())
		}
		r.pos += n

		switch {
		case h.masked:
			return 0, c.fail(StatusProtocolError, "server sent a masked frame")
		case h.rsv != 0 && (h.rsv&^r.rsvAllowed != 0 || isControl(h.op) || h.op == opContinuation):
			return 0, c.fail(StatusProtocolError, rsvError(h, r.rsvAllowed))
		}

		switch h.op {
		case opClose, opPing, opPong:
			switch {
			case !h.fin:
				return 0, c.fail(StatusProtocolError, "fragmented control frame")
			case h.length > maxControl:
				return 0, c.fail(StatusProtocolError, fmt.Sprintf("control frame of %d bytes", h.length))
			}
			// The payload is handled in place, in the read buffer: whoever
			// keeps any of it copies it first.
			var p []byte
			if h.length > 0 {
				if err := c.fill(int(h.length)); err != nil {
					return 0, c.ioFailed(err)
				}
				p = r.buf[r.pos : r.pos+int(h.length)]
				r.pos += len(p)
			}
			if err := c.handleControl(h.op, p); err != nil {
				return 0, err
			}
			continue
		case opText, opBinary:
			if r.inMessage {
				return 0, c.fail(StatusProtocolError, "new message before the last one ended")
			}
			r.inMessage, r.text, r.length, r.utf8 = true, h.op == opText, 0, utf8State{}
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
		if h.length == 0 {
			if err := c.endFrame(); err != nil {
				return 0, err
			}
		}
		return h.op, nil
	}
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
		m, err := c.raw.Read(r.buf[r.end:])
		r.end += m
		if err != nil && r.end-r.pos < n {
			return err
		}
	}
	return nil
}

// await waits for the next bytes of the stream when none are buffered, in a
// wait buffer, and only once some have come borrows a read buffer for them.
func (c *Conn) await() error {
	wb := waitBufs.Get().(*[waitBufSize]byte)
	defer waitBufs.Put(wb)
	for {
		m, err := c.raw.Read(wb[:])
		if m > 0 {
			// An error that came with the bytes comes again from the next
			// read of the stream, once these are consumed.
			r := &c.rd
			r.buf, r.pos = readBufs.Get().(*[readBufSize]byte), 0
			r.end = copy(r.buf[:], wb[:m])
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readPayload reads at least one byte and at most len(p) of the stream.
func (c *Conn) readPayload(p []byte) (int, error) {
	r := &c.rd
	if r.pos == r.end && len(p) >= readBufSize {
		return c.raw.Read(p)
	}
	if err := c.fill(1); err != nil {
		return 0, err
	}
	n := copy(p, r.buf[r.pos:r.end])
	r.pos += n
	return n, nil
}

// ioFailed records err, a failure of the stream, as the error of every
// later read, and returns what the reader should see. Every read of the
// stream ends here on failure: an EOF, at a frame's edge or inside one, is
// the stream ending without a close frame.
func (c *Conn) ioFailed(err error) error {
	switch {
	case c.closed.Load():
		// Close, or a failure seen by another call, closed the stream under us.
		err = errClosed
		c.stateMu.Lock()
		if c.peerClose != nil {
			err = c.peerClose
		}
		c.stateMu.Unlock()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		err = &CloseError{Code: StatusAbnormalClosure, Text: "connection ended without a close frame"}
		c.closeStream()
	default:
		err = fmt.Errorf("wsdial: read: %w", err)
	}
	c.rd.err = err
	return err
}

// fail fails the connection (RFC 6455 §7.1.7) for a protocol violation by
// the peer: it tells the peer code, if it can, closes the stream, and makes
// every later read return the error.
func (c *Conn) fail(code StatusCode, msg string) error {
	err := &ProtocolError{Code: code, Text: msg}
	c.rd.err = err
	if len(msg) > maxCloseReason {
		msg = msg[:maxCloseReason]
	}
	c.sendCloseWithin(code, msg, closeTimeout)
	c.closeStream()
	return err
}
