package wsdial

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// writeBufSize is the size of the buffer frames are masked into on their
// way out. It bounds the frames NextWriter sends, and the pieces a large
// frame goes out in.
const writeBufSize = 16 << 10

// writeBuf is what a write borrows for its duration: the buffer that frames
// are masked into, and a batch of masking keys. Lending them out, rather than
// giving each Conn its own, means idle connections hold neither.
type writeBuf struct {
	b    [writeBufSize]byte
	keys keySource
}

var writeBufs = sync.Pool{New: func() any { return new(writeBuf) }}

// writeState is the writing side of a Conn, guarded by Conn.writeSem.
type writeState struct {
	wb        *writeBuf // lent while writeSem is held
	deflate   *deflater // permessage-deflate's writing side; nil when not negotiated
	closeSent bool
	err       error // the first failure; every later write returns it
}

// WriteMessage sends data as one message of type t: in a single frame, or
// when compression was negotiated and the message is compressed, in as many
// as the compressed bytes need. It is safe to call concurrently with other
// writes; the message is never interleaved with another.
func (c *Conn) WriteMessage(t MessageType, data []byte) error {
	if t != TextMessage && t != BinaryMessage {
		return fmt.Errorf("wsdial: write: invalid message type %d", int(t))
	}
	if err := c.lockWrite(); err != nil {
		return err
	}
	var err error
	if d := c.wr.deflate; d != nil && len(data) >= d.threshold {
		err = c.writeDeflated(byte(t), data)
	} else {
		err = c.writeFrame(byte(t), true, data)
	}
	c.unlockWrite()
	return err
}

// NextWriter starts a message of type t and returns a writer for its
// payload, which goes out in frames as the writer's buffer fills; Close sends
// the last frame. Until the writer is closed it holds the connection's
// writes: other writes, pings, pongs and Close wait for it (Close at most a
// second), so close it promptly, even after an error.
func (c *Conn) NextWriter(t MessageType) (io.WriteCloser, error) {
	if t != TextMessage && t != BinaryMessage {
		return nil, fmt.Errorf("wsdial: write: invalid message type %d", int(t))
	}
	if err := c.lockWrite(); err != nil {
		return nil, err
	}
	if c.wr.deflate != nil {
		return c.newDeflateWriter(byte(t)), nil
	}
	return &messageWriter{c: c, op: byte(t)}, nil
}

// Ping sends a ping with payload, at most 125 bytes. The peer's pong goes to
// the handler set with SetPongHandler, once a read receives it.
func (c *Conn) Ping(payload []byte) error {
	if len(payload) > maxControl {
		return fmt.Errorf("wsdial: ping: payload of %d bytes is longer than %d", len(payload), maxControl)
	}
	if err := c.lockWrite(); err != nil {
		return err
	}
	err := c.writeFrame(opPing, true, payload)
	c.unlockWrite()
	return err
}

// lockWrite waits for the connection's writes and borrows a write buffer.
// It fails once the close has gone out or a write has failed.
func (c *Conn) lockWrite() error {
	c.writeSem <- struct{}{}
	var err error
	switch {
	case c.closed.Load():
		err = errClosed
	case c.wr.closeSent:
		err = errCloseSent
	case c.wr.err != nil:
		err = c.wr.err
	default:
		return nil
	}
	<-c.writeSem
	return err
}

// unlockWrite lets the writes go, sending first any pong that the reader
// left while they were held.
func (c *Conn) unlockWrite() {
	for {
		c.sendPong()
		if c.wr.wb != nil {
			writeBufs.Put(c.wr.wb)
			c.wr.wb = nil
		}
		<-c.writeSem
		// The reader may have left a pong between sendPong and letting go,
		// having found the writes held: then it is ours to send, unless
		// another writer has come along, who will.
		c.pongMu.Lock()
		pending := c.pongPending
		c.pongMu.Unlock()
		if !pending {
			return
		}
		select {
		case c.writeSem <- struct{}{}:
		default:
			return
		}
	}
}

// queuePong answers a ping: it sends the pong now if the writes are free,
// and otherwise leaves it for whoever holds them. Only the latest ping is
// answered when several arrive meanwhile, as RFC 6455 §5.5.3 allows.
func (c *Conn) queuePong(payload []byte) {
	c.pongMu.Lock()
	if c.pongBuf == nil {
		c.pongBuf = new([maxControl]byte) // only once a ping has come
	}
	c.pongLen = copy(c.pongBuf[:], payload)
	c.pongPending = true
	c.pongMu.Unlock()
	select {
	case c.writeSem <- struct{}{}:
		// The reader sends the pong itself. A peer that has stopped reading
		// must not hold the read for longer than a second, as no writer's
		// deadline covers this write.
		c.capWriteDeadline(time.Now().Add(closeTimeout))
		c.sendPong()
		c.restoreWriteDeadline()
		c.unlockWrite()
	default:
	}
}

// capWriteDeadline bounds writes by d, or by the application's write
// deadline if that is sooner, until restoreWriteDeadline. The caller holds
// writeSem.
func (c *Conn) capWriteDeadline(d time.Time) {
	if ns := c.writeDeadline.Load(); ns != 0 && ns < d.UnixNano() {
		d = time.Unix(0, ns)
	}
	c.conn.SetWriteDeadline(d)
}

// restoreWriteDeadline puts the application's write deadline back.
func (c *Conn) restoreWriteDeadline() {
	var d time.Time
	if ns := c.writeDeadline.Load(); ns != 0 {
		d = time.Unix(0, ns)
	}
	c.conn.SetWriteDeadline(d)
}

// sendPong sends the pending pong, if any. The caller holds writeSem.
func (c *Conn) sendPong() {
	c.pongMu.Lock()
	if !c.pongPending {
		c.pongMu.Unlock()
		return
	}
	var p [maxControl]byte
	n := copy(p[:], c.pongBuf[:c.pongLen])
	c.pongPending = false
	c.pongMu.Unlock()
	if c.wr.closeSent || c.wr.err != nil || c.closed.Load() {
		return
	}
	c.writeFrame(opPong, true, p[:n])
}

// writeFrame sends one frame with payload, masked with a fresh key. The
// caller holds writeSem.
func (c *Conn) writeFrame(op byte, fin bool, payload []byte) error {
	w := &c.wr
	if w.err != nil {
		return w.err
	}
	if w.wb == nil {
		w.wb = writeBufs.Get().(*writeBuf)
	}
	key, err := w.wb.keys.next()
	if err != nil {
		return err
	}
	b := w.wb.b[:]
	off := putClientHeader(b, fin, op, len(payload), key)
	pos := 0
	for {
		n := min(len(payload), len(b)-off)
		pos = maskCopy(b[off:], payload[:n], key, pos)
		payload = payload[n:]
		if _, err := c.conn.Write(b[:off+n]); err != nil {
			return c.writeFailed(err)
		}
		if len(payload) == 0 {
			return nil
		}
		off = 0
	}
}

// writeFailed records err as the error of every later write, since a frame
// may have gone out in part.
func (c *Conn) writeFailed(err error) error {
	if c.closed.Load() {
		err = errClosed
	} else {
		err = fmt.Errorf("wsdial: write: %w", err)
	}
	c.wr.err = err
	return err
}

// messageWriter streams one message out as frames. It holds writeSem from
// NextWriter to Close.
type messageWriter struct {
	c      *Conn
	op     byte // the opcode of the next frame: the message's type, then continuation
	n      int  // payload bytes waiting in the buffer, after maxHeader bytes of room
	closed bool
}

var errWriterClosed = errors.New("wsdial: write to a closed message writer")

func (w *messageWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errWriterClosed
	}
	c := w.c
	if c.wr.err != nil {
		return 0, c.wr.err
	}
	if c.wr.wb == nil {
		c.wr.wb = writeBufs.Get().(*writeBuf)
	}
	room := writeBufSize - maxHeader
	if w.n == 0 && len(p) >= room {
		// Nothing buffered and more than a buffer's worth: send it as a
		// frame of its own, sparing a copy into the buffer.
		if err := c.writeFrame(w.op, false, p); err != nil {
			return 0, err
		}
		w.op = opContinuation
		return len(p), nil
	}
	written := 0
	for len(p) > 0 {
		n := copy(c.wr.wb.b[maxHeader+w.n:], p)
		w.n += n
		written += n
		p = p[n:]
		if w.n == room {
			if err := w.flush(false); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// Close sends the last frame of the message and lets the connection's
// writes go. Closing twice returns an error.
func (w *messageWriter) Close() error {
	if w.closed {
		return errWriterClosed
	}
	w.closed = true
	err := w.c.wr.err
	if err == nil {
		err = w.flush(true)
	}
	w.c.unlockWrite()
	return err
}

// flush sends the buffered payload as a frame, masking it in place.
func (w *messageWriter) flush(fin bool) error {
	c := w.c
	wb := c.wr.wb
	if wb == nil {
		wb = writeBufs.Get().(*writeBuf)
		c.wr.wb = wb
	}
	if err := c.sendGathered(wb, fin, 0, w.op, w.n); err != nil {
		return err
	}
	w.op, w.n = opContinuation, 0
	return nil
}

// sendGathered sends the n bytes gathered in wb behind its header room as
// one frame, masking them in place: the last step of a streamed message's
// frames, compressed or not. The caller holds writeSem.
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
	if _, err := c.conn.Write(wb.b[start : maxHeader+n]); err != nil {
		return c.writeFailed(err)
	}
	return nil
}
