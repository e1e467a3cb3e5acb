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

// maxInterim bounds the interim (1xx) responses read past before the final
// one, as net/http bounds them.
const maxInterim = 5

var (
	errHeadTooLarge    = fmt.Errorf("response head exceeds %d bytes", maxHeadBytes)
	errTooManyFields   = fmt.Errorf("response head has more than %d header fields", maxHeaderFields)
	errTooManyInterim  = fmt.Errorf("more than %d interim (1xx) responses", maxInterim)
	errMalformedStatus = errors.New("malformed status line")
	errMalformedField  = errors.New("malformed header field")
	// errNoResponse marks an exchange that ended before any byte of the
	// response came, by EOF, reset or timeout, or because the request could
	// not be written: a peer that said nothing, which a proxy list takes as
	// a proxy that could not be used, and a dial as a kept connection to
	// replace.
	errNoResponse = errors.New("no response")
)

// readHead reads from r into buf, which already holds n bytes, until it
// holds a whole response head of at most limit bytes, growing buf up to
// maxHeadBytes. started says that bytes of the response, interim ones,
// have come already, so that an end before any more is no errNoResponse. It returns the buffer, the head's length and how many bytes
// it holds in all: buf[headLen:n] arrived behind the head and belongs to
// whatever follows it.
func readHead(r io.Reader, buf []byte, n, limit int, started bool) (b []byte, headLen, total int, err error) {
	scanned := 0
	var rerr error
	for {
		if end := headEnd(buf[:n], scanned); end > 0 {
			if end > limit {
				return buf, 0, n, errHeadTooLarge
			}
			return buf, end, n, nil
		}
		// A terminator may straddle reads: look again from three bytes back.
		scanned = max(0, n-3)
		switch {
		case rerr == nil:
		case n == 0 && !started:
			return buf, 0, n, fmt.Errorf("%w: %w", errNoResponse, rerr)
		case n == 0 && rerr == io.EOF:
			return buf, 0, n, fmt.Errorf("reading response head: %w", io.ErrUnexpectedEOF)
		case rerr == io.EOF:
			return buf, 0, n, fmt.Errorf("reading response head: %w", io.ErrUnexpectedEOF)
		default:
			return buf, 0, n, fmt.Errorf("reading response head: %w", rerr)
		}
		if n >= limit {
			return buf, 0, n, errHeadTooLarge
		}
		if n == len(buf) {
			grown := make([]byte, min(2*len(buf), maxHeadBytes))
			copy(grown, buf[:n])
			buf = grown
		}
		var m int
		m, rerr = r.Read(buf[n:])
		n += m
	}
}

// readResponse reads a response head from r into buf, growing it within
// maxHeadBytes, and parses it, its fields into fields. Interim responses
// (1xx other than 101, RFC 9110 §15.2) are parsed, reported to tr and read
// past, at most maxInterim of them, all the heads within maxHeadBytes
// together. It returns the final head's text, packed (headcode.go), which
// parseKept parses again, and the bytes that arrived behind it, which slice
// the buffer.
func readResponse(r io.Reader, tr dialTrace, buf []byte, fields []headerField) (head string, h responseHead, ahead []byte, err error) {
	n, used := 0, 0
	for interim := 0; ; interim++ {
		var headLen int
		buf, headLen, n, err = readHead(r, buf, n, maxHeadBytes-used, used > 0)
		if err != nil {
			return "", h, nil, err
		}
		if head, h, err = keepHead(buf[:headLen], fields); err != nil || !h.interim() {
			return head, h, buf[headLen:n], err
		}
		if interim == maxInterim {
			return "", h, nil, errTooManyInterim
		}
		if err := tr.interim(&h); err != nil {
			return "", h, nil, err
		}
		used += headLen
		n = copy(buf, buf[headLen:n])
	}
}

// interim reports whether h is an interim response, after which the final
// one follows. 101 is final: it ends HTTP on the connection.
func (h *responseHead) interim() bool {
	return h.status/100 == 1 && h.status != http.StatusSwitchingProtocols
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
// reading could be exploited (a control byte other than HTAB anywhere, bare
// CR and NUL among them, space before a colon, line folding) and lenient
// where real servers differ (no reason phrase, bare LF line ends).
func parseHead(s string, fields []headerField) (responseHead, error) {
	return parseLines(s, fields, false)
}

// parseKept parses a head that keepHead kept, packed or as it came
// (headcode.go).
func parseKept(s string, fields []headerField) (responseHead, error) {
	return parseLines(s, fields, true)
}

// parseLines is parseHead, and with packed, parseKept.
func parseLines(s string, fields []headerField, packed bool) (responseHead, error) {
	var h responseHead
	var line, rest string
	ok := false
	if packed {
		line, _, rest, ok = unpackLine(s, true)
	}
	if !ok {
		line, rest = cutLine(s)
	}
	if err := h.parseStatusLine(line); err != nil {
		return h, err
	}
	h.fields = fields[:0]
	for {
		var f headerField
		ok = false
		if packed {
			_, f, rest, ok = unpackLine(rest, false)
		}
		if !ok {
			if line, rest = cutLine(rest); line == "" {
				return h, nil
			}
		}
		if len(h.fields) == maxHeaderFields {
			return h, errTooManyFields
		}
		if !ok {
			var err error
			if f, err = parseField(line); err != nil {
				return h, err
			}
		}
		h.fields = append(h.fields, f)
	}
}

// parseField parses one header or trailer line, its line end dropped.
func parseField(line string) (headerField, error) {
	if line[0] == ' ' || line[0] == '\t' {
		return headerField{}, fmt.Errorf("%w: obsolete line folding", errMalformedField)
	}
	name, value, ok := strings.Cut(line, ":")
	if !ok || !isToken(name) {
		return headerField{}, fmt.Errorf("%w %q", errMalformedField, clip(line))
	}
	value = strings.Trim(value, " \t")
	if !isFieldText(value) {
		return headerField{}, fmt.Errorf("%w %q: a control character in its value", errMalformedField, name)
	}
	return headerField{name, value}, nil
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
	if !isFieldText(line) {
		return fmt.Errorf("%w: control character", errMalformedStatus)
	}
	h.major, h.minor, h.status = int(line[5]-'0'), int(line[7]-'0'), code
	if len(line) > 13 {
		h.reason = line[13:]
	}
	return nil
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// isFieldText reports whether s holds only what RFC 9112 §4 and RFC 9110
// §5.5 allow in a reason phrase or a field value: HTAB, SP, VCHAR and
// obs-text. Every other control byte is refused, so that none reaches an
// error, a log or a terminal: an escape sequence in a reason phrase could
// rewrite the screen of whoever reads it.
func isFieldText(s string) bool {
	for i := 0; i < len(s); i++ {
		if isCTL(s[i]) && s[i] != '\t' {
			return false
		}
	}
	return true
}

// isCTL reports whether b is a control byte: %x00-1F or %x7F, the CTL of
// RFC 5234, HTAB among them.
func isCTL(b byte) bool { return b < 0x20 || b == 0x7f }

// hasControl reports whether s holds a control byte.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if isCTL(s[i]) {
			return true
		}
	}
	return false
}

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
	if te := header.Values("Transfer-Encoding"); len(te) > 0 {
		resp.TransferEncoding = te
	} else if cl, ok := h.contentLength(); ok {
		resp.ContentLength = cl
	}
	// Only HTTP/1.1 keeps a connection by default; an HTTP/1.0 keep-alive is
	// not worth trusting to a proxy (RFC 9112 §9.3, C.2.2). Proxy-Connection
	// is no standard field, but proxies send it, and its "close" means what
	// Connection's does.
	resp.Close = h.major != 1 || h.minor < 1 || h.hasToken("Connection", "close") || h.hasToken("Proxy-Connection", "close")
	return resp
}

// contentLength returns the length that the one Content-Length field of h
// gives, and whether there is exactly one such field holding only digits.
// Anything else frames no body that a connection could be kept past (RFC
// 9112 §6.3).
func (h *responseHead) contentLength() (int64, bool) {
	n, v := h.count("Content-Length")
	if n != 1 || v == "" || strings.TrimLeft(v, "0123456789") != "" {
		return 0, false
	}
	cl, err := strconv.ParseInt(v, 10, 64)
	return cl, err == nil
}

// chunked reports whether resp's body is framed by the chunked coding: it is
// the last of the Transfer-Encoding codings (RFC 9112 §6.3).
func chunked(resp *http.Response) bool {
	te := resp.TransferEncoding
	if len(te) == 0 {
		return false
	}
	codings := strings.Split(te[len(te)-1], ",")
	return strings.EqualFold(strings.TrimSpace(codings[len(codings)-1]), "chunked")
}

// readBody reads the body of a refusal from ahead (bytes that arrived behind
// its head) and then r, as far as the body's framing says and at most limit
// bytes, and keeps the first maxErrorBody bytes as resp.Body. A body with no
// framing is read to EOF only when the peer has said it will close, so that a
// peer holding the connection open cannot stall the caller. It reports
// whether the body was read to its exact end with nothing behind it, so that
// the connection can carry another request: never for a body whose framing
// RFC 9112 §6 calls unframed or suspect (no length, a Transfer-Encoding
// that does not end in chunked or comes in HTTP/1.0, both Transfer-Encoding
// and Content-Length, an invalid Content-Length), nor for one cut short.
func readBody(resp *http.Response, ahead []byte, r io.Reader, limit int64) (complete bool) {
	rest := bytes.NewReader(ahead)
	// br reads r only as far as the body needs, in small steps: a peer that
	// keeps the connection sends nothing more until the next request.
	br := bufio.NewReaderSize(io.MultiReader(rest, r), 512)
	// A Transfer-Encoding in an HTTP/1.0 reply is not to be trusted, nor one
	// that does not end in chunked (RFC 9112 §6.1, §6.3).
	isChunked := chunked(resp) && resp.ProtoAtLeast(1, 1)
	framed := isChunked || resp.TransferEncoding == nil && resp.ContentLength >= 0
	var body io.Reader
	switch {
	case resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified:
		return len(ahead) == 0
	case isChunked:
		body = httputil.NewChunkedReader(br)
	case framed:
		body = io.LimitReader(br, resp.ContentLength)
	case resp.Close:
		body = br
	default:
		body = rest
	}
	var kept bytes.Buffer
	n, err := io.Copy(&prefixWriter{&kept, maxErrorBody}, io.LimitReader(body, limit+1))
	resp.Body = newKeptBody(kept.Bytes())
	switch {
	case err != nil || n > limit || !framed:
		return false
	case isChunked:
		if !skipTrailer(br) || hasField(resp.Header, "Content-Length") {
			return false
		}
	case n != resp.ContentLength:
		return false // the peer closed before the body's end
	}
	return br.Buffered() == 0 && rest.Len() == 0
}

// hasField reports whether header holds the field name at all.
func hasField(header http.Header, name string) bool {
	_, ok := header[name]
	return ok
}

// skipTrailer reads the trailer section that ends a chunked body, which the
// chunked reader leaves unread, up to its empty line. It reports whether
// each field in it is well-formed and each line, the empty one included,
// ends in CRLF: the connection is kept only past an end of the body that no
// reading of RFC 9112 could place elsewhere.
func skipTrailer(br *bufio.Reader) bool {
	for range maxHeaderFields {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return false
		}
		field, crlf := strings.CutSuffix(string(line), "\r\n")
		switch {
		case !crlf:
			return false
		case field == "":
			return true
		}
		if _, err := parseField(field); err != nil {
			return false
		}
	}
	return false
}

// keptBody is the part of a refusal's body that was kept, readable from
// memory as often as it is handed out again.
type keptBody struct {
	*bytes.Reader
	b []byte
}

func newKeptBody(b []byte) keptBody { return keptBody{bytes.NewReader(b), b} }

func (keptBody) Close() error { return nil }

// again returns the same body, to be read from its start.
func (k keptBody) again() keptBody { return newKeptBody(k.b) }

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
