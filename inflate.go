package wsdial

import (
	"compress/flate"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
)

// inflater is the reading side of permessage-deflate, guarded by readSem.
// It is also the source the decompressor reads from: the payload of the
// current message's frames, then deflateTail.
type inflater struct {
	c *Conn

	// noContext is server_no_context_takeover: every message from the
	// server stands alone, so no window is kept between them.
	noContext bool
	// hist is the end of the decompressed output so far, the window the
	// server's next message may refer back into. It is all the state an
	// idle connection holds for reading.
	hist window

	// The message being read.
	fr   io.ReadCloser // a decompressor lent by inflaters
	text bool          // a text message, whose output is checked as UTF-8
	out  int64         // bytes of output so far, which the read limit bounds
	tail int           // bytes of deflateTail handed to fr so far
}

// deflateTail follows every message's data on its way into the
// decompressor: the 4 bytes that RFC 7692 §7.2.1 has the sender remove,
// then an empty final stored block, so that a well-formed message ends in
// io.EOF rather than in a read past its end.
const deflateTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

// inflaters lends decompressors, whose 32 KiB window and Huffman tables an
// idle connection need not hold: hist is enough to rebuild one.
var inflaters sync.Pool

// noInput is what pooled decompressors read from, so that none keeps a
// connection alive; they never read it.
var noInput = strings.NewReader("")

func newInflater(c *Conn, p deflateParams) *inflater {
	return &inflater{c: c, noContext: p.serverNoContext, hist: window{size: 1 << p.serverBits}}
}

// beginInflate sets up the decompression of a message whose first frame
// nextFrame has just read.
func (c *Conn) beginInflate() {
	z, r := c.rd.inflate, &c.rd
	// The frames carry compressed bytes, so the UTF-8 check moves from
	// them to the output.
	z.text, r.text = r.text, false
	z.out, z.tail = 0, 0
	if z.fr == nil {
		if fr, ok := inflaters.Get().(io.ReadCloser); ok {
			z.fr = fr
		} else {
			z.fr = flate.NewReader(noInput)
		}
	}
	var dict []byte
	var lent *[32 << 10]byte
	if !z.noContext {
		dict, lent = z.hist.dict()
	}
	z.fr.(flate.Resetter).Reset(z, dict)
	if lent != nil {
		dictBufs.Put(lent)
	}
}

// release gives the decompressor back once the message is over.
func (z *inflater) release() {
	if z.fr != nil {
		z.fr.(flate.Resetter).Reset(noInput, nil)
		inflaters.Put(z.fr)
		z.fr = nil
	}
}

// readInflated reads decompressed payload of the current message into p,
// which is not empty. When the message ends, rd.compressed turns false.
func (c *Conn) readInflated(p []byte) (int, error) {
	z, r := c.rd.inflate, &c.rd
	n, err := z.fr.Read(p)
	if n > 0 {
		z.out += int64(n)
		// Checked on every read, so a message that inflates past the
		// limit fails having cost at most the caller's buffer.
		if limit := c.readLimit.Load(); limit > 0 && z.out > limit {
			z.release()
			return 0, c.fail(StatusMessageTooBig, fmt.Sprintf("message longer than the read limit of %d bytes", limit))
		}
		if z.text && !r.utf8.write(p[:n]) {
			z.release()
			return 0, c.fail(StatusInvalidFramePayloadData, "text message is not valid UTF-8")
		}
		if !z.noContext {
			z.hist.write(p[:n])
		}
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		return n, c.endInflate()
	}
	z.release()
	if r.err != nil {
		return 0, r.err // the frames failed, and fail or ioFailed said why
	}
	// The frames were sound and the extension negotiated; what was wrong
	// is the data inside the message, as with text that is not UTF-8, so
	// 1007 rather than 1002, which is kept for broken framing.
	return 0, c.fail(StatusInvalidFramePayloadData, "invalid compressed data: "+err.Error())
}

// endInflate finishes a message whose decompressor reached its end. A
// sender may end the data with a final block of its own (RFC 7692 §7.2.3.3)
// and leave deflateTail unread; anything of its own after that is refused.
func (c *Conn) endInflate() error {
	z, r := c.rd.inflate, &c.rd
	for r.inMessage {
		if r.remain > 0 {
			z.release()
			return c.fail(StatusInvalidFramePayloadData, "data after the end of the compressed stream")
		}
		if _, err := c.nextFrame(); err != nil {
			z.release()
			return err
		}
	}
	z.release()
	r.compressed = false
	if z.text && !r.utf8.complete() {
		return c.fail(StatusInvalidFramePayloadData, "text message ends inside a UTF-8 sequence")
	}
	return nil
}

// readInflatedMessage reads the rest of a compressed message into a slice of
// its own. The slice grows with the output, never past the read limit and a
// byte, so a small message that inflates far is refused before its size is
// allocated.
func (c *Conn) readInflatedMessage() ([]byte, error) {
	limit := c.readLimit.Load()
	// Text, the common case, inflates three to five times.
	capacity := min(max(4*c.rd.remain, 512), maxPrealloc)
	if limit > 0 {
		capacity = min(capacity, limit+1)
	}
	p := make([]byte, 0, capacity)
	for c.rd.compressed {
		if len(p) == cap(p) {
			grow := int64(cap(p))
			if limit > 0 {
				grow = max(min(grow, limit+1-int64(cap(p))), 1)
			}
			p = slices.Grow(p, int(grow))
		}
		n, err := c.readInflated(p[len(p):cap(p)])
		p = p[:len(p)+n]
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// discardInflated decompresses and drops the rest of the current message:
// its output still feeds the window and is still checked.
func (c *Conn) discardInflated() error {
	buf := readBufs.Get().(*[readBufSize]byte)
	defer readBufs.Put(buf)
	for c.rd.compressed {
		if _, err := c.readInflated(buf[:]); err != nil {
			return err
		}
	}
	return nil
}

// maxCompressed bounds the compressed length of a message whose output the
// read limit bounds: deflate grows incompressible data by a few bytes a
// block, so an eighth and 64 KiB more leave room for any sane sender while
// a stream of empty blocks, which costs time but yields nothing, is cut off.
func maxCompressed(limit int64) int64 {
	if limit > math.MaxInt64/2 {
		return math.MaxInt64
	}
	return limit + limit/8 + 64<<10
}

// compressedWithin reports whether a frame of length bytes keeps the
// current message, if compressed, within maxCompressed of limit.
func (c *Conn) compressedWithin(length, limit int64) bool {
	r := &c.rd
	return r.compressed && length <= maxCompressed(limit)-r.length
}

// rsvError says what is wrong with a frame that has reserved bits set,
// when permessage-deflate allows RSV1 on it or not.
func rsvError(h frameHeader, allowed byte) string {
	switch {
	case h.rsv&^allowed != 0:
		return fmt.Sprintf("reserved bits %#x set without an extension", h.rsv>>4)
	case isControl(h.op):
		return "RSV1 set on a control frame"
	}
	return "RSV1 set on a continuation frame"
}

// more makes at least one byte of the message's payload available in the
// read buffer, moving on to its next frame as needed. It returns io.EOF
// when the message's frames are over.
func (z *inflater) more() error {
	c := z.c
	r := &c.rd
	for r.remain == 0 {
		if !r.inMessage {
			return io.EOF
		}
		if _, err := c.nextFrame(); err != nil {
			return err
		}
	}
	if r.pos == r.end {
		if err := c.fill(1); err != nil {
			return c.ioFailed(err)
		}
	}
	return nil
}

// consumed accounts for n bytes of payload taken from the read buffer.
func (z *inflater) consumed(n int) error {
	r := &z.c.rd
	r.pos += n
	r.remain -= int64(n)
	if r.remain == 0 {
		return z.c.endFrame()
	}
	return nil
}

// ReadByte gives the decompressor the next byte of the message. As an
// io.ByteReader, the inflater keeps the decompressor from reading ahead
// through a bufio.Reader of its own.
func (z *inflater) ReadByte() (byte, error) {
	r := &z.c.rd
	if r.remain == 0 || r.pos == r.end {
		switch err := z.more(); {
		case err == io.EOF:
			z.startTail()
			if z.tail == len(deflateTail) {
				return 0, io.EOF
			}
			z.tail++
			return deflateTail[z.tail-1], nil
		case err != nil:
			return 0, err
		}
	}
	b := r.buf[r.pos]
	return b, z.consumed(1)
}

// Read gives the decompressor the next bytes of the message, for the
// stored blocks that it copies whole.
func (z *inflater) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r := &z.c.rd
	switch err := z.more(); {
	case err == io.EOF:
		z.startTail()
		if z.tail == len(deflateTail) {
			return 0, io.EOF
		}
		n := copy(p, deflateTail[z.tail:])
		z.tail += n
		return n, nil
	case err != nil:
		return 0, err
	}
	n := copy(p[:min(int64(len(p)), r.remain)], r.buf[r.pos:r.end])
	return n, z.consumed(n)
}

// startTail skips the sync marker of deflateTail for a message with no
// payload at all, which has no block for the marker to end. Such a message
// is not the 0x00 that RFC 7692 §7.2.3.6 makes of an empty one, but zlib
// based peers read it as empty, and so does this.
func (z *inflater) startTail() {
	if z.tail == 0 && z.c.rd.length == 0 {
		z.tail = len(syncMarker)
	}
}

// window keeps the last size bytes written to it, in a ring.
type window struct {
	size int
	buf  []byte // nil until the first write
	pos  int    // where the next byte goes; the oldest byte, once full
	full bool
}

func (w *window) write(p []byte) {
	if w.buf == nil {
		w.buf = make([]byte, w.size)
	}
	if len(p) >= w.size {
		copy(w.buf, p[len(p)-w.size:])
		w.pos, w.full = 0, true
		return
	}
	n := copy(w.buf[w.pos:], p)
	copy(w.buf, p[n:])
	w.pos += len(p)
	if w.pos >= w.size {
		w.pos -= w.size
		w.full = true
	}
}

// dictBufs lends the buffers that a wrapped window is laid out in, in
// order, for the decompressor to copy its dictionary from.
var dictBufs = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// dict returns the bytes kept, oldest first. When the ring has wrapped,
// they are copied in order to a buffer from dictBufs, which the caller
// puts back once the decompressor has taken its copy.
func (w *window) dict() (d []byte, lent *[32 << 10]byte) {
	if !w.full {
		return w.buf[:w.pos], nil
	}
	if w.pos == 0 {
		return w.buf, nil
	}
	lent = dictBufs.Get().(*[32 << 10]byte)
	n := copy(lent[:], w.buf[w.pos:])
	copy(lent[n:], w.buf[:w.pos])
	return lent[:w.size], lent
}
