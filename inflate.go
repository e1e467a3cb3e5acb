package wsdial

import (
	"compress/flate"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
)

// inflater is the link of a compressed message's chain that decompresses
// it, the reading side of permessage-deflate; guarded by readSem. Its
// source is the message's frames, then deflateTail (inflateInput).
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
	fr io.ReadCloser // a decompressor lent by inflaters; nil between messages
	in inflateInput
}

// deflateTail follows every message's data on its way into the
// decompressor: the 4 bytes that RFC 7692 §7.2.1 has the sender remove and
// §7.2.2 has the receiver put back, then an empty final stored block, so that
// a well-formed message ends in io.EOF rather than in a read past its end.
const deflateTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

// inflaters lends decompressors, whose 32 KiB window and Huffman tables an
// idle connection need not hold: hist is enough to rebuild one.
var inflaters sync.Pool

// noInput is what pooled decompressors read from, so that none keeps a
// connection alive; they never read it.
var noInput = strings.NewReader("")

func newInflater(c *Conn, p deflateParams) *inflater {
	z := &inflater{c: c, noContext: p.serverNoContext, hist: window{size: 1 << p.serverBits}}
	z.in.c = c
	return z
}

// begin sets up the decompression of a message whose first frame nextFrame
// has just read.
func (z *inflater) begin() {
	z.in.reset()
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
	z.fr.(flate.Resetter).Reset(&z.in, dict)
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

// Read gives out decompressed payload of the message. When the deflate
// stream ends, whatever of the message's payload is left is skipped: a
// sender may end the data with a block of its own that has BFINAL set, and
// then leave bytes behind it, as the example of RFC 7692 §7.2.3.4 does
// (f3 48 cd c9 c9 07 00 00 is "Hello" and a 0x00); zlib-based peers ignore
// them, and so does this.
func (z *inflater) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := z.fr.Read(p)
	if n > 0 && !z.noContext {
		z.hist.write(p[:n])
	}
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF:
		z.release()
		if err := (*frameReader)(z.c).skip(); err != nil {
			return 0, err
		}
		return n, io.EOF
	}
	z.release()
	if r := &z.c.rd; r.err != nil {
		return 0, r.err // the frames failed, and fail or ioFailed said why
	}
	// The frames were sound and the extension negotiated; what was wrong
	// is the data inside the message, as with text that is not UTF-8, so
	// 1007 rather than 1002, which is kept for broken framing.
	return 0, z.c.fail(StatusInvalidFramePayloadData, "invalid compressed data: "+err.Error())
}

// inflateInput is what the decompressor reads: the payload of the
// message's frames, then deflateTail. As an io.ByteReader it keeps
// compress/flate from reading ahead through a buffer of its own.
type inflateInput struct {
	c    *Conn
	over bool // the frames are over: the tail is under way
	tail int  // bytes of deflateTail given out so far
}

func (in *inflateInput) reset() { in.over, in.tail = false, 0 }

func (in *inflateInput) ReadByte() (byte, error) {
	if !in.over {
		b, err := (*frameReader)(in.c).ReadByte()
		if err != io.EOF {
			return b, err
		}
		in.startTail()
	}
	if in.tail == len(deflateTail) {
		return 0, io.EOF
	}
	in.tail++
	return deflateTail[in.tail-1], nil
}

// Read serves the stored blocks, which the decompressor copies whole.
func (in *inflateInput) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !in.over {
		n, err := (*frameReader)(in.c).Read(p)
		if err != io.EOF {
			return n, err
		}
		in.startTail()
		if n > 0 {
			return n, nil
		}
	}
	if in.tail == len(deflateTail) {
		return 0, io.EOF
	}
	n := copy(p, deflateTail[in.tail:])
	in.tail += n
	return n, nil
}

// startTail begins deflateTail once the frames are over. A message with no
// payload at all has no block for its sync marker to end, so the marker is
// skipped: such a message is not the 0x00 that RFC 7692 §7.2.3.6 makes of
// an empty one, but zlib-based peers read it as empty, and so does this.
func (in *inflateInput) startTail() {
	in.over = true
	if in.c.rd.length == 0 {
		in.tail = len(syncMarker)
	}
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
