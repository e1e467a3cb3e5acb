package wsdial

import "bytes"

// A Conn keeps its 101 response head for Response, which parses it again
// when first called; most connections never call it, and the head, some
// 130 bytes from a typical server, was the largest part of an idle
// connection after the Conn itself. So a head is kept packed: each of the
// lines that nearly every server sends in the same words shrinks to one
// byte, and every other line stays as it came. No valid head holds these
// bytes, control bytes all, so a packed head is told from what came only by
// those who packed it: the head readResponse returns is packed, and parses
// with parseKept; one that holds them is kept as it came, and fails to
// parse with either.
const (
	packedStatus     = 0x01 // "HTTP/1.1 101 Switching Protocols"
	packedUpgrade    = 0x02 // "Upgrade: websocket"
	packedConnection = 0x03 // "Connection: Upgrade"
	packedAccept     = 0x04 // "Sec-WebSocket-Accept: ", then the 28 bytes of its value
	packedMax        = packedAccept
)

// packedLines are the lines that a byte stands for, with their line ends,
// but for the accept key's value, which follows its byte.
var packedLines = [...]string{
	packedStatus:     "HTTP/1.1 101 Switching Protocols\r\n",
	packedUpgrade:    "Upgrade: websocket\r\n",
	packedConnection: "Connection: Upgrade\r\n",
	packedAccept:     "Sec-WebSocket-Accept: ",
}

// acceptLen is the length of a Sec-WebSocket-Accept value: the base64 of
// 20 bytes.
const acceptLen = 28

// keepHead returns b, a head that readHead found, packed in place, as the
// string a response keeps, and its parse. The packed lines parse as they
// did, so the parse is the one parseHead would give b.
func keepHead(b []byte, fields []headerField) (string, responseHead, error) {
	if bytes.ContainsFunc(b, func(r rune) bool { return r > 0 && r <= packedMax }) {
		s := string(b) // invalid: the parse says why
		h, err := parseHead(s, fields)
		return s, h, err
	}
	s := string(packHead(b))
	h, err := parseKept(s, fields)
	return s, h, err
}

// packHead packs the lines of b in place and returns what they take. The
// first line is the status line, which may pack; the other lines are
// fields, up to the empty line that ends the head, which the end of the
// packed head stands for. A line packs only as the exact bytes above, CRLF
// and all, so that it could not parse another way.
func packHead(b []byte) []byte {
	w := 0
	for r := 0; r < len(b); {
		first := r == 0
		line := b[r:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1]
		}
		r += len(line)
		switch {
		case !first && (string(line) == "\r\n" || string(line) == "\n"):
			return b[:w]
		case first && string(line) == packedLines[packedStatus]:
			b[w] = packedStatus
		case first:
			w += copy(b[w:], line)
			continue
		case string(line) == packedLines[packedUpgrade]:
			b[w] = packedUpgrade
		case string(line) == packedLines[packedConnection]:
			b[w] = packedConnection
		case isAcceptLine(line):
			b[w] = packedAccept
			w += copy(b[w+1:], line[len(packedLines[packedAccept]):][:acceptLen])
		default:
			w += copy(b[w:], line)
			continue
		}
		w++
	}
	return b[:w]
}

// isAcceptLine reports whether line is a Sec-WebSocket-Accept field of
// acceptLen bytes of base64, with its CRLF, as packedAccept stands for it.
func isAcceptLine(line []byte) bool {
	prefix := packedLines[packedAccept]
	if len(line) != len(prefix)+acceptLen+2 || string(line[:len(prefix)]) != prefix || string(line[len(line)-2:]) != "\r\n" {
		return false
	}
	for _, c := range line[len(prefix) : len(line)-2] {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// unpackLine returns the status line (with status) or the field that the
// packed line at the start of s stands for, and the rest of s; ok is false
// when s does not start with one of that kind.
func unpackLine(s string, status bool) (line string, f headerField, rest string, ok bool) {
	if s == "" || (s[0] == packedStatus) != status {
		return "", f, s, false
	}
	switch s[0] {
	case packedStatus:
		line = packedLines[packedStatus][:len(packedLines[packedStatus])-2]
	case packedUpgrade:
		f = headerField{"Upgrade", "websocket"}
	case packedConnection:
		f = headerField{"Connection", "Upgrade"}
	case packedAccept:
		if len(s) < 1+acceptLen {
			return "", f, s, false
		}
		return "", headerField{"Sec-WebSocket-Accept", s[1 : 1+acceptLen]}, s[1+acceptLen:], true
	default:
		return "", f, s, false
	}
	return line, f, s[1:], true
}
