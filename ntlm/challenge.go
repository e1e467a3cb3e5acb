package ntlm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The layout of a CHALLENGE message (MS-NLMP §2.2.1.2): the fields that
// every version has, then the Reserved and TargetInfo fields of the 48-byte
// form.
const (
	minChallenge    = 32 // Signature, MessageType, TargetName, NegotiateFlags, ServerChallenge
	fullChallenge   = 48 // ... Reserved, TargetInfo
	targetNameField = 12
	flagsField      = 20
	targetInfoField = 40

	// maxChallenge bounds what is copied; a real challenge is a few hundred
	// bytes, and the 407's header bounds it long before this.
	maxChallenge = 64 << 10
)

// The negotiate flags that normalize clears (MS-NLMP §2.2.2.5).
const (
	flagLMKey   = 1 << 7
	flagESS     = 1 << 19 // NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY
	flagKeyExch = 1 << 30
)

// normalize returns a copy of a CHALLENGE message in the form that
// go-ntlmssp reads, where real servers differ from the specification in
// fields that NTLMv2 authentication does not use:
//
//   - TargetName is dropped: NTLMv2 answers from TargetInfo, and servers
//     send names the library cannot read (squid's ntlm_fake_auth points
//     this field far beyond its 49-byte message).
//   - A TargetInfo field that does not lie inside the message is dropped,
//     as is the one a message too short to hold it lacks (the 32-byte form
//     of old servers): the response is then computed without it, which is
//     what such a server can check. squid's fake helper writes its domain
//     name over this field.
//   - NEGOTIATE_KEY_EXCH is cleared: the NEGOTIATE message never asks for
//     it, and the key it would carry protects nothing on an HTTP proxy;
//     the library refuses it outright. NEGOTIATE_LM_KEY is cleared when
//     extended session security is set too, as the specification says that
//     wins; alone it marks a server that wants NTLMv1 keys, and the library
//     refuses it.
//
// The alternative, parsing the challenge here and computing the responses
// here, would leave the library nothing to do but the NEGOTIATE message;
// a copy of 48 bytes with three fields rewritten keeps the cryptography
// where it is maintained and tested.
func normalize(b []byte) ([]byte, error) {
	switch {
	case len(b) < minChallenge:
		return nil, fmt.Errorf("ntlm: the proxy's challenge has %d bytes, fewer than a CHALLENGE message's fixed fields", len(b))
	case len(b) > maxChallenge:
		return nil, fmt.Errorf("ntlm: the proxy's challenge has %d bytes", len(b))
	case string(b[:8]) != "NTLMSSP\x00" || binary.LittleEndian.Uint32(b[8:12]) != 2:
		return nil, errors.New("ntlm: the proxy's challenge is not an NTLM CHALLENGE message")
	}
	out := make([]byte, max(len(b), fullChallenge))
	copy(out, b)
	clear(out[targetNameField : targetNameField+8])
	if len(b) < fullChallenge || !inside(out[targetInfoField:targetInfoField+8], len(b)) {
		clear(out[targetInfoField : targetInfoField+8])
	}
	flags := binary.LittleEndian.Uint32(out[flagsField:])
	flags &^= flagKeyExch
	if flags&flagESS != 0 {
		flags &^= flagLMKey
	}
	binary.LittleEndian.PutUint32(out[flagsField:], flags)
	return out, nil
}

// inside reports whether the varField f (length, maximum length, offset)
// describes bytes that lie in the payload of a message of n bytes.
func inside(f []byte, n int) bool {
	length := int(binary.LittleEndian.Uint16(f[0:2]))
	offset := int64(binary.LittleEndian.Uint32(f[4:8]))
	return length > 0 && offset >= fullChallenge && offset+int64(length) <= int64(n)
}
