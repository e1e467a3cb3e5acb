package wsdialtest

import (
	"bufio"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
)

// The HTTP/1.1 that the echo server and the CONNECT proxy speak before
// their connection turns into something else.

// maxHead bounds each request head a server reads.
const maxHead = 64 << 10

// requestReader reads the request heads of one connection, each bounded by
// maxHead, and, once lifted, the bytes behind the last one.
type requestReader struct {
	c     net.Conn
	limit io.LimitedReader
	br    *bufio.Reader
}

func newRequestReader(c net.Conn) *requestReader {
	rr := &requestReader{c: c, limit: io.LimitedReader{R: c}}
	rr.br = bufio.NewReader(&rr.limit)
	return rr
}

// next reads one request head. A head that is too long or malformed gets its
// answer here, and next reports false, as it does at the stream's end: the
// connection is then done.
func (rr *requestReader) next() (*http.Request, bool) {
	rr.limit.N = maxHead
	req, err := http.ReadRequest(rr.br)
	switch {
	case err == nil:
		return req, true
	case rr.limit.N == 0:
		respond(rr.c, &refusal{status: http.StatusRequestHeaderFieldsTooLarge, text: "request head over 64 KiB"}, false)
	case !errors.Is(err, io.EOF):
		respond(rr.c, &refusal{status: http.StatusBadRequest, text: "malformed request"}, false)
	}
	return nil, false
}

// lift ends the bound, for the bytes that follow the last head.
func (rr *requestReader) lift() { rr.limit.N = math.MaxInt64 }

// refusal is an HTTP answer other than 101 or 200.
type refusal struct {
	status int
	text   string
	header http.Header
}

// refuse writes no as a response after which the connection closes.
func refuse(c net.Conn, no *refusal) { respond(c, no, false) }

// respond writes no as a whole response, with a short text body; unless
// keepOpen is set, it says that the connection closes after it.
func respond(c net.Conn, no *refusal, keepOpen bool) error {
	body := "wsdialtest: " + no.text + "\n"
	resp := &http.Response{
		StatusCode: no.status, ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Close:         !keepOpen,
	}
	for k, v := range no.header {
		resp.Header[k] = v
	}
	return resp.Write(c)
}
