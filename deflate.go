package wsdial

import (
	"compress/flate"
	"errors"
	"sync"
)

// deflater is the writing side of permessage-deflate, guarded by writeSem.
type deflater struct {
	level     int
	threshold int // messages shorter than this go out uncompressed

	// keep is context takeover: the compressor, with its window, stays
	// with the connection between messages. Otherwise it is lent by
	// deflaters for one message at a time.
	keep bool
	// piece, when not zero, is the window the server set with
	// client_max_window_bits below 15. compress/flate always looks back 32
	// KiB, so the message is compressed in independent pieces of at most
	// piece bytes, the compressor reset between them, and no
	// back-reference can reach further than the window.
	piece int
	used  int // bytes given to fw since it was last reset

	fw   *flate.Writer // nil between messages unless keep
	sink frameSink
}

// deflaters lends compressors, one pool per level from flate.HuffmanOnly
// (-2) to flate.BestCompression (9). Each holds about 1 MiB, mostly hash
// tables that compress/flate allocates whatever the level.
var deflaters [flate.BestCompression - flate.HuffmanOnly + 1]sync.Pool

// syncMarker is how every flush of the compressor ends, and what RFC 7692
// §7.2.1 has the sender remove from the end of a message.
const syncMarker = "\x00\x00\xff\xff"

var errNoSyncMarker = errors.New("wsdial: write: compressed data does not end in a sync flush")

func newDeflater(c *Conn, p deflateParams, z *compression) *deflater {
	d := &deflater{
		level:     z.level,
		threshold: z.threshold,
		keep:      !p.clientNoContext && !z.clientNoContext,
		sink:      frameSink{c: c},
	}
	if p.clientBits < 15 {
		d.piece, d.keep = 1<<p.clientBits, false
		if d.level > flate.BestSpeed {
			// Levels above BestSpeed clear some 640 KiB of hash tables on
			// every reset, which would come every piece.
			d.level = flate.BestSpeed
		}
	}
	return d
}

// begin starts a compressed message of opcode op.
func (d *deflater) begin(op byte) {
	s := &d.sink
	s.op, s.rsv, s.n = op, bitRSV1, 0
	if s.wb == nil {
		s.wb = writeBufs.Get().(*writeBuf)
	}
	if d.fw == nil {
		if fw, ok := deflaters[d.level-flate.HuffmanOnly].Get().(*flate.Writer); ok {
			fw.Reset(s)
			d.fw = fw
		} else {
			// The level was checked by WithCompression.
			d.fw, _ = flate.NewWriter(s, d.level)
		}
		d.used = 0
	}
}

// write compresses p, a part of the message.
func (d *deflater) write(p []byte) error {
	for len(p) > 0 {
		n := len(p)
		if d.piece > 0 {
			if d.used == d.piece {
				if err := d.fw.Flush(); err != nil {
					return err
				}
				d.fw.Reset(&d.sink)
				d.used = 0
			}
			n = min(n, d.piece-d.used)
			d.used += n
		}
		if _, err := d.fw.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// finish flushes the compressor and sends the last frame of the message,
// without the sync marker.
func (d *deflater) finish() error {
	if err := d.fw.Flush(); err != nil {
		return err
	}
	s := &d.sink
	if s.n < len(syncMarker) || string(s.wb.b[maxHeader+s.n-len(syncMarker):maxHeader+s.n]) != syncMarker {
		return errNoSyncMarker
	}
	s.n -= len(syncMarker)
	return s.send(true)
}

// end lets go of what the message borrowed. A compressor that failed may
// hold half a message, so it is dropped, not kept or lent again.
func (d *deflater) end(failed bool) {
	if d.sink.wb != nil {
		writeBufs.Put(d.sink.wb)
		d.sink.wb = nil
	}
	switch {
	case failed:
		d.fw = nil
	case !d.keep:
		deflaters[d.level-flate.HuffmanOnly].Put(d.fw)
		d.fw = nil
	}
}

// writeDeflated sends data as one compressed message of opcode op. The
// caller holds writeSem.
func (c *Conn) writeDeflated(op byte, data []byte) error {
	if c.wr.err != nil {
		return c.wr.err
	}
	d := c.wr.deflate
	d.begin(op)
	err := d.write(data)
	if err == nil {
		err = d.finish()
	}
	d.end(err != nil)
	return err
}

// frameSink is where the compressor's output goes: it gathers it into frames
// of up to a write buffer, the first with RSV1 set, and sends each when full.
type frameSink struct {
	c   *Conn
	wb  *writeBuf // lent for one message; compressed bytes at b[maxHeader:maxHeader+n]
	n   int
	op  byte // the next frame's opcode: the message's, then continuation
	rsv byte // the next frame's reserved bits: RSV1 on the first only
}

// sinkRoom is how much compressed data a frame of the sink carries at most.
const sinkRoom = writeBufSize - maxHeader

func (s *frameSink) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := copy(s.wb.b[maxHeader+s.n:], p)
		s.n += n
		written += n
		p = p[n:]
		if s.n == sinkRoom {
			if err := s.send(false); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// send sends the gathered bytes as a frame, masking them in place. Unless
// the frame is the last, it holds back the final 4 bytes, which may turn out
// to be the sync marker that finish removes.
func (s *frameSink) send(fin bool) error {
	c := s.c
	if c.wr.err != nil {
		return c.wr.err
	}
	n := s.n
	var held [len(syncMarker)]byte
	if !fin {
		n -= len(held)
		copy(held[:], s.wb.b[maxHeader+n:])
	}
	if err := c.sendGathered(s.wb, fin, s.rsv, s.op, n); err != nil {
		return err
	}
	s.op, s.rsv, s.n = opContinuation, 0, 0
	if !fin {
		s.n = copy(s.wb.b[maxHeader:], held[:])
	}
	return nil
}

// deflateWriter streams one message out for NextWriter when compression is
// on. It holds the first bytes back, uncompressed, until they reach the
// threshold; a message that closes short of it goes out uncompressed.
type deflateWriter struct {
	c           *Conn
	op          byte
	n           int // bytes held back in c.wr.wb, after maxHeader bytes of room
	limit       int // the threshold, within what c.wr.wb holds
	compressing bool
	closed      bool
}

func (c *Conn) newDeflateWriter(op byte) *deflateWriter {
	return &deflateWriter{c: c, op: op, limit: min(c.wr.deflate.threshold, writeBufSize-maxHeader)}
}

func (w *deflateWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errWriterClosed
	}
	c := w.c
	if c.wr.err != nil {
		return 0, c.wr.err
	}
	if !w.compressing {
		if w.n+len(p) < w.limit {
			if c.wr.wb == nil {
				c.wr.wb = writeBufs.Get().(*writeBuf)
			}
			w.n += copy(c.wr.wb.b[maxHeader+w.n:], p)
			return len(p), nil
		}
		if err := w.start(); err != nil {
			return 0, err
		}
	}
	if err := c.wr.deflate.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// start turns to compression, beginning with the bytes held back. The
// compressor reads them from c.wr.wb while the sink fills a buffer of its
// own, so they are never overwritten.
func (w *deflateWriter) start() error {
	w.compressing = true
	d := w.c.wr.deflate
	d.begin(w.op)
	if w.n == 0 {
		return nil
	}
	held := w.c.wr.wb.b[maxHeader : maxHeader+w.n]
	w.n = 0
	return d.write(held)
}

// Close sends the last frame of the message and lets the connection's
// writes go. Closing twice returns an error.
func (w *deflateWriter) Close() error {
	if w.closed {
		return errWriterClosed
	}
	w.closed = true
	c := w.c
	err := c.wr.err
	if err == nil {
		if !w.compressing && w.n < w.limit {
			plain := messageWriter{c: c, op: w.op, n: w.n}
			err = plain.flush(true)
		} else {
			if !w.compressing {
				err = w.start()
			}
			if err == nil {
				err = c.wr.deflate.finish()
			}
		}
	}
	if w.compressing {
		c.wr.deflate.end(err != nil)
	}
	c.unlockWrite()
	return err
}
