package wsdial

import (
	"fmt"
	"slices"
	"testing"
)

// autobahnCases names, for the crafted-frame cases of read_test.go that have
// one, the case of the Autobahn testsuite (crossbario/autobahn-testsuite,
// its fuzzingserver run against a client) that each stands for, and how it
// differs where it does. These tests are not a run of the testsuite: each
// plays the testsuite's frames from a server of its own and checks what the
// client reads and sends back. A case absent from the map has no
// counterpart there (the read limit, masked server frames, lengths at
// boundaries the testsuite does not try).
var autobahnCases = map[string]string{
	"text/0":     "1.1.1, 6.1.1",
	"text/125":   "1.1.2",
	"text/126":   "1.1.3",
	"text/127":   "1.1.4",
	"text/65535": "1.1.6",
	"text/65536": "1.1.7",

	"binary/0":     "1.2.1",
	"binary/125":   "1.2.2",
	"binary/126":   "1.2.3",
	"binary/127":   "1.2.4",
	"binary/65535": "1.2.6",
	"binary/65536": "1.2.7",

	"ping empty":            "2.1",
	"ping 125 binary bytes": "2.4",
	"ten pings":             "2.10",
	"unsolicited pong":      "2.8, with a text message after it",
	"ping then message":     "2.2, with a text message after it",
	"ping of 126 bytes":     "2.5",
	"fragmented ping":       "5.1, its first fragment",
	"close of 126 bytes":    "7.3.6, its header",

	// The testsuite's RSV is the three bits as one number, RSV1 the highest.
	"reserved bits 0xc1": "3.4 (RSV = 4 on a text frame), without the ping after it",
	"reserved bits 0xa2": "3.2 (RSV = 2) on a binary frame",
	"reserved bits 0x99": "3.6 on a ping, with RSV = 1",
	"reserved bits 0xf1": "3.3 on a text frame, with RSV = 7",
	"reserved bits 0x40": "3.4 (RSV = 4) on a continuation frame",

	"opcode 0x3": "4.1.1",
	"opcode 0x4": "4.1.2, with an empty payload",
	"opcode 0x5": "4.1.3",
	"opcode 0x6": "4.1.4, with an empty payload",
	"opcode 0x7": "4.1.5, with an empty payload",
	"opcode 0xb": "4.2.1",
	"opcode 0xc": "4.2.2, with an empty payload",
	"opcode 0xd": "4.2.3",
	"opcode 0xe": "4.2.4, with an empty payload",
	"opcode 0xf": "4.2.5, with an empty payload",

	"two fragments":                       "5.3",
	"empty fragments":                     "6.1.3, on a binary message",
	"ping and pong between fragments":     "5.6, 5.19",
	"large fragments around a ping":       "5.6, with fragments of 70000 bytes",
	"continuation without a start":        "5.9, without the text message after it",
	"new message inside a fragmented one": "5.18",
	"new binary message after a finished one and a stray continuation": "5.12, on a binary message",
	"close between fragments": "7.1.5",

	"utf8 whole":                                   "6.5.5",
	"utf8 code point split over frames":            "6.2.3, on one three-byte code point",
	"utf8 four-byte code point split 2+2":          "6.2.2, split inside a code point",
	"utf8 max code point":                          "6.9.4",
	`invalid utf8 "\xc0\xaf"`:                      "6.17.1",
	`invalid utf8 "\xed\xa0\x80"`:                  "6.20.1",
	`invalid utf8 "\xf4\x90\x80\x80"`:              "6.11.5",
	`invalid utf8 "\x80"`:                          "6.12.1",
	`invalid utf8 "\xff"`:                          "6.16.2",
	`invalid utf8 "a\xe2\x82"`:                     "6.14.7, a three-byte sequence after an ASCII byte",
	`invalid utf8 "\xf8\x88\x80\x80\x80"`:          "6.8.1",
	"invalid utf8 across fragments":                "6.3.2, in two fragments",
	"text ends inside a code point":                "6.14.7, across fragments",
	"invalid utf8 refused before the message ends": "6.4.2, with the message never ended",

	"close without payload":       "7.3.1",
	"close with reason":           "7.3.4",
	"close with 123-byte reason":  "7.3.5",
	"data after close is ignored": "7.1.4",
	"close of 1 byte":             "7.3.2",
	"close reason not utf8":       "7.5.1",
}

func init() {
	for i, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		autobahnCases[fmt.Sprintf("close code %d", code)] = fmt.Sprintf("7.7.%d", i+1)
	}
	for i, code := range []int{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999} {
		autobahnCases[fmt.Sprintf("invalid close code %d", code)] = fmt.Sprintf("7.9.%d", i+1)
	}
	autobahnCases["invalid close code 5000"] = "7.13.1"
	autobahnCases["invalid close code 65535"] = "7.13.2"
}

// TestAutobahnCaseNames keeps autobahnCases true to the tables it names: every
// name in it is a case of readCases, and every crafted-frame case of the
// hostile suite says which testsuite case it stands for, or that none does.
func TestAutobahnCaseNames(t *testing.T) {
	var names []string
	for _, c := range readCases() {
		names = append(names, c.name)
	}
	for name := range autobahnCases {
		if !slices.Contains(names, name) {
			t.Errorf("autobahnCases names %q, which readCases does not hold", name)
		}
	}
	for _, p := range hostileFrames {
		if p.autobahn == "" {
			t.Errorf("hostile frame case %q names no Autobahn case, nor says it has none", p.name)
		}
	}
}
