package wsdial

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// controlTimeout bounds what the connection writes on its own behalf, the
// pongs, the answer to the peer's close and the close frames of Close and of
// a failing read: how long each waits for the frame lock, and the deadline
// it goes out under. It also bounds how long Close waits for the peer's
// close.
const controlTimeout = time.Second

// ownBound is the bound of a control frame the connection writes now on its
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
// frame lock as long as that takes and goes out under the application's
// write deadline. Otherwise the connection sends it on its own behalf: it
// waits for the lock no later than by, and goes out under by as its deadline,
// whatever the application's. A frame that fails with nothing of it sent
// leaves the message layer as it was, and later writes unharmed, unless the
// stream fails every write after a timeout, as a *tls.Conn does.
func (c *Conn) writeControl(op byte, payload []byte, by time.Time) error {
	var f [maxHeader + maxControl]byte
	var key [4]byte
	rand.Read(key[:]) // crypto/rand never fails: it cannot return an error
	n := putClientHeader(f[:], true, op, len(payload), key)
	maskCopy(f[n:], payload, key, 0)
	n += len(payload)
	if by.IsZero() {
		c.frameSem.lock()
	} else if !c.frameSem.lockBy(by) {
		return errFramesBusy
	}
	defer c.frameSem.unlock()
	if err := c.writeErr(); err != nil {
		return err
	}
	if op == opClose {
		c.wr.closeSent = true
	}
	if !by.IsZero() {
		c.useOwnDeadline(by)
		defer c.restoreDeadline()
	}
	if m, err := c.s.Write(f[:n]); err != nil {
		return c.writeFailed(err, m == 0)
	}
	return nil
}

// useOwnDeadline puts d on the stream as the write deadline of a control
// frame, in place of the application's. The caller holds frameSem.
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
	if c.writeDeadline != 0 {
		d = time.Unix(0, c.writeDeadline)
	}
	c.s.SetWriteDeadline(d)
	c.deadlineMu.Unlock()
}
