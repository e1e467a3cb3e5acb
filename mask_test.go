package wsdial

import (
	"bytes"
	"testing"
)

func maskSlow(b []byte, key [4]byte, pos int) {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
}

// TestMaskCopy compares the word-at-a-time masking with the byte-wise
// definition of RFC 6455 §5.3, for every length around the word and block
// sizes, every key position and every misalignment, in place and not.
func TestMaskCopy(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0xAB, 0xCD}
	src := pattern(200)
	for n := 0; n <= 100; n++ {
		for pos := range 4 {
			for off := range 8 {
				want := bytes.Clone(src[off : off+n])
				maskSlow(want, key, pos)

				dst := make([]byte, n+3)
				if next := maskCopy(dst[3:], src[off:off+n], key, pos); next != (pos+n)%4 {
					t.Fatalf("n=%d pos=%d: next position %d, want %d", n, pos, next, (pos+n)%4)
				}
				if !bytes.Equal(dst[3:], want) {
					t.Fatalf("n=%d pos=%d off=%d: copy differs", n, pos, off)
				}
				inPlace := bytes.Clone(src[off : off+n])
				maskCopy(inPlace, inPlace, key, pos)
				if !bytes.Equal(inPlace, want) {
					t.Fatalf("n=%d pos=%d off=%d: in place differs", n, pos, off)
				}
			}
		}
	}
}

// TestMaskCopyResumes masks a buffer in uneven pieces, carrying the key
// position from one piece to the next, as writes of a long frame do.
func TestMaskCopyResumes(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	want := pattern(1000)
	maskSlow(want, key, 0)
	got := pattern(1000)
	pos := 0
	for i, cut := 0, 0; i < len(got); i, cut = i+cut, cut+7 {
		end := min(len(got), i+cut)
		pos = maskCopy(got[i:end], got[i:end], key, pos)
		cut = end - i
	}
	if !bytes.Equal(got, want) {
		t.Fatal("masking in pieces differs from masking whole")
	}
}

func TestKeySourceDistinct(t *testing.T) {
	var ks keySource
	seen := make(map[[4]byte]bool)
	for range 3 * keyBatch / 4 { // three batches, two refills
		k, err := ks.next()
		if err != nil {
			t.Fatal(err)
		}
		seen[k] = true
	}
	// 192 random 32-bit keys collide with odds of about 4 in a million.
	if len(seen) < 3*keyBatch/4-1 {
		t.Fatalf("only %d distinct keys of %d", len(seen), 3*keyBatch/4)
	}
}

// TestRFC6455MaskedExamples builds the masked frames of RFC 6455 §5.7 with
// the RFC's key: a text "Hello" and the pong that answers a ping "Hello".
func TestRFC6455MaskedExamples(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	for _, c := range []struct {
		op   byte
		want []byte
	}{
		{opText, []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}},
		{opPong, []byte{0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}},
	} {
		b := make([]byte, maxHeader+5)
		n := putClientHeader(b, true, c.op, 5, key)
		maskCopy(b[n:], []byte("Hello"), key, 0)
		if got := b[:n+5]; !bytes.Equal(got, c.want) {
			t.Errorf("opcode %#x: % x, want % x", c.op, got, c.want)
		}
	}
}
