package wsdial

import (
	"encoding/binary"
	"fmt"
)

// MessageType is the kind of a data message: text or binary.
type MessageType int

// The data message types of RFC 6455 §5.6, numbered as their opcodes.
const (
	// TextMessage is a message of UTF-8 text.
	TextMessage MessageType = 1
	// BinaryMessage is a message of arbitrary bytes.
	BinaryMessage MessageType = 2
)

// String returns "text" or "binary".
func (t MessageType) String() string {
	switch t {
	case TextMessage:
		return "text"
	case BinaryMessage:
		return "binary"
	}
	return fmt.Sprintf("MessageType(%d)", int(t))
}

// The opcodes of RFC 6455 §5.2.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// The bits of a frame header's first two bytes.
const (
	bitFin  = 0x80
	bitRSV1 = 0x40
	bitRSV2 = 0x20
	bitRSV3 = 0x10
	bitsRSV = bitRSV1 | bitRSV2 | bitRSV3
	bitMask = 0x80
)

const (
	// maxHeader is the longest frame header: 2 bytes, a 64-bit length and a
	// masking key.
	maxHeader = 2 + 8 + 4
	// maxControl is the largest control frame payload (RFC 6455 §5.5).
	maxControl = 125
)

func isControl(op byte) bool { return op&0x8 != 0 }

// frameHeader is a parsed frame header.
type frameHeader struct {
	fin    bool
	rsv    byte // the three reserved bits, in place
	op     byte
	masked bool
	length int64
}

// headerLen returns the length of the header that parseHeader needs, given
// its first two bytes.
func headerLen(b0, b1 byte) int {
	n := 2
	switch b1 & 0x7F {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&bitMask != 0 {
		n += 4
	}
	return n
}

// parseHeader parses a whole header, of headerLen(b[0], b[1]) bytes. It
// checks only what the bytes alone decide; what the connection's state
// decides is left to the reader.
func parseHeader(b []byte) (frameHeader, error) {
	h := frameHeader{
		fin:    b[0]&bitFin != 0,
		rsv:    b[0] & bitsRSV,
		op:     b[0] & 0x0F,
		masked: b[1]&bitMask != 0,
		length: int64(b[1] & 0x7F),
	}
	switch h.length {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		l := binary.BigEndian.Uint64(b[2:])
		if l>>63 != 0 {
			return h, fmt.Errorf("frame length %d has its most significant bit set", l)
		}
		h.length = int64(l)
	}
	return h, nil
}

// putClientHeader writes the header of a masked client frame to b, which has
// room for maxHeader bytes, and returns its length.
func putClientHeader(b []byte, fin bool, op byte, length int, key [4]byte) int {
	b0 := op
	if fin {
		b0 |= bitFin
	}
	b[0] = b0
	n := 2
	switch {
	case length <= 125:
		b[1] = bitMask | byte(length)
	case length <= 0xFFFF:
		b[1] = bitMask | 126
		binary.BigEndian.PutUint16(b[2:], uint16(length))
		n = 4
	default:
		b[1] = bitMask | 127
		binary.BigEndian.PutUint64(b[2:], uint64(length))
		n = 10
	}
	copy(b[n:], key[:])
	return n + 4
}

// clientHeaderLen is the length of the header putClientHeader writes for a
// payload of length bytes.
func clientHeaderLen(length int) int {
	switch {
	case length <= 125:
		return 6
	case length <= 0xFFFF:
		return 8
	}
	return 14
}
