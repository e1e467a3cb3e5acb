package wsdial

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// controlTimeout bounds the close frames the connection writes on its own
// behalf, the answer to the peer's close and the close frames of Close and of
// a failing read: how long each waits for the frame lock, and the deadline it
// goes out under. It also bounds how long Close waits for the peer's close. A
// write that times out may end the stream for good (a *tls.Conn fails every
// write after one, and a frame cut short garbles the rest), which only frames
// after which the connection ends can afford; pongs go out without a
// deadline (sendPongs), and keepalive pings under the keepalive's timeout.
const controlTimeout = time.Second

// ownBound is the bound of a close frame the connection writes now on its
// own behalf.
func ownBound() time.Time { return time.Now().Add(controlTimeout) }

// errFramesBusy is what a control frame of the connection's own returns when
// the frame lock did not come free within its bound.
var errFramesBusy = errors.New("wsdial: timed out waiting for a frame being written")

// Ping sends a ping with payload, at most 125 bytes. The peer's pong goes to
// the handler set with SetPongHandler, once a read receives it. A ping is the
// application's own write: it goes out under the write deadline, between the
// frames of any message being written.
func (c *Conn) Ping(payload []byte) error {
	switch {
	case len(payload) > maxControl:
		return fmt.Errorf("wsdial: ping: payload of %d bytes is longer than %d", len(payload), maxControl)
	case c.unopened():
		return errUnopened
	}
	return c.writeControl(opPing, payload, time.Time{})
}

// writeClose sends a close frame with code and reason, unless one went out
// already, by the bound of writeControl. StatusNoStatusReceived sends a
// close frame without a code.
func (c *Conn) writeClose(code StatusCode, reason string, by time.Time) error {
	var p [maxControl]byte
	n := 0
	if code != StatusNoStatusReceived {
		binary.BigEndian.PutUint16(p[:], uint16(code))
		n = 2 + copy(p[2:], reason)
	}
	return c.writeControl(opClose, p[:n], by)
}

// writeControl sends a control frame at once, between the frames of any
// message being written; payload may be the read buffer, which it copies
// first. With a zero by the frame is the application's: it waits for the
// frame lock no later than the application's write deadline and goes out
// under it. Otherwise the connection sends it on its own behalf: it
// waits for the lock no later than by, and goes out under by as its deadline,
// whatever the application's. A frame that fails with nothing of it sent
// leaves the message layer as it was, and later writes unharmed, unless the
// stream fails every write after a timeout, as a *tls.Conn does.
func (c *Conn) writeControl(op byte, payload []byte, by time.Time) error {
	_, err := c.sendControl(op, payload, by)
	return err
}

// sendControl is writeControl, and reports too whether writes had not ended
// before the frame: whether it went out, or waited for the lock, or failed
// with nothing of it sent, rather than finding writes over.
func (c *Conn) sendControl(op byte, payload []byte, by time.Time) (tried bool, err error) {
	var f [maxHeader + maxControl]byte
	n := putControl(f[:], op, payload)
	if by.IsZero() {
		if err := c.lockByDeadline(&c.frameSem); err != nil {
			return true, err
		}
	} else if !c.frameSem.lockBy(by) {
		return true, errFramesBusy
	}
	defer c.frameSem.unlock()
	if err := c.writeErr(); err != nil {
		return false, err
	}
	out := f[:n]
	if op == opClose {
		c.wr.closeSent = true
		// The pings that waiting pongs answer came before the close that
		// ends writes, so their pongs go first (RFC 6455 §5.5.2).
		if b := c.takePongs(false); b != nil {
			defer c.releasePongs(b)
			out = append(b.b[:b.n], out...)
		}
	}
	if !by.IsZero() {
		c.useOwnDeadline(by)
		defer c.restoreDeadline()
	}
	if m, err := c.s.Write(out); err != nil {
		err = c.writeFailed(err, m == 0)
		return m == 0 && !c.closed.Load(), err
	}
	return true, nil
}

// putControl puts in f a control frame with payload, masked, and returns its
// length. f has room for the longest.
func putControl(f []byte, op byte, payload []byte) int {
	var key [4]byte
	rand.Read(key[:]) // crypto/rand never fails: it cannot return an error
	n := putClientHeader(f, true, op, len(payload), key)
	maskCopy(f[n:], payload, key, 0)
	return n + len(payload)
}

// pongBatch holds pongs, built, end to end, waiting for sendPongs to write
// them in one go, with room behind them for a close frame (sendControl).
type pongBatch struct {
	b      [pongBatchLen*(2+4+maxControl) + maxHeader + maxControl]byte
	n      int           // bytes of b that hold pongs
	last   int           // where the last pong begins
	count  int           // pongs in b
	waited bool          // a read waited for it full, in vain: the newest pong replaces the last
	taken  chan struct{} // has room for one: a read that waits for the full batch hears that it went
	// Guarded by Conn.deadlineMu: a batch that a read waits on goes back
	// to the pool only once the read is done with it, so that its taken
	// signal never reaches a read of another batch, or of another Conn.
	watched bool // a read waits on taken
	done    bool // written or dropped while watched: the read puts it back
}

// pongBatchLen is how many pongs may wait in a batch. A peer that sends
// pings faster than it takes their pongs finds, once a batch is full, that
// the read waits for it to go out, as a write would, rather than the
// connection holding more; for a second at most, so that a read keeps to
// its deadline. After that the pong of the newest ping stands in the
// batch for the last, as RFC 6455 §5.5.3 allows.
const pongBatchLen = 16

var pongBatches = sync.Pool{New: func() any { return &pongBatch{taken: make(chan struct{}, 1)} }}

// queuePong answers a ping with payload, which may be the read buffer. The
// pong goes out from a goroutine of its own, so that the read goes on
// meanwhile, and without a write deadline: a peer that stops reading for a
// while gets it once it reads again. A deadline that passed with the pong
// under way would end the connection's writes, over TLS or when a part of it
// went out, for the sake of a frame the application never asked for. One
// goroutine at a time writes the batches, in order, and ends when none
// waits; Close ends it, since it closes the stream.
func (c *Conn) queuePong(payload []byte) {
	var bound *time.Timer
	defer func() {
		if bound != nil {
			bound.Stop()
		}
	}()
	for {
		c.deadlineMu.Lock()
		b := c.pongs
		if b == nil {
			b = pongBatches.Get().(*pongBatch)
			b.n, b.count, b.waited, b.watched, b.done = 0, 0, false, false, false
			select {
			case <-b.taken: // a signal from its last use, which nobody heard
			default:
			}
			c.pongs = b
		}
		if b.count < pongBatchLen || b.waited {
			if b.count == pongBatchLen {
				b.n = b.last
			} else {
				b.count++
			}
			b.last = b.n
			b.n += putControl(b.b[b.n:], opPong, payload)
			start := !c.pongWriting
			c.pongWriting = true
			c.deadlineMu.Unlock()
			if start {
				go c.sendPongs()
			}
			return
		}
		// The read never writes the batch itself, which could wait without
		// end: it waits for the writer to take it, a second at most.
		b.watched = true
		c.deadlineMu.Unlock()
		if bound == nil {
			bound = time.NewTimer(controlTimeout)
		}
		timedOut := false
		select {
		case <-b.taken:
		case <-bound.C:
			timedOut = true
		}
		c.deadlineMu.Lock()
		b.watched = false
		switch {
		case b.done:
			pongBatches.Put(b)
		case timedOut && c.pongs == b:
			b.waited = true
		}
		c.deadlineMu.Unlock()
	}
}

// releasePongs puts b back in the pool once it is written or dropped,
// unless a read waits on it, which then does.
func (c *Conn) releasePongs(b *pongBatch) {
	c.deadlineMu.Lock()
	b.done = b.watched
	keep := b.watched
	c.deadlineMu.Unlock()
	if !keep {
		pongBatches.Put(b)
	}
}

// sendPongs writes the batches of pongs as they wait, until none does.
func (c *Conn) sendPongs() {
	for {
		c.frameSem.lock()
		b := c.takePongs(true)
		if b == nil {
			c.frameSem.unlock()
			return
		}
		if c.writeErr() == nil {
			c.useOwnDeadline(time.Time{})
			if m, err := c.s.Write(b.b[:b.n]); err != nil {
				c.writeFailed(err, m == 0)
			}
			c.restoreDeadline()
		}
		c.frameSem.unlock()
		c.releasePongs(b)
	}
}

// takePongs takes the batch of pongs that waits, if any, and tells a read
// that waits for it. With last, when none waits, the caller is sendPongs,
// which then ends. The caller holds frameSem.
func (c *Conn) takePongs(last bool) *pongBatch {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	b := c.pongs
	c.pongs = nil
	if b == nil {
		if last {
			c.pongWriting = false
		}
		return nil
	}
	select {
	case b.taken <- struct{}{}:
	default:
	}
	return b
}

// useOwnDeadline puts d, which may be zero, on the stream as the write
// deadline of a control frame, in place of the application's. The caller
// holds frameSem.
func (c *Conn) useOwnDeadline(d time.Time) {
	c.deadlineMu.Lock()
	c.ownDeadline = true
	c.s.SetWriteDeadline(d)
	c.deadlineMu.Unlock()
}

// restoreDeadline puts the application's write deadline back on the
// stream, the one it set last, once a control frame is out.
func (c *Conn) restoreDeadline() {
	c.deadlineMu.Lock()
	c.ownDeadline = false
	var d time.Time
	if wd := c.writeDeadline.Load(); wd != 0 {
		d = time.Unix(0, wd)
	}
	c.s.SetWriteDeadline(d)
	c.deadlineMu.Unlock()
}
