package wsdial

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// keyBatch is how many bytes of masking keys are drawn from crypto/rand at
// once: 64 keys, so the cost of the system call spreads over 64 frames.
const keyBatch = 256

// keySource hands out masking keys drawn from crypto/rand in batches. RFC
// 6455 §10.3 wants keys an attacker cannot predict, so each key is used for
// exactly one frame and never derived from another.
type keySource struct {
	buf [keyBatch]byte
	off int // next unused byte; keyBatch or 0 with an empty buf means refill
	ok  bool
}

func (k *keySource) next() ([4]byte, error) {
	if !k.ok || k.off == keyBatch {
		if _, err := rand.Read(k.buf[:]); err != nil {
			return [4]byte{}, fmt.Errorf("wsdial: drawing a masking key: %w", err)
		}
		k.off, k.ok = 0, true
	}
	var key [4]byte
	copy(key[:], k.buf[k.off:k.off+4])
	k.off += 4
	return key, nil
}

// maskCopy sets dst[i] = src[i] ^ key[(pos+i)%4] for every byte of src and
// returns the key position that follows. dst must be at least as long as src;
// dst and src may be the same slice. It works a 64-bit word at a time, since
// masking touches every byte the client sends.
func maskCopy(dst, src []byte, key [4]byte, pos int) int {
	n := len(src)
	dst = dst[:n]
	// Rotate the key so that byte 0 of each word lines up with key[pos].
	k32 := uint32(key[pos&3]) | uint32(key[(pos+1)&3])<<8 |
		uint32(key[(pos+2)&3])<<16 | uint32(key[(pos+3)&3])<<24
	k64 := uint64(k32) | uint64(k32)<<32
	i := 0
	for ; n-i >= 32; i += 32 {
		s, d := src[i:i+32:i+32], dst[i:i+32:i+32]
		binary.LittleEndian.PutUint64(d[0:], binary.LittleEndian.Uint64(s[0:])^k64)
		binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(s[8:])^k64)
		binary.LittleEndian.PutUint64(d[16:], binary.LittleEndian.Uint64(s[16:])^k64)
		binary.LittleEndian.PutUint64(d[24:], binary.LittleEndian.Uint64(s[24:])^k64)
	}
	for ; n-i >= 8; i += 8 {
		binary.LittleEndian.PutUint64(dst[i:], binary.LittleEndian.Uint64(src[i:])^k64)
	}
	for ; i < n; i++ {
		dst[i] = src[i] ^ key[(pos+i)&3]
	}
	return (pos + n) & 3
}
