package wsdial

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// writeBufSize is the size of the buffer frames are gathered and masked in
// on their way out. It bounds the frames NextWriter sends, and the pieces a
// large frame goes out in.
const writeBufSize = 16 << 10

// frameRoom is how much payload a frame gathered in a write buffer carries
// at most, behind room for the longest header.
const frameRoom = writeBufSize - maxHeader

// writeBuf is what a message borrows for its length: the buffer its frames
// are masked in, and a batch of masking keys. Lending them out, rather than
// giving each Conn its own, means idle connections hold neither.
type writeBuf struct {
	b    [writeBufSize]byte
	keys keySource
}

var writeBufs = sync.Pool{New: func() any { return new(writeBuf) }}

// WriteMessage sends data as one message of type t: in a single frame, or
// when compression was negotiated and the message is compressed, in as many
// as the compressed bytes need. It is safe to call concurrently with other
// writes; the message is never interleaved with another.
func (c *Conn) WriteMessage(t MessageType, data []byte) error {
	if err := c.checkType(t); err != nil {
		return err
	}
	// What NextWriter, Write and Close do, without a writer to hand out:
	// the length is known, so whether to compress is too.
	if err := c.lockByDeadline(&c.msgSem); err != nil {
		return err
	}
	defer c.msgSem.unlock()
	w := messageWriters.Get().(*messageWriter)
	w.c = c
	mode := sendPlain
	if d := c.wr.deflate; d != nil && len(data) >= d.threshold {
		mode = sendDeflated
	}
	w.begin(byte(t), mode)
	err := w.write(data, true)
	w.end(err)
	w.c = nil
	messageWriters.Put(w)
	return err
}

// NextWriter starts a message of type t and returns a writer for its
// payload, which goes out in frames as the writer's buffer fills; Close sends
// the last frame. Until the writer is closed it holds the connection's
// messages: other messages wait for it, no later than the write deadline,
// and so does Close, for at most a second before it cuts the message short,
// so close it promptly, even after an error. Pings and pongs go out between
// its frames.
func (c *Conn) NextWriter(t MessageType) (io.WriteCloser, error) {
	if err := c.checkType(t); err != nil {
		return nil, err
	}
	if err := c.lockByDeadline(&c.msgSem); err != nil {
		return nil, err
	}
	err := c.lockByDeadline(&c.frameSem)
	if err == nil {
		err = c.writeErr()
		c.frameSem.unlock()
	}
	if err != nil {
		c.msgSem.unlock()
		return nil, err
	}
	mode := sendPlain
	if c.wr.deflate != nil {
		mode = sendUndecided
	}
	h := &messageHandle{w: messageWriter{c: c}}
	h.w.begin(byte(t), mode)
	return h, nil
}

// checkType refuses a message of type t before it begins: t is not a data
// message type, or c is a zero Conn.
func (c *Conn) checkType(t MessageType) error {
	switch {
	case t != TextMessage && t != BinaryMessage:
		return fmt.Errorf("wsdial: write: invalid message type %d", int(t))
	case c.unopened():
		return errUnopened
	}
	return nil
}

var errWriterClosed = errors.New("wsdial: write to a closed message writer")

// messageHandle is the writer NextWriter hands out, one for each message, so
// that one kept past its Close refuses to write into a later message. It
// holds msgSem from NextWriter to Close.
type messageHandle struct {
	w      messageWriter
	closed bool
	err    error // the write that failed: nothing more of the message may go out
}

func (h *messageHandle) Write(p []byte) (int, error) {
	switch {
	case h.closed:
		return 0, errWriterClosed
	case h.err != nil:
		return 0, h.err
	}
	if err := h.w.write(p, false); err != nil {
		h.err = err
		return 0, err
	}
	return len(p), nil
}

// Close sends the last frame of the message and lets the connection's
// messages go. Closing twice returns an error; so does closing a writer
// whose message failed, which sends nothing more of it.
func (h *messageHandle) Close() error {
	if h.closed {
		return errWriterClosed
	}
	h.closed = true
	err := h.err
	if err == nil {
		err = h.w.write(nil, true)
	}
	h.w.end(err)
	h.w.c.msgSem.unlock()
	return err
}

// How a message goes out.
const (
	sendPlain     byte = iota // uncompressed
	sendDeflated              // through the compressor
	sendUndecided             // held back, uncompressed, until it reaches the threshold, then through the compressor
)

// begin starts a message of opcode op, sent as mode says.
func (w *messageWriter) begin(op byte, mode byte) {
	w.op, w.rsv, w.n, w.mode = op, 0, 0, mode
	w.wb = writeBufs.Get().(*writeBuf)
	if mode == sendDeflated {
		w.startDeflate()
	}
}

// write sends p, the next part of the message, and, with final, ends the
// message.
func (w *messageWriter) write(p []byte, final bool) error {
	if w.mode == sendUndecided {
		// The message turns to compression once it reaches the threshold,
		// or a frame's worth, which is all the buffer holds.
		if w.n+len(p) < min(w.c.wr.deflate.threshold, frameRoom) {
			w.n += copy(w.wb.b[maxHeader+w.n:], p)
			if !final {
				return nil
			}
			w.mode = sendPlain // short of the threshold at its end: it goes out as it is
			return w.flush(true)
		}
		if err := w.startDeflate(); err != nil {
			return err
		}
	}
	if w.mode == sendDeflated {
		d := w.c.wr.deflate
		if err := d.write(p); err != nil || !final {
			return err
		}
		return d.finish(w)
	}
	if w.n == 0 && (final || len(p) >= frameRoom) {
		// Nothing gathered, and p ends the message or fills a frame: it
		// goes out as a frame of its own, masked through the buffer on its
		// way, sparing a copy.
		return w.sendFrame(final, p)
	}
	for len(p) > 0 {
		n := copy(w.wb.b[maxHeader+w.n:], p)
		w.n += n
		p = p[n:]
		if w.n == frameRoom {
			if err := w.flush(false); err != nil {
				return err
			}
		}
	}
	if final {
		return w.flush(true)
	}
	return nil
}

// end lets go of what the message borrowed.
func (w *messageWriter) end(err error) {
	if w.mode == sendDeflated {
		w.c.wr.deflate.end(err != nil)
	}
	writeBufs.Put(w.wb)
	w.wb = nil
}

// sendFrame sends payload as the message's next frame.
func (w *messageWriter) sendFrame(fin bool, payload []byte) error {
	err := w.c.writeFrame(w.wb, fin, w.rsv, w.op, payload)
	w.op, w.rsv = opContinuation, 0
	return err
}

// flush sends the bytes gathered as the message's next frame, masking them
// in place.
func (w *messageWriter) flush(fin bool) error {
	err := w.c.sendGathered(w.wb, fin, w.rsv, w.op, w.n)
	w.op, w.rsv, w.n = opContinuation, 0, 0
	return err
}

// writeFrame sends one data frame with payload, masked through wb on its
// way out, in pieces of the buffer.
func (c *Conn) writeFrame(wb *writeBuf, fin bool, rsv, op byte, payload []byte) error {
	key, err := wb.keys.next()
	if err != nil {
		return err
	}
	b := wb.b[:]
	off := putClientHeader(b, fin, op, len(payload), key)
	b[0] |= rsv
	if err := c.lockDataFrame(op != opContinuation); err != nil {
		return err
	}
	defer c.frameSem.unlock()
	if err := c.writeErr(); err != nil {
		return err
	}
	pos := 0
	for first := op != opContinuation; ; first = false {
		n := min(len(payload), len(b)-off)
		pos = maskCopy(b[off:], payload[:n], key, pos)
		payload = payload[n:]
		if m, err := c.s.Write(b[:off+n]); err != nil {
			return c.writeFailed(err, first && m == 0)
		}
		c.noteSent()
		if len(payload) == 0 {
			return nil
		}
		off = 0
	}
}

// sendGathered sends the n bytes gathered in wb behind its header room as
// one data frame, masking them in place.
func (c *Conn) sendGathered(wb *writeBuf, fin bool, rsv, op byte, n int) error {
	key, err := wb.keys.next()
	if err != nil {
		return err
	}
	start := maxHeader - clientHeaderLen(n)
	putClientHeader(wb.b[start:], fin, op, n, key)
	wb.b[start] |= rsv
	payload := wb.b[maxHeader : maxHeader+n]
	maskCopy(payload, payload, key, 0)
	if err := c.lockDataFrame(op != opContinuation); err != nil {
		return err
	}
	defer c.frameSem.unlock()
	if err := c.writeErr(); err != nil {
		return err
	}
	if m, err := c.s.Write(wb.b[start : maxHeader+n]); err != nil {
		return c.writeFailed(err, op != opContinuation && m == 0)
	}
	return nil
}

// errLockTimeout is what the application's writes return when the write
// deadline passed while they waited for a lock.
var errLockTimeout = ioError("write", os.ErrDeadlineExceeded)

// lockByDeadline takes s, msgSem or frameSem, for a write of the
// application's, waiting no later than its write deadline: a writer from
// NextWriter holds msgSem as long as its owner leaves it open, and a pong,
// which goes out without a deadline, holds frameSem for as long as a peer
// that stopped reading leaves it unsent. It keeps to a deadline set while
// it waits, as a net.Conn's pending writes do.
func (c *Conn) lockByDeadline(s *sem) error {
	if !s.lockByLatest(&c.writeDeadline) {
		if c.closed.Load() {
			return c.closedErr() // closing woke the wait
		}
		return errLockTimeout
	}
	return nil
}

// lockDataFrame is lockByDeadline for frameSem and a data frame, the first of its message
// or a later one. A later one that times out leaves the peer a message cut
// short, so that no data frame may follow: every later one times out too,
// as after a frame that failed half sent. The caller holds msgSem.
func (c *Conn) lockDataFrame(first bool) error {
	if c.wr.cut {
		return errLockTimeout
	}
	err := c.lockByDeadline(&c.frameSem)
	if err != nil && !first {
		c.wr.cut = true
	}
	return err
}

// writeErr is the error that stops writes, if any. The caller holds
// frameSem.
func (c *Conn) writeErr() error {
	switch {
	case c.closed.Load():
		return c.closedErr()
	case c.wr.closeSent:
		return errCloseSent
	}
	return c.wr.err
}

// writeFailed describes err, a failure of the stream under a frame, and
// unless unsent says that nothing of the frame's message went out, records it
// as the error of every later write, since the peer may have received part
// of a frame or of a message. A message of which nothing went out fails
// alone: the peer saw nothing of it. The caller holds frameSem.
func (c *Conn) writeFailed(err error, unsent bool) error {
	if c.closed.Load() {
		err = c.closedErr()
	} else {
		err = ioError("write", err)
	}
	if !unsent {
		c.wr.err = err
	}
	return err
}
