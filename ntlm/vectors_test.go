package ntlm

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf16"

	//lint:ignore SA1019 NTOWFv2 is defined on MD4; the oracle must use it too.
	"golang.org/x/crypto/md4"
)

// The test inputs and results of MS-NLMP §4.2.4 (NTLMv2 Authentication),
// with the common values of §4.2.1.
const (
	specUser     = "User"
	specDomain   = "Domain"
	specPassword = "Password"
)

var (
	specServerChallenge = unhex("0123456789abcdef")
	specClientChallenge = unhex("aaaaaaaaaaaaaaaa")
	specTime            = make([]byte, 8) // Time = 0

	// §4.2.4.1.1 NTOWFv2() and LMOWFv2().
	specNTOWFv2 = unhex("0c868a403bfd7a93a3001ef22ef02e3f")
	// §4.2.4.1.2 Session Base Key.
	specSessionBaseKey = unhex("8de40ccadbc14a82f15cb0ad0de95ca3")
	// §4.2.4.2.1 LMv2 Response.
	specLMv2Response = unhex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
	// §4.2.4.2.2 NTLMv2 Response: NTProofStr.
	specNTProofStr = unhex("68cd0ab851e51c96aabc927bebef6a1c")
	// §4.2.4 AV pairs 1 and 2: MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL.
	specTargetInfo = unhex("02000c0044006f006d00610069006e00" + "01000c00530065007200760065007200" + "00000000")
	// §4.2.4.1.3 temp.
	specTemp = unhex("0101000000000000" + "0000000000000000" + "aaaaaaaaaaaaaaaa" + "00000000" +
		"02000c0044006f006d00610069006e00" + "01000c00530065007200760065007200" + "00000000" + "00000000")

	// §4.2.4.3 CHALLENGE_MESSAGE.
	specChallenge = unhex("4e544c4d53535000020000000c000c003800000033828ae2" +
		"0123456789abcdef0000000000000000" + "2400240044000000060070170000000f" +
		"53006500720076006500720002000c0044006f006d00610069006e00" +
		"01000c0053006500720076006500720000000000")
	// §4.2.4.4 AUTHENTICATE_MESSAGE (with the key exchange that §4.2.4's
	// flags ask for, which this package does not do).
	specAuthenticate = unhex("4e544c4d5353500003000000180018006c00000054005400" +
		"840000000c000c00480000000800080054000000100010005c000000" +
		"10001000d8000000358288e20501280a0000000f44006f006d006100" +
		"69006e00550073006500720043004f004d0050005500540045005200" +
		"86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa68cd0ab8" +
		"51e51c96aabc927bebef6a1c01010000000000000000000000000000" +
		"aaaaaaaaaaaaaaaa0000000002000c0044006f006d00610069006e00" +
		"01000c00530065007200760065007200000000000000000000000000" +
		"c5dad2544fc9799094ce1ce90bc9d03e")
)

func unhex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// The NTLMv2 computations of MS-NLMP §3.3.2, written here from the
// specification as the oracle that go-ntlmssp's messages are held to.

func utf16le(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

// ntowfv2 is NTOWFv2(Passwd, User, UserDom) = HMAC_MD5(MD4(UNICODE(Passwd)),
// UNICODE(ConcatenationOf(Uppercase(User), UserDom))).
func ntowfv2(pass, user, domain string) []byte {
	h := md4.New()
	h.Write(utf16le(pass))
	return hmacMD5(h.Sum(nil), utf16le(strings.ToUpper(user)+domain))
}

// temp is ConcatenationOf(Responserversion, HiResponserversion, Z(6), Time,
// ClientChallenge, Z(4), ServerName, Z(4)).
func temp(time, clientChallenge, targetInfo []byte) []byte {
	b := []byte{1, 1, 0, 0, 0, 0, 0, 0}
	b = append(b, time...)
	b = append(b, clientChallenge...)
	b = append(b, 0, 0, 0, 0)
	b = append(b, targetInfo...)
	return append(b, 0, 0, 0, 0)
}

// TestNTLMv2Vectors holds the oracle to §4.2.4, verbatim.
func TestNTLMv2Vectors(t *testing.T) {
	key := ntowfv2(specPassword, specUser, specDomain)
	tmp := temp(specTime, specClientChallenge, specTargetInfo)
	proof := hmacMD5(key, specServerChallenge, tmp)
	for _, c := range []struct {
		name      string
		got, want []byte
	}{
		{"4.2.4.1.1 NTOWFv2", key, specNTOWFv2},
		{"4.2.4.1.3 temp", tmp, specTemp},
		{"4.2.4.2.2 NTProofStr", proof, specNTProofStr},
		{"4.2.4.1.2 Session Base Key", hmacMD5(key, proof), specSessionBaseKey},
		{"4.2.4.2.1 LMv2 Response", append(hmacMD5(key, specServerChallenge, specClientChallenge), specClientChallenge...), specLMv2Response},
		// The NtChallengeResponse and LmChallengeResponse fields of
		// §4.2.4.4's AUTHENTICATE_MESSAGE.
		{"4.2.4.4 NtChallengeResponse", append(proof, tmp...), field(specAuthenticate, 20)},
		{"4.2.4.4 LmChallengeResponse", specLMv2Response, field(specAuthenticate, 12)},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s = %x, want %x", c.name, c.got, c.want)
		}
	}
}

// field returns the payload of the varField at offset off of an NTLM message.
func field(msg []byte, off int) []byte {
	n := int(msg[off]) | int(msg[off+1])<<8
	at := int(msg[off+4]) | int(msg[off+5])<<8 | int(msg[off+6])<<16 | int(msg[off+7])<<24
	if at+n > len(msg) {
		return nil
	}
	return msg[at : at+n]
}
