package wsdial

import (
	"testing"
	"unicode/utf8"
)

// incremental feeds b to a utf8State in the pieces cut at the given points.
func incremental(b []byte, cuts ...int) bool {
	var s utf8State
	prev := 0
	for _, c := range append(cuts, len(b)) {
		if !s.write(b[prev:c]) {
			return false
		}
		prev = c
	}
	return s.complete()
}

// TestUTF8StateMatchesValid checks that the incremental validator agrees
// with utf8.Valid on every short sequence built from the bytes at the edges
// of the UTF-8 ranges, fed whole, byte by byte, and split at every point.
func TestUTF8StateMatchesValid(t *testing.T) {
	edges := []byte{0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
		0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF}
	var seqs [][]byte
	for _, a := range edges {
		seqs = append(seqs, []byte{a})
		for _, b := range edges {
			seqs = append(seqs, []byte{a, b})
			for _, c := range edges {
				seqs = append(seqs, []byte{a, b, c})
				for _, d := range edges {
					seqs = append(seqs, []byte{a, b, c, d}, []byte{'x', a, b, c, d, 'y'})
				}
			}
		}
	}
	for _, s := range seqs {
		want := utf8.Valid(s)
		if got := incremental(s); got != want {
			t.Fatalf("% x whole: %v, want %v", s, got, want)
		}
		bytewise := make([]int, 0, len(s))
		for i := 1; i < len(s); i++ {
			bytewise = append(bytewise, i)
			if got := incremental(s, i); got != want {
				t.Fatalf("% x split at %d: %v, want %v", s, i, got, want)
			}
		}
		if got := incremental(s, bytewise...); got != want {
			t.Fatalf("% x byte by byte: %v, want %v", s, got, want)
		}
	}
}

// TestUTF8StateFailsFast checks that a piece that no continuation could make
// valid is refused at once, before the message ends.
func TestUTF8StateFailsFast(t *testing.T) {
	for _, p := range []string{"\xE0\x80", "\xED\xA0", "\xF4\x90", "\xF0\x80", "\xC0", "\xC2\x41"} {
		var s utf8State
		if s.write([]byte(p[:1])) && s.write([]byte(p[1:])) {
			t.Errorf("%q accepted as a prefix of valid UTF-8", p)
		}
	}
	for _, p := range []string{"\xE0\xA0", "\xED\x9F", "\xF4\x8F\xBF", "\xF0\x90"} {
		var s utf8State
		if !s.write([]byte(p)) || s.complete() {
			t.Errorf("%q: want a valid, unfinished prefix", p)
		}
	}
}
