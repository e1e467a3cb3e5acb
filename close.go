package wsdial

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
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

// closedError is what calls on a closed connection return: it matches
// net.ErrClosed, and keeps reachable with errors.As what ended reads before
// the application closed, the peer's close or its breach of the protocol.
type closedError struct {
	msg   string
	cause error // a *CloseError, a *ProtocolError or nil
}

var (
	// errClosed is what calls on a closed connection return.
	errClosed error = &closedError{msg: "wsdial: use of closed connection"}
	// errCloseSent is what writes return once the close frame has gone out.
	errCloseSent error = &closedError{msg: "wsdial: close frame already sent"}
)

// closedAfter is what reads return once the application has closed the
// connection, cause having ended them before.
func closedAfter(cause error) error {
	switch cause.(type) {
	case *CloseError, *ProtocolError:
		return &closedError{msg: "wsdial: use of closed connection", cause: cause}
	}
	return errClosed
}

func (e *closedError) Error() string {
	switch c := e.cause.(type) {
	case nil:
		return e.msg
	case *CloseError:
		s := e.msg + "; the peer closed with " + c.Code.String()
		if c.Text != "" {
			s += ": " + c.Text
		}
		return s
	}
	return e.msg + "; " + strings.TrimPrefix(e.cause.Error(), "wsdial: ")
}

func (e *closedError) Unwrap() []error {
	if e.cause == nil {
		return []error{net.ErrClosed}
	}
	return []error{net.ErrClosed, e.cause}
}

// ioError describes err, a failure of the stream under op ("read" or
// "write"), naming op once: the errors of package net name it already.
func ioError(op string, err error) error {
	if strings.HasPrefix(err.Error(), op+" ") {
		return fmt.Errorf("wsdial: %w", err)
	}
	return fmt.Errorf("wsdial: %s: %w", op, err)
}

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
// the stream. It takes at most a second, whatever the deadlines say: it
// waits that long for a message being written to end, then sends its frame
// under a deadline of its own and waits what is left of the second for the
// peer's answer. Only a message still being written after that second, from
// a NextWriter's writer left open or a write the peer does not read, makes
// it take longer: the message is cut short, the close frame goes out between
// its frames, with a second more for the frame and the answer, and the error
// says that the message was cut. When another goroutine is reading, that
// read receives the peer's close; otherwise CloseWithStatus reads it itself,
// discarding any messages still in flight. To receive those messages, use
// CloseWrite.
//
// code must be one that may travel in a close frame (not 1005, 1006 or 1015),
// and reason at most 123 bytes of UTF-8; otherwise nothing happens and an
// error is returned. From the call on, reads and writes return errors that
// match net.ErrClosed; reads keep the peer's close reachable with errors.As.
// On a connection already closed, by either side or by a failure, it returns
// an error that matches net.ErrClosed. It is safe to call from any
// goroutine, at any time.
func (c *Conn) CloseWithStatus(code StatusCode, reason string) error {
	switch {
	case !code.onWire():
		return fmt.Errorf("wsdial: close: status %d may not be sent", int(code))
	case len(reason) > maxCloseReason:
		return fmt.Errorf("wsdial: close: reason of %d bytes is longer than %d", len(reason), maxCloseReason)
	case !utf8.ValidString(reason):
		return errors.New("wsdial: close: reason is not valid UTF-8")
	case c.unopened():
		return errUnopened
	case c.appClosed.Swap(true) || c.closed.Load():
		return errClosed
	}
	by, cut, err := c.sendClose(code, reason)
	answered := false
	if err == nil || errors.Is(err, errCloseSent) {
		// The close is out, from here or from a read that failed or
		// answered the peer: wait for the peer's.
		err = nil
		answered = c.awaitPeerClose(by)
	}
	// Once the peer's close has come, the handshake is complete and nothing
	// is lost, whatever tearing the stream down says: a TLS tunnel through a
	// proxy that dropped it already answers close_notify with a reset.
	if cerr := c.endStream(err); cerr != nil && err == nil && !answered && !errors.Is(cerr, net.ErrClosed) {
		err = fmt.Errorf("wsdial: close: %w", cerr)
	}
	if cut && err == nil {
		err = errMessageCut
	}
	return err
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
	switch {
	case c.unopened():
		return errUnopened
	case c.closed.Load():
		return errClosed
	}
	_, cut, err := c.sendClose(StatusNormalClosure, "")
	if cut && err == nil {
		err = errMessageCut
	}
	return err
}

// errMessageCut is what Close and CloseWrite return when they had to cut a
// message short, having sent their close frame.
var errMessageCut = errors.New("wsdial: close: a message writer was still open after a second; its message was cut short")

// sendClose sends the application's close frame: it waits a second for a
// message being written to end, so as not to cut it short, then sends the
// frame under the bound of that second, which it returns. Should the
// message go on, the frame goes out between its frames, as RFC 6455 §5.4
// lets control frames do, and its later frames are refused: the closing
// handshake happens whatever the application left open (§7.1.2). The frame,
// and the wait for the answer, then get a second of their own, and cut says
// that the message was cut short.
func (c *Conn) sendClose(code StatusCode, reason string) (by time.Time, cut bool, err error) {
	by = ownBound()
	if c.msgSem.lockBy(by) {
		defer c.msgSem.unlock()
	} else {
		cut, by = true, ownBound()
	}
	return by, cut, c.writeClose(code, reason, by)
}

// awaitPeerClose waits no later than by for the peer's close frame, and
// reports whether it came. A goroutine that is reading receives it and lets
// go of the reads; otherwise this reads, discarding messages, under by as
// the read deadline. Reads that ended before, perhaps inside a frame, are
// never taken up again.
func (c *Conn) awaitPeerClose(by time.Time) bool {
	if !c.readSem.lockBy(by) {
		return false
	}
	defer c.unlockRead()
	r := &c.rd
	if !c.readFailed() {
		c.deadlineMu.Lock()
		c.closeReading = true
		c.s.SetReadDeadline(by)
		c.deadlineMu.Unlock()
		for !c.readFailed() {
			if _, err := c.beginMessage(); err != nil {
				break
			}
		}
	}
	ce, ok := r.err.(*CloseError)
	return ok && ce.Code != StatusAbnormalClosure
}

// peerClosed takes the peer's close frame: it answers with the same code, as
// RFC 6455 §5.5.1 asks, unless a close went out already, then closes the
// stream, since the peer has said its last word and heard ours. Every later
// read returns ce.
func (c *Conn) peerClosed(ce *CloseError) error {
	c.rd.err = ce
	c.endStream(c.writeClose(ce.Code, "", ownBound()))
	return ce
}
