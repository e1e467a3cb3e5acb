package wsdial

import (
	"compress/flate"
	"errors"
	"sync"
)

// deflater is the writing side of permessage-deflate, the compressor that
// stands between a message and its frames; guarded by msgSem.
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
	sink frameSink     // where fw writes, through a pointer, as each message has a writer of its own
}

// deflaters lends compressors, one pool per level from flate.HuffmanOnly
// (-2) to flate.BestCompression (9). Each holds about 1 MiB, mostly hash
// tables that compress/flate allocates whatever the level.
var deflaters [flate.BestCompression - flate.HuffmanOnly + 1]sync.Pool

// syncMarker is how every flush of the compressor ends, and what RFC 7692
// §7.2.1 has the sender remove from the end of a message.
const syncMarker = "\x00\x00\xff\xff"

var errNoSyncMarker = errors.New("wsdial: write: compressed data does not end in a sync flush")

func newDeflater(p deflateParams, z *compression) *deflater {
	d := &deflater{
		level:     z.level,
		threshold: z.threshold,
		keep:      !p.clientNoContext && !z.clientNoContext,
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

// begin starts a compressed message, whose compressed bytes go to sink.
func (d *deflater) begin(sink frameSink) {
	d.sink = sink
	if d.fw == nil {
		if fw, ok := deflaters[d.level-flate.HuffmanOnly].Get().(*flate.Writer); ok {
			fw.Reset(&d.sink)
			d.fw = fw
		} else {
			// The level was checked by WithCompression.
			d.fw, _ = flate.NewWriter(&d.sink, d.level)
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

// finish flushes the compressor and sends the last frame of w's message,
// without the sync marker that RFC 7692 §7.2.1 has the sender remove.
func (d *deflater) finish(w *messageWriter) error {
	if err := d.fw.Flush(); err != nil {
		return err
	}
	if w.n < len(syncMarker) || string(w.wb.b[maxHeader+w.n-len(syncMarker):maxHeader+w.n]) != syncMarker {
		return errNoSyncMarker
	}
	w.n -= len(syncMarker)
	return w.flush(true)
}

// end lets go of the compressor after a message. One that failed may hold
// half a message, so it is dropped, not kept or lent again.
func (d *deflater) end(failed bool) {
	switch {
	case failed:
		d.fw = nil
	case !d.keep:
		deflaters[d.level-flate.HuffmanOnly].Put(d.fw)
		d.fw = nil
	}
}

// startDeflate turns w's message to compression, beginning with the bytes
// held back: the compressor reads them from their buffer while its output
// gathers in a fresh one, so they are never overwritten.
func (w *messageWriter) startDeflate() error {
	held, n := w.wb, w.n
	if n > 0 {
		w.wb = writeBufs.Get().(*writeBuf)
	}
	w.n, w.rsv, w.mode = 0, bitRSV1, sendDeflated
	d := w.c.wr.deflate
	d.begin(frameSink{w})
	if n == 0 {
		return nil
	}
	err := d.write(held.b[maxHeader : maxHeader+n])
	writeBufs.Put(held)
	return err
}

// frameSink is where the compressor's output goes: into the frames of the
// message, gathered in its write buffer and sent each time it fills.
type frameSink struct{ w *messageWriter }

func (s frameSink) Write(p []byte) (int, error) {
	w := s.w
	written := 0
	for len(p) > 0 {
		n := copy(w.wb.b[maxHeader+w.n:], p)
		w.n += n
		written += n
		p = p[n:]
		if w.n == frameRoom {
			if err := s.send(); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

// send sends the gathered bytes as a frame, but for the final 4, which may
// turn out to be the sync marker that finish removes: they stay, to start
// the next frame.
func (s frameSink) send() error {
	w := s.w
	var held [len(syncMarker)]byte
	w.n -= len(held)
	copy(held[:], w.wb.b[maxHeader+w.n:])
	if err := w.flush(false); err != nil {
		return err
	}
	w.n = copy(w.wb.b[maxHeader:], held[:])
	return nil
}
