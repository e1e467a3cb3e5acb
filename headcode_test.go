package wsdial

import (
	"reflect"
	"strings"
	"testing"
)

// checkKept fails t unless raw, a head as it came, kept as keepHead keeps
// it, parses as parseHead parses raw, with the same Response or the same
// error, and when it parses, parses that way again with parseKept, as
// Response does.
func checkKept(t *testing.T, raw string) (kept string) {
	t.Helper()
	var f1, f2, f3 [16]headerField
	want, wantErr := parseHead(raw, f1[:])
	kept, got, err := keepHead([]byte(raw), f2[:])
	same := func(got responseHead, err error) bool {
		if err != nil || wantErr != nil {
			return err != nil && wantErr != nil && err.Error() == wantErr.Error()
		}
		return got.major == want.major && got.minor == want.minor && got.status == want.status &&
			got.reason == want.reason && reflect.DeepEqual(got.fields, want.fields) &&
			reflect.DeepEqual(got.response(nil), want.response(nil))
	}
	if !same(got, err) {
		t.Fatalf("%q kept as %q parses as %+v, %v; want %+v, %v", raw, kept, got, err, want, wantErr)
	}
	if wantErr != nil {
		return kept // a head that fails makes no Conn, and is never parsed again
	}
	if again, err := parseKept(kept, f3[:]); !same(again, err) {
		t.Fatalf("%q kept as %q parses again as %+v, %v; want %+v, %v", raw, kept, again, err, want, wantErr)
	}
	return kept
}

// TestKeptHead keeps 101 heads as servers send them, and as they might:
// each parses as it came, and the one nearly every server sends is kept in
// the 32 bytes an idle connection holds of it.
func TestKeptHead(t *testing.T) {
	const accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
	for _, c := range []struct {
		head    string
		maxKept int
	}{
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n", 32},
		// Lower case, bare LF line ends, spaces around values, another
		// reason: kept as they came.
		{"HTTP/1.1 101 Web Socket Protocol Handshake\nupgrade: websocket\nconnection:  upgrade \nsec-websocket-accept:" + accept + "\n\n", 0},
		{"HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\r\nConnection: Upgrade\nSec-WebSocket-Accept:  " + accept + "\r\n\r\n", 0},
		{"HTTP/1.1 101 Switching Protocols \r\nUpgrade: websocket \r\nSec-WebSocket-Accept: " + accept + " \r\n\r\n", 0},
		// An accept of another length or alphabet; a subprotocol; a field
		// twice; fields after packed ones; the packed lines in other places.
		{"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: short\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xO?=\r\n\r\n", 0},
		{"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: " + accept + "\r\nSec-WebSocket-Protocol: chat\r\nUpgrade: websocket\r\nUpgrade: websocket\r\nDate: Tue, 01 Dec 2026 12:00:00 GMT\r\n\r\n", 0},
		{"Upgrade: websocket\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n", 0},
		{"HTTP/1.1 101 Switching Protocols\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n", 0},
		{"HTTP/1.1 101 \r\nServer: x\r\n\r\n", 0},
		{"HTTP/1.1 101\r\n\r\n", 0},
		// The bytes that stand for packed lines, where they came in the
		// head itself: it fails as it would have.
		{"HTTP/1.1 101 Switching Protocols\r\n\x02\r\n\r\n", 0},
		{"HTTP/1.1 101 Switching Protocols\r\nX: \x04" + accept + "\r\n\r\n", 0},
		{"\x01\r\n\r\n", 0},
	} {
		kept := checkKept(t, c.head)
		if c.maxKept > 0 && len(kept) > c.maxKept {
			t.Errorf("%q is kept in %d bytes, want at most %d", c.head, len(kept), c.maxKept)
		}
	}
}

// TestKeptAsItCame checks that a head parseKept never saw packed, as a
// WebSocket over HTTP/2 keeps one, parses as itself.
func TestKeptAsItCame(t *testing.T) {
	head := "HTTP/2.0 200 OK\r\nSec-Websocket-Protocol: chat\r\nUpgrade: websocket\r\n\r\n"
	var f1, f2 [16]headerField
	a, err1 := parseHead(head, f1[:])
	b, err2 := parseKept(head, f2[:])
	if err1 != nil || err2 != nil || !reflect.DeepEqual(a.response(nil), b.response(nil)) {
		t.Errorf("parseKept(%q) = %+v, %v; parseHead: %+v, %v", head, b, err2, a, err1)
	}
	if strings.ContainsRune(head, packedUpgrade) {
		t.Error("the head holds a packed byte")
	}
}
