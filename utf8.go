package wsdial

import (
	"io"
	"unicode/utf8"
)

// utf8State validates UTF-8 that arrives in pieces: a text message may be
// split between frames, and between reads, anywhere, even inside a code point.
// The zero value is the state at the start of a message.
type utf8State struct {
	need   uint8 // continuation bytes still expected
	lo, hi uint8 // the range the next continuation byte must fall in
}

// write checks p, the next piece of the text, and reports whether it is still
// valid UTF-8 or a prefix of it. It fails as soon as a byte makes the text
// invalid, whatever follows, so a bad message is refused early.
func (s *utf8State) write(p []byte) bool {
	for s.need > 0 {
		if len(p) == 0 {
			return true
		}
		if !s.step(p[0]) {
			return false
		}
		p = p[1:]
	}
	// The bulk goes through utf8.Valid, which is fast on ASCII; only a code
	// point cut off at the end goes through the byte-wise state machine.
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		if !utf8.RuneStart(p[i]) {
			continue
		}
		if !utf8.FullRune(p[i:]) {
			cut = i
		}
		break
	}
	if !utf8.Valid(p[:cut]) {
		return false
	}
	for _, b := range p[cut:] {
		if !s.step(b) {
			return false
		}
	}
	return true
}

// complete reports whether the text ended on a code point boundary.
func (s *utf8State) complete() bool { return s.need == 0 }

// step feeds one byte, following the well-formed byte sequences of RFC 3629 §4.
func (s *utf8State) step(b byte) bool {
	if s.need > 0 {
		if b < s.lo || b > s.hi {
			return false
		}
		s.need--
		s.lo, s.hi = 0x80, 0xBF
		return true
	}
	s.lo, s.hi = 0x80, 0xBF
	switch {
	case b < 0x80:
	case 0xC2 <= b && b <= 0xDF:
		s.need = 1
	case b == 0xE0:
		s.need, s.lo = 2, 0xA0
	case b == 0xED:
		s.need, s.hi = 2, 0x9F // no surrogates
	case 0xE1 <= b && b <= 0xEF:
		s.need = 2
	case b == 0xF0:
		s.need, s.lo = 3, 0x90
	case 0xF1 <= b && b <= 0xF3:
		s.need = 3
	case b == 0xF4:
		s.need, s.hi = 3, 0x8F // nothing above U+10FFFF
	default:
		return false
	}
	return true
}

func (u *utf8Reader) Read(p []byte) (int, error) {
	c := (*Conn)(u)
	r := &c.rd
	var n int
	var err error
	if r.compressed {
		n, err = (*limitReader)(c).Read(p)
	} else {
		n, err = (*frameReader)(c).Read(p)
	}
	if err != nil && err != io.EOF {
		return 0, err
	}
	if !r.utf8.write(p[:n]) {
		return 0, c.fail(StatusInvalidFramePayloadData, "text message is not valid UTF-8")
	}
	if err == io.EOF && !r.utf8.complete() {
		return 0, c.fail(StatusInvalidFramePayloadData, "text message ends inside a UTF-8 sequence")
	}
	return n, err
}
