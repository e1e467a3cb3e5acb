package interop

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wsdial/wsdial"
)

// ioTimeout bounds the exchange of one case, so a peer that stalls fails the
// case instead of hanging the run.
const ioTimeout = 30 * time.Second

// bigMessage is 1 MiB of bytes that look random, the same on every run.
var bigMessage = func() []byte {
	b := make([]byte, 1<<20)
	r := rand.NewChaCha8([32]byte{'w', 's', 'd', 'i', 'a', 'l'})
	r.Read(b)
	return b
}()

// exchange sends a text, a binary and a 1 MiB message, expects each back
// unchanged and with its type, and closes the connection with the close
// handshake.
func exchange(t *testing.T, c *wsdial.Conn) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	if err := c.SetReadDeadline(deadline); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	if err := c.SetWriteDeadline(deadline); err != nil {
		t.Fatalf("SetWriteDeadline: %v", err)
	}
	messages := []struct {
		name string
		typ  wsdial.MessageType
		data []byte
	}{
		{"text", wsdial.TextMessage, []byte("hello from wsdial: ünïcödé ✓")},
		{"binary", wsdial.BinaryMessage, []byte{0x00, 0xff, 0x80, 0x7f, '\r', '\n', 0x00, 0x81}},
		{"1 MiB binary", wsdial.BinaryMessage, bigMessage},
	}
	for _, m := range messages {
		if err := c.WriteMessage(m.typ, m.data); err != nil {
			t.Fatalf("write %s message: %v", m.name, err)
		}
		typ, got, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read the echo of the %s message: %v", m.name, err)
		}
		if typ != m.typ {
			t.Errorf("the echo of the %s message has type %v, want %v", m.name, typ, m.typ)
		}
		if !bytes.Equal(got, m.data) {
			t.Errorf("the echo of the %s message differs: %d bytes, want %d (first difference at %d)",
				m.name, len(got), len(m.data), firstDifference(got, m.data))
		}
	}
	if err := c.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// firstDifference returns the index of the first byte where a and b differ.
func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
