package wsdial

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
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
		buf, headLen, n, err := readHead(r, make([]byte, 8), 0, maxHeadBytes, false)
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
		buf, _, _, err := readHead(src, make([]byte, 512), 0, maxHeadBytes, false)
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

// FuzzResponseHead drives the head reader, with its interim responses,
// the parser, the handshake validator and the refusal's body reader with
// arbitrary bytes, read in pieces of arbitrary size. None may panic or hold
// more than maxHeadBytes; a refusal's body counts as read to its exact end
// only when net/http, reading the same bytes, finds the same end of a body
// framed by its length or by chunks.
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
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\nshort",
		"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		cr := &chunkReader{data: data, size: int(chunk%64) + 1}
		r := iotest.HalfReader(cr)
		var fields [16]headerField
		head, h, ahead, err := readResponse(r, dialTrace{}, make([]byte, 64), fields[:])
		if err != nil {
			return
		}
		if h.status < 100 || h.status > 999 || h.interim() || len(h.fields) > maxHeaderFields || len(head) > maxHeadBytes {
			t.Fatalf("parsed status %d with %d fields, a head of %d bytes", h.status, len(h.fields), len(head))
		}
		if end := headEnd(data, 0); end > 0 {
			checkKept(t, string(data[:end]))
		}
		if h.status == 101 {
			checkResponse(&h, key, []string{"chat"})
			if p, err := negotiateDeflate(&h, fuzzOffer); err == nil && p.on &&
				(p.serverBits < 8 || p.serverBits > 15 || p.clientBits < 8 || p.clientBits > 15) {
				t.Fatalf("accepted windows of %d and %d bits", p.serverBits, p.clientBits)
			}
			return
		}
		resp := h.response(nil)
		complete := readBody(resp, ahead, r, maxDrainBody)
		if b, _ := io.ReadAll(resp.Body); len(b) > maxErrorBody {
			t.Fatalf("kept %d bytes of body", len(b))
		}
		if !complete {
			return
		}
		read := len(data) - len(cr.data)
		if n, ok := netHTTPEnd(data, "GET"); !ok || n != read {
			t.Fatalf("the body counts as complete after %d bytes; net/http finds a framed end: %v, after %d", read, ok, n)
		}
	})
}

// netHTTPEnd reads reply as net/http's client does for a request of method,
// past at most maxInterim interim responses, and returns where the final
// response and its body end, and whether that body is framed by a length or
// by chunks and was read to its end without error, so that a connection
// could carry another exchange after it.
func netHTTPEnd(reply []byte, method string) (n int, framed bool) {
	src := bytes.NewReader(reply)
	br := bufio.NewReader(src)
	req := &http.Request{Method: method}
	var resp *http.Response
	for interim := 0; resp == nil; interim++ {
		r, err := http.ReadResponse(br, req)
		if err != nil || interim > maxInterim {
			return 0, false
		}
		if r.StatusCode/100 != 1 || r.StatusCode == http.StatusSwitchingProtocols {
			resp = r
		}
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		return 0, false
	}
	te := resp.TransferEncoding
	framed = resp.ContentLength >= 0 && len(te) == 0 || len(te) > 0 && te[len(te)-1] == "chunked" ||
		resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified
	return len(reply) - src.Len() - br.Buffered(), framed
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

// TestReadBodyComplete checks when a refusal's body counts as read to its
// exact end, so that the connection could carry another request (RFC 9112
// §6.3, §8): only a body framed beyond doubt and wholly there.
func TestReadBodyComplete(t *testing.T) {
	for _, tc := range []struct {
		name, reply string
		complete    bool
		body        string
	}{
		{"content-length", "HTTP/1.1 407 X\r\nContent-Length: 5\r\n\r\nnope!", true, "nope!"},
		{"content-length cut short", "HTTP/1.1 407 X\r\nContent-Length: 100\r\n\r\nshort", false, "short"},
		{"content-length with more behind", "HTTP/1.1 407 X\r\nContent-Length: 2\r\n\r\nnope!", false, "no"},
		{"chunked", "HTTP/1.1 407 X\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nnope!\r\n0\r\n\r\n", true, "nope!"},
		{"chunked with trailer", "HTTP/1.1 407 X\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nnope!\r\n0\r\nX-T: 1\r\n\r\n", true, "nope!"},
		{"chunked cut short", "HTTP/1.1 407 X\r\nTransfer-Encoding: chunked\r\n\r\n40\r\nshort", false, "short"},
		{"chunked without its last line", "HTTP/1.1 407 X\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nnope!\r\n0\r\n", false, "nope!"},
		{"gzip then chunked", "HTTP/1.1 407 X\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nzz\r\n0\r\n\r\n", true, "zz"},
		// Without framing, only what has arrived is kept (none, byte by
		// byte), unless the proxy said it would close.
		{"chunked then gzip", "HTTP/1.1 407 X\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\nzz\r\n0\r\n\r\n", false, ""},
		{"both framings", "HTTP/1.1 407 X\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nnope!\r\n0\r\n\r\n", false, "nope!"},
		{"two lengths", "HTTP/1.1 407 X\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nnope!", false, ""},
		{"length list", "HTTP/1.1 407 X\r\nContent-Length: 5, 5\r\n\r\nnope!", false, ""},
		{"signed length", "HTTP/1.1 407 X\r\nContent-Length: +5\r\n\r\nnope!", false, ""},
		{"chunked in HTTP/1.0", "HTTP/1.0 407 X\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nnope!\r\n0\r\n\r\n", false, "5\r\nnope!\r\n0\r\n\r\n"},
		{"no framing", "HTTP/1.1 407 X\r\n\r\nnope!", false, ""},
		{"no framing, closing", "HTTP/1.1 407 X\r\nConnection: close\r\n\r\nnope!", false, "nope!"},
		{"no content", "HTTP/1.1 204 X\r\n\r\n", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fields [16]headerField
			r := strings.NewReader(tc.reply)
			_, h, ahead, err := readResponse(iotest.OneByteReader(r), dialTrace{}, make([]byte, 64), fields[:])
			if err != nil {
				t.Fatal(err)
			}
			resp := h.response(nil)
			complete := readBody(resp, ahead, r, maxDrainBody)
			body, _ := io.ReadAll(resp.Body)
			if complete != tc.complete || string(body) != tc.body {
				t.Errorf("complete %v, body %q; want %v, %q", complete, body, tc.complete, tc.body)
			}
		})
	}
}
