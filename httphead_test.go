package wsdial

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestReadHeadAcrossReads feeds a head one byte at a time, so that every
// line end straddles two reads, and checks what arrives behind it is kept.
func TestReadHeadAcrossReads(t *testing.T) {
	for _, sep := range []string{"\r\n", "\n"} {
		head := strings.ReplaceAll("HTTP/1.1 200 OK\r\nA: b\r\n\r\n", "\r\n", sep)
		r := iotest.OneByteReader(strings.NewReader(head + "rest"))
		buf, headLen, n, err := readHead(r, make([]byte, 8))
		if err != nil {
			t.Fatalf("%q: %v", sep, err)
		}
		if got := string(buf[:headLen]); got != head {
			t.Errorf("head %q, want %q", got, head)
		}
		if got := string(buf[headLen:n]); got != "" && !strings.HasPrefix("rest", got) {
			t.Errorf("behind the head: %q", got)
		}
	}
}

func TestReadHeadBounded(t *testing.T) {
	// An endless line, and an endless run of header lines: neither may make
	// the reader hold more than maxHeadBytes.
	for name, src := range map[string]io.Reader{
		"endless line":    io.MultiReader(strings.NewReader("HTTP/1.1 200 OK\r\nX: "), endless('x')),
		"endless headers": io.MultiReader(strings.NewReader("HTTP/1.1 200 OK\r\n"), repeatReader("X: y\r\n")),
	} {
		buf, _, _, err := readHead(src, make([]byte, 512))
		if !errors.Is(err, errHeadTooLarge) {
			t.Errorf("%s: error %v, want errHeadTooLarge", name, err)
		}
		if cap(buf) > maxHeadBytes {
			t.Errorf("%s: buffer grew to %d bytes", name, cap(buf))
		}
	}
}

type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

type repeatReader string

func (s repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], s)
	}
	return n, nil
}

func TestParseStatusLine(t *testing.T) {
	tests := []struct {
		line          string
		status, minor int
		reason        string
		ok            bool
	}{
		{"HTTP/1.1 101 Switching Protocols", 101, 1, "Switching Protocols", true},
		{"HTTP/1.1 407", 407, 1, "", true},
		{"HTTP/1.0 200 ", 200, 0, "", true},
		{"HTTP/1.1 200 Connection established", 200, 1, "Connection established", true},
		{"HTTP/1.1 2000 OK", 0, 0, "", false},
		{"HTTP/1.1 20 OK", 0, 0, "", false},
		{"HTTP/1.1 099 Low", 0, 0, "", false},
		{"HTTP/1.1 +10 Sign", 0, 0, "", false},
		{"HTTP/11 101 X", 0, 0, "", false},
		{"http/1.1 101 X", 0, 0, "", false},
		{"HTTP/1.1 101 A\x00B", 0, 0, "", false},
		{"", 0, 0, "", false},
	}
	for _, tt := range tests {
		var h responseHead
		err := h.parseStatusLine(tt.line)
		if (err == nil) != tt.ok {
			t.Errorf("parseStatusLine(%q) error %v, want ok=%v", tt.line, err, tt.ok)
			continue
		}
		if tt.ok && (h.status != tt.status || h.minor != tt.minor || h.reason != tt.reason) {
			t.Errorf("parseStatusLine(%q) = %d %d %q", tt.line, h.status, h.minor, h.reason)
		}
	}
}

// FuzzResponseHead drives the head reader, parser and handshake validator
// with arbitrary bytes, read in pieces of arbitrary size. None may panic or
// hold more than maxHeadBytes.
func FuzzResponseHead(f *testing.F) {
	key := []byte("dGhlIHNhbXBsZSBub25jZQ==")
	for _, s := range []string{
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		"HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n\x81\x02hi",
		"HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n",
		"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 403\n\n",
		"HTTP/1.1 101 OK\r\nX: a\r\n b\r\n\r\n",
		"HTTP/1.1 101 OK\r\nX : a\r\n\r\n",
		"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 101 OK\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=\"10\"; client_no_context_takeover, x\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		r := iotest.HalfReader(&chunkReader{data: data, size: int(chunk%64) + 1})
		buf, headLen, n, err := readHead(r, make([]byte, 64))
		if cap(buf) > maxHeadBytes {
			t.Fatalf("buffer grew to %d bytes", cap(buf))
		}
		if err != nil {
			return
		}
		if headLen > n || n > len(data) || !bytes.Equal(buf[:n], data[:n]) {
			t.Fatalf("headLen %d, n %d of %d bytes", headLen, n, len(data))
		}
		var fields [16]headerField
		h, err := parseHead(string(buf[:headLen]), fields[:])
		if err != nil {
			return
		}
		if h.status < 100 || h.status > 999 || len(h.fields) > maxHeaderFields {
			t.Fatalf("parsed status %d with %d fields", h.status, len(h.fields))
		}
		resp := h.response(nil)
		if h.status != 101 {
			readBody(resp, buf[headLen:n], bytes.NewReader(data[n:]), maxDrainBody)
			if b, _ := io.ReadAll(resp.Body); len(b) > maxErrorBody {
				t.Fatalf("kept %d bytes of body", len(b))
			}
			return
		}
		checkResponse(&h, key, []string{"chat"})
		if p, err := negotiateDeflate(&h, fuzzOffer); err == nil && p.on &&
			(p.serverBits < 8 || p.serverBits > 15 || p.clientBits < 8 || p.clientBits > 15) {
			t.Fatalf("accepted windows of %d and %d bits", p.serverBits, p.clientBits)
		}
	})
}

// chunkReader returns data in reads of at most size bytes.
type chunkReader struct {
	data []byte
	size int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.size)], c.data)
	c.data = c.data[n:]
	return n, nil
}
