package wsdialtest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// The server's side of RFC 6455 framing (§5.2): it reads masked frames from
// a client and writes unmasked ones.

const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// The close codes the server sends (RFC 6455 §7.4.1).
const (
	closeNormal          = 1000
	closeProtocolError   = 1002
	closeInvalidPayload  = 1007
	closeMessageTooBig   = 1009
	maxControlPayload    = 125
	maxMessage           = 32 << 20 // wsdial's default read limit
	maxFrameHeaderLength = 14
)

// frame is one frame from the client, unmasked.
type frame struct {
	fin     bool
	op      byte
	payload []byte
}

// violation is a client's breach of the protocol, answered with a close
// frame of code before the connection ends.
type violation struct {
	code uint16
	text string
}

func (v *violation) Error() string { return fmt.Sprintf("close %d: %s", v.code, v.text) }

func violated(code uint16, format string, args ...any) *violation {
	return &violation{code: code, text: fmt.Sprintf(format, args...)}
}

// readFrame reads one frame, refusing with a *violation what RFC 6455 does
// not allow from a client: an unmasked frame, reserved bits (no extension is
// ever negotiated), an unknown opcode, a fragmented or oversized control
// frame, or a payload longer than room, the bytes the message may still take.
// Any other error is the stream's.
func readFrame(r *bufio.Reader, room int) (frame, error) {
	var f frame
	var h [maxFrameHeaderLength]byte
	if _, err := io.ReadFull(r, h[:2]); err != nil {
		return f, err
	}
	f.fin, f.op = h[0]&0x80 != 0, h[0]&0x0F
	switch {
	case h[0]&0x70 != 0:
		return f, violated(closeProtocolError, "reserved bits set with no extension negotiated")
	case f.op > opBinary && f.op < opClose || f.op > opPong:
		return f, violated(closeProtocolError, "unknown opcode %#x", f.op)
	case h[1]&0x80 == 0:
		return f, violated(closeProtocolError, "unmasked frame from a client")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		if _, err := io.ReadFull(r, h[:2]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if _, err := io.ReadFull(r, h[:8]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(h[:8])
		if n>>63 != 0 {
			return f, violated(closeProtocolError, "frame length with the top bit set")
		}
	}
	if f.op >= opClose {
		if !f.fin {
			return f, violated(closeProtocolError, "fragmented control frame")
		}
		if n > maxControlPayload {
			return f, violated(closeProtocolError, "control frame of %d bytes", n)
		}
	} else if n > uint64(room) {
		return f, violated(closeMessageTooBig, "message longer than %d bytes", maxMessage)
	}
	var key [4]byte
	if _, err := io.ReadFull(r, key[:]); err != nil {
		return f, err
	}
	// The payload grows as it arrives, so that a length the client only
	// claims costs no memory.
	var buf bytes.Buffer
	buf.Grow(int(min(n, 64<<10)))
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return f, err
	}
	f.payload = buf.Bytes()
	unmask(f.payload, key)
	return f, nil
}

// unmask XORs p with the masking key (RFC 6455 §5.3), eight bytes at a time
// where it can: a test under the race detector echoes megabytes.
func unmask(p []byte, key [4]byte) {
	k := binary.LittleEndian.Uint32(key[:])
	k8 := uint64(k)<<32 | uint64(k)
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k8)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i%4]
	}
}

// writeFrame writes one unmasked frame.
func writeFrame(w io.Writer, fin bool, op byte, payload []byte) error {
	b := make([]byte, 0, maxFrameHeaderLength+len(payload))
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b = append(b, b0)
	switch n := len(payload); {
	case n <= 125:
		b = append(b, byte(n))
	case n <= 0xFFFF:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	_, err := w.Write(append(b, payload...))
	return err
}

// closePayload is the payload of a close frame with code and reason.
func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}
