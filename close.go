package wsdial

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
	"unicode/utf8"
)

// StatusCode is the status code of a close frame (RFC 6455 §7.4).
type StatusCode int

// The status codes of RFC 6455 §7.4.1. StatusNoStatusReceived and
// StatusAbnormalClosure never travel in a close frame: they describe a close
// frame without a code and a stream that ended without a close frame.
const (
	// StatusNormalClosure means the purpose of the connection was fulfilled.
	StatusNormalClosure StatusCode = 1000
	// StatusGoingAway means an endpoint is going away, such as a server
	// shutting down.
	StatusGoingAway StatusCode = 1001
	// StatusProtocolError means an endpoint broke the protocol.
	StatusProtocolError StatusCode = 1002
	// StatusUnsupportedData means an endpoint received a type of data it
	// cannot accept.
	StatusUnsupportedData StatusCode = 1003
	// StatusNoStatusReceived stands for a close frame that carried no code.
	StatusNoStatusReceived StatusCode = 1005
	// StatusAbnormalClosure stands for a stream that ended without a close frame.
	StatusAbnormalClosure StatusCode = 1006
	// StatusInvalidFramePayloadData means a message's data did not match its
	// type, such as text that is not UTF-8.
	StatusInvalidFramePayloadData StatusCode = 1007
	// StatusPolicyViolation means a message broke the endpoint's policy.
	StatusPolicyViolation StatusCode = 1008
	// StatusMessageTooBig means a message was too big to process.
	StatusMessageTooBig StatusCode = 1009
	// StatusMandatoryExtension means the client expected the server to
	// negotiate an extension that it did not.
	StatusMandatoryExtension StatusCode = 1010
	// StatusInternalError means the server met a condition that kept it from
	// fulfilling the request.
	StatusInternalError StatusCode = 1011
)

var statusNames = map[StatusCode]string{
	StatusNormalClosure:           "normal closure",
	StatusGoingAway:               "going away",
	StatusProtocolError:           "protocol error",
	StatusUnsupportedData:         "unsupported data",
	StatusNoStatusReceived:        "no status received",
	StatusAbnormalClosure:         "abnormal closure",
	StatusInvalidFramePayloadData: "invalid frame payload data",
	StatusPolicyViolation:         "policy violation",
	StatusMessageTooBig:           "message too big",
	StatusMandatoryExtension:      "mandatory extension",
	StatusInternalError:           "internal error",
}

// String returns the code with its RFC 6455 name, such as "1000 (normal closure)".
func (s StatusCode) String() string {
	if name, ok := statusNames[s]; ok {
		return fmt.Sprintf("%d (%s)", int(s), name)
	}
	return fmt.Sprintf("%d", int(s))
}

// onWire reports whether s may travel in a close frame: a code of RFC 6455
// §7.4.1 meant for the wire, one registered with IANA since (1012 to 1014),
// or one of the ranges for libraries and applications.
func (s StatusCode) onWire() bool {
	switch {
	case 1000 <= s && s <= 1003, 1007 <= s && s <= 1014:
		return true
	case 3000 <= s && s <= 4999:
		return true
	}
	return false
}

// CloseError is the close the peer sent, which ends every later read. A
// stream that ended without a close frame is reported as one too, with
// StatusAbnormalClosure.
type CloseError struct {
	// Code is the peer's status code, or StatusNoStatusReceived when its
	// close frame had none.
	Code StatusCode
	// Text is the peer's reason, which may be empty.
	Text string
}

// Error returns the peer's code and reason.
func (e *CloseError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("wsdial: connection closed: %v", e.Code)
	}
	return fmt.Sprintf("wsdial: connection closed: %v: %s", e.Code, e.Text)
}

// ProtocolError reports that the peer broke RFC 6455, and that the
// connection was failed because of it: the close frame with Code was sent
// to the peer when the connection allowed it, and the stream was closed.
type ProtocolError struct {
	// Code is the status code sent to the peer: StatusProtocolError,
	// StatusInvalidFramePayloadData or StatusMessageTooBig.
	Code StatusCode
	// Text says what the peer did.
	Text string
}

// Error says what the peer did and which code the connection closed with.
func (e *ProtocolError) Error() string {
	return fmt.Sprintf("wsdial: peer broke the protocol, closed with %v: %s", e.Code, e.Text)
}

var (
	// errClosed is what calls on a closed connection return.
	errClosed = fmt.Errorf("wsdial: use of closed connection: %w", net.ErrClosed)
	// errCloseSent is what writes return once the close frame has gone out.
	errCloseSent = fmt.Errorf("wsdial: close frame already sent: %w", net.ErrClosed)
)

// closeTimeout bounds how long Close waits, first for a writer to finish and
// then for the peer's close frame, and how long a failing read waits to send
// its close frame.
const closeTimeout = time.Second

// maxCloseReason is the longest reason that fits a close frame beside its code.
const maxCloseReason = maxControl - 2

// parseClose parses the payload of a close frame. On error, code is the
// status the connection fails with.
func parseClose(p []byte) (ce *CloseError, code StatusCode, err error) {
	switch len(p) {
	case 0:
		return &CloseError{Code: StatusNoStatusReceived}, 0, nil
	case 1:
		return nil, StatusProtocolError, errors.New("close frame of 1 byte")
	}
	s := StatusCode(binary.BigEndian.Uint16(p))
	if !s.onWire() {
		return nil, StatusProtocolError, fmt.Errorf("close frame with invalid status %d", int(s))
	}
	if !utf8.Valid(p[2:]) {
		return nil, StatusInvalidFramePayloadData, errors.New("close reason is not valid UTF-8")
	}
	return &CloseError{Code: s, Text: string(p[2:])}, 0, nil
}

// Close runs the closing handshake with StatusNormalClosure: see
// CloseWithStatus.
func (c *Conn) Close() error { return c.CloseWithStatus(StatusNormalClosure, "") }

// CloseWithStatus runs the closing handshake of RFC 6455 §7: it sends a close
// frame with code and reason, waits for the peer's close frame, then closes
// the stream. The wait lasts at most one second, or until the write deadline
// if that comes sooner; when another goroutine is reading, that read receives
// the peer's close, otherwise CloseWithStatus reads it itself, discarding any
// messages still in flight. To receive those messages, use CloseWrite.
//
// code must be one that may travel in a close frame (not 1005, 1006 or 1015),
// and reason at most 123 bytes of UTF-8; otherwise nothing happens and an
// error is returned. On a connection already closed, by either side or by a
// failure, it returns an error that matches net.ErrClosed. It is safe to call
// from any goroutine, at any time.
func (c *Conn) CloseWithStatus(code StatusCode, reason string) error {
	switch {
	case !code.onWire():
		return fmt.Errorf("wsdial: close: status %d may not be sent", int(code))
	case len(reason) > maxCloseReason:
		return fmt.Errorf("wsdial: close: reason of %d bytes is longer than %d", len(reason), maxCloseReason)
	case !utf8.ValidString(reason):
		return errors.New("wsdial: close: reason is not valid UTF-8")
	case c.closed.Load():
		return errClosed
	}
	deadline := time.Now().Add(closeTimeout)
	if ns := c.writeDeadline.Load(); ns != 0 && ns < deadline.UnixNano() {
		deadline = time.Unix(0, ns)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	err := c.sendClose(code, reason, ctx.Done())
	if err == nil || errors.Is(err, errCloseSent) {
		// The close is out, from here or from a failing read: wait for the
		// peer's answer, reading it here when no one else is reading.
		err = nil
		select {
		case <-c.closeRecvChan():
		case c.readSem <- struct{}{}:
			c.awaitPeerClose(deadline)
			c.unlockRead()
		case <-ctx.Done():
		}
	}
	// Once the peer's close has come, the handshake is complete and nothing
	// is lost, whatever tearing the stream down says: a TLS tunnel through a
	// proxy that dropped it already answers close_notify with a reset.
	if cerr := c.closeStream(); cerr != nil && err == nil && !errors.Is(cerr, net.ErrClosed) && !c.peerCloseCame() {
		err = fmt.Errorf("wsdial: close: %w", cerr)
	}
	return err
}

// peerCloseCame reports whether the peer's close frame has arrived.
func (c *Conn) peerCloseCame() bool {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.peerClose != nil
}

// closeRecvChan returns the channel that closes when the peer's close frame
// comes. It is made only when someone waits, so that a connection costs one
// channel fewer until it closes.
func (c *Conn) closeRecvChan() <-chan struct{} {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	if c.closeRecv == nil {
		c.closeRecv = make(chan struct{})
		if c.peerClose != nil {
			close(c.closeRecv)
		}
	}
	return c.closeRecv
}

// CloseWrite starts the closing handshake and leaves the rest to the reader:
// it sends a close frame with StatusNormalClosure and sends nothing more,
// while reads go on as before. The messages the peer still sends arrive in
// order, then the peer's close arrives as a *CloseError, and the stream is
// closed. It is the half-close of RFC 6455 §7.1.2 for a client that keeps a
// reader running and wants every reply to what it sent: Close, which waits
// for the peer's close itself, drops the messages that no read was under way
// to take. Bound the wait with SetReadDeadline, since a peer may never
// answer; a second call returns an error that matches net.ErrClosed.
func (c *Conn) CloseWrite() error {
	if c.closed.Load() {
		return errClosed
	}
	return c.sendCloseWithin(StatusNormalClosure, "", closeTimeout)
}

// awaitPeerClose reads, discarding messages, until the peer's close frame
// comes or deadline passes. The caller holds readSem.
func (c *Conn) awaitPeerClose(deadline time.Time) {
	c.conn.SetReadDeadline(deadline)
	for c.readable() == nil {
		if _, err := c.nextMessage(); err != nil {
			break
		}
	}
	switch c.rd.err.(type) {
	case *CloseError, *ProtocolError:
	default:
		// A timeout here is Close's business; later reads should just
		// report the connection closed.
		c.rd.err = nil
	}
}

// peerClosed takes the peer's close frame: it answers with the same code, as
// RFC 6455 §5.5.1 asks, unless a close went out already, then closes the
// stream. Every later read returns ce.
func (c *Conn) peerClosed(ce *CloseError) error {
	c.stateMu.Lock()
	if c.peerClose == nil {
		c.peerClose = ce
		if c.closeRecv != nil {
			close(c.closeRecv)
		}
	}
	c.stateMu.Unlock()
	c.rd.err = ce
	c.sendCloseWithin(ce.Code, "", closeTimeout)
	// The server has said its last word, and heard ours; nothing is left
	// to wait for.
	c.closeStream()
	return ce
}

// sendCloseWithin sends a close frame, waiting at most d for a writer to
// finish first.
func (c *Conn) sendCloseWithin(code StatusCode, reason string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.sendClose(code, reason, ctx.Done())
}

// sendClose sends a close frame with code and reason, unless one went out
// already, waiting until done for any writer to finish. StatusNoStatusReceived
// sends a close frame without a code.
func (c *Conn) sendClose(code StatusCode, reason string, done <-chan struct{}) error {
	select {
	case c.writeSem <- struct{}{}:
	case <-done:
		return errors.New("wsdial: close: timed out waiting for a writer to finish")
	}
	defer c.unlockWrite()
	if c.wr.closeSent {
		return errCloseSent
	}
	c.wr.closeSent = true
	if c.wr.err != nil {
		return c.wr.err
	}
	if c.closed.Load() {
		return errClosed
	}
	var p [maxControl]byte
	n := 0
	if code != StatusNoStatusReceived {
		binary.BigEndian.PutUint16(p[:], uint16(code))
		n = 2 + copy(p[2:], reason)
	}
	// A peer that has stopped reading must not hold the close, nor a read
	// that fails the connection, past the close's own bound.
	c.capWriteDeadline(time.Now().Add(closeTimeout))
	defer c.restoreWriteDeadline()
	return c.writeFrame(opClose, true, p[:n])
}
