package wsdial

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
)

// maxHeadBytes bounds the status line and header block of any response read
// from the network: a 101 from the target or a CONNECT reply from a proxy.
const maxHeadBytes = 64 << 10

// maxHeaderFields bounds how many header lines one head may hold.
const maxHeaderFields = 256

// maxErrorBody is how much of a refusal's body is kept for the caller.
const maxErrorBody = 1 << 10

var (
	errHeadTooLarge    = fmt.Errorf("response head exceeds %d bytes", maxHeadBytes)
	errTooManyFields   = fmt.Errorf("response head has more than %d header fields", maxHeaderFields)
	errMalformedStatus = errors.New("malformed status line")
	// errNoResponse marks a read that ended, by EOF, reset or timeout,
	// before any byte of the response came: a peer that said nothing, which
	// a proxy list takes as a proxy that could not be used.
	errNoResponse = errors.New("no response")
)

// readHead reads from r into buf until it holds a whole response head,
// growing buf up to maxHeadBytes. It returns the buffer, the head's length
// and how many bytes it holds in all: buf[headLen:n] arrived behind the head
// and belongs to whatever follows it.
func readHead(r io.Reader, buf []byte) (b []byte, headLen, n int, err error) {
	scanned := 0
	for {
		if n == len(buf) {
			if len(buf) >= maxHeadBytes {
				return buf, 0, n, errHeadTooLarge
			}
			grown := make([]byte, min(2*len(buf), maxHeadBytes))
			copy(grown, buf[:n])
			buf = grown
		}
		m, rerr := r.Read(buf[n:])
		n += m
		if end := headEnd(buf[:n], scanned); end > 0 {
			return buf, end, n, nil
		}
		// A terminator may straddle reads: look again from three bytes back.
		scanned = max(0, n-3)
		if rerr != nil {
			if n == 0 {
				return buf, 0, n, fmt.Errorf("%w: %w", errNoResponse, rerr)
			}
			if rerr == io.EOF {
				rerr = io.ErrUnexpectedEOF
			}
			return buf, 0, n, fmt.Errorf("reading response head: %w", rerr)
		}
	}
}

// readResponse reads a response head from r into buf, growing it within
// maxHeadBytes, and parses it, its fields into fields. It returns the head's
// text and the bytes that arrived behind it, which slice the buffer.
func readResponse(r io.Reader, buf []byte, fields []headerField) (head string, h responseHead, ahead []byte, err error) {
	buf, headLen, n, err := readHead(r, buf)
	if err != nil {
		return "", h, nil, err
	}
	head = string(buf[:headLen])
	h, err = parseHead(head, fields)
	return head, h, buf[headLen:n], err
}

// headEnd returns the length of the head in b, up to and including the empty
// line that ends it, or 0 if b does not hold one yet. A bare LF is accepted as
// a line end, as RFC 9112 §2.2 allows.
func headEnd(b []byte, from int) int {
	for {
		i := bytes.IndexByte(b[from:], '\n')
		if i < 0 {
			return 0
		}
		i += from
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
		from = i + 1
	}
}

// headerField is one header line, its name and value slicing the head.
type headerField struct {
	name, value string
}

// responseHead is a parsed status line and header block.
type responseHead struct {
	major, minor int
	status       int
	reason       string
	fields       []headerField
}

// parseHead parses a head that readHead found. It is strict where a loose
// reading could be exploited (NUL or bare CR anywhere, space before a colon,
// line folding) and lenient where real servers differ (no reason phrase,
// bare LF line ends).
func parseHead(s string, fields []headerField) (responseHead, error) {
	var h responseHead
	line, rest := cutLine(s)
	if err := h.parseStatusLine(line); err != nil {
		return h, err
	}
	h.fields = fields[:0]
	for {
		line, rest = cutLine(rest)
		if line == "" {
			return h, nil
		}
		if len(h.fields) == maxHeaderFields {
			return h, errTooManyFields
		}
		if line[0] == ' ' || line[0] == '\t' {
			return h, errors.New("obsolete line folding in response head")
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			return h, fmt.Errorf("malformed header line %q", clip(line))
		}
		value = strings.Trim(value, " \t")
		if strings.ContainsAny(value, "\r\x00") {
			return h, fmt.Errorf("header %q has a control character in its value", name)
		}
		h.fields = append(h.fields, headerField{name, value})
	}
}

// cutLine splits off the first line of s, dropping its CRLF or LF.
func cutLine(s string) (line, rest string) {
	line, rest, _ = strings.Cut(s, "\n")
	return strings.TrimSuffix(line, "\r"), rest
}

// parseStatusLine reads "HTTP/1.1 101 Switching Protocols". The reason may be
// missing, with or without the space before it.
func (h *responseHead) parseStatusLine(line string) error {
	if len(line) < 12 || line[:5] != "HTTP/" || line[6] != '.' || line[8] != ' ' ||
		!isDigit(line[5]) || !isDigit(line[7]) || (len(line) > 12 && line[12] != ' ') {
		return fmt.Errorf("%w %q", errMalformedStatus, clip(line))
	}
	code, err := strconv.Atoi(line[9:12])
	if err != nil || code < 100 || !isDigit(line[9]) {
		return fmt.Errorf("%w %q", errMalformedStatus, clip(line))
	}
	if strings.ContainsAny(line, "\r\x00") {
		return fmt.Errorf("%w: control character", errMalformedStatus)
	}
	h.major, h.minor, h.status = int(line[5]-'0'), int(line[7]-'0'), code
	if len(line) > 13 {
		h.reason = line[13:]
	}
	return nil
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// clip shortens hostile input before it goes into an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// values calls f with each comma-separated element of every field named name,
// trimmed of spaces, until f returns false.
func (h *responseHead) values(name string, f func(string) bool) {
	for _, fl := range h.fields {
		if !strings.EqualFold(fl.name, name) {
			continue
		}
		for v := range strings.SplitSeq(fl.value, ",") {
			if v = strings.Trim(v, " \t"); v != "" && !f(v) {
				return
			}
		}
	}
}

// hasToken reports whether the list-valued field name holds token, ignoring case.
func (h *responseHead) hasToken(name, token string) bool {
	found := false
	h.values(name, func(v string) bool {
		found = strings.EqualFold(v, token)
		return !found
	})
	return found
}

// count returns how many fields are named name, and the value of the last.
func (h *responseHead) count(name string) (n int, value string) {
	for _, fl := range h.fields {
		if strings.EqualFold(fl.name, name) {
			n, value = n+1, fl.value
		}
	}
	return n, value
}

// response builds the *http.Response that the head describes, with an empty body.
func (h *responseHead) response(req *http.Request) *http.Response {
	header := make(http.Header, len(h.fields))
	for _, f := range h.fields {
		k := http.CanonicalHeaderKey(f.name)
		header[k] = append(header[k], f.value)
	}
	status := strconv.Itoa(h.status)
	if h.reason != "" {
		status += " " + h.reason
	} else if t := http.StatusText(h.status); t != "" {
		status += " " + t
	}
	resp := &http.Response{
		Status:        status,
		StatusCode:    h.status,
		Proto:         fmt.Sprintf("HTTP/%d.%d", h.major, h.minor),
		ProtoMajor:    h.major,
		ProtoMinor:    h.minor,
		Header:        header,
		Body:          http.NoBody,
		ContentLength: -1,
		Request:       req,
	}
	if cl, err := strconv.ParseInt(header.Get("Content-Length"), 10, 64); err == nil && cl >= 0 {
		resp.ContentLength = cl
	}
	resp.Close = h.major == 1 && h.minor == 0 || h.hasToken("Connection", "close")
	return resp
}

// readBody reads the body of a refusal from ahead (bytes that arrived behind
// its head) and then r, as far as the body's framing says and at most limit
// bytes, and keeps the first maxErrorBody bytes as resp.Body. A body with no
// framing is read to EOF only when the peer has said it will close, so that a
// peer holding the connection open cannot stall the caller. It reports
// whether the body was read to its exact end with nothing behind it, so that
// the connection can carry another request.
func readBody(resp *http.Response, ahead []byte, r io.Reader, limit int64) (complete bool) {
	rest := bytes.NewReader(ahead)
	// br reads r only as far as the body needs, in small steps: a peer that
	// keeps the connection sends nothing more until the next request.
	br := bufio.NewReaderSize(io.MultiReader(rest, r), 512)
	chunked := resp.Header.Get("Transfer-Encoding") != ""
	var body io.Reader
	switch {
	case resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified:
		return len(ahead) == 0
	case chunked:
		body = httputil.NewChunkedReader(br)
	case resp.ContentLength >= 0:
		body = io.LimitReader(br, resp.ContentLength)
	case resp.Close:
		body = br
	default:
		body = rest
	}
	var kept bytes.Buffer
	n, err := io.Copy(&prefixWriter{&kept, maxErrorBody}, io.LimitReader(body, limit+1))
	resp.Body = io.NopCloser(&kept)
	if err != nil || n > limit || (!chunked && resp.ContentLength < 0) {
		return false
	}
	if chunked && !skipTrailer(br) {
		return false
	}
	return br.Buffered() == 0 && rest.Len() == 0
}

// skipTrailer reads the trailer section that ends a chunked body, which the
// chunked reader leaves unread, up to its empty line.
func skipTrailer(br *bufio.Reader) bool {
	for range maxHeaderFields {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return false
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return true
		}
	}
	return false
}

// prefixWriter keeps the first max bytes written to it and discards the rest.
type prefixWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
