package wsdialtest

import (
	"bufio"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Server is a WebSocket echo server on 127.0.0.1. It echoes every text and
// binary message it receives as one message of the same type, answers each
// ping with a pong, and answers the client's close with the same status
// code, then ends the connection. A client that breaks RFC 6455 gets a
// close frame with 1002 (1007 for text that is not UTF-8, 1009 for a
// message over 32 MiB) and the connection ends. The server offers no
// extension, and accepts the first subprotocol the client offers, if any.
// A request that is not a WebSocket upgrade is answered 426 Upgrade
// Required.
type Server struct {
	// URL is ws://127.0.0.1:PORT/, or wss://127.0.0.1:PORT/ for a TLS
	// server. Any path serves the echo.
	URL string

	cert *tls.Certificate // nil for ws://
	g    group
}

// NewEchoServer starts a WebSocket echo server on a free port of 127.0.0.1.
// It panics if it cannot listen, as httptest.NewServer does. Close it when
// done.
func NewEchoServer() *Server { return newServer(nil) }

// NewTLSEchoServer starts an echo server that speaks TLS, with a certificate
// made for it at start. The certificate is valid for 127.0.0.1, ::1,
// localhost and every name of one label under .test (such as echo.test), so
// that a client may also reach the server by a name, through a Proxy with
// WithRoute. TLSConfig returns a client configuration that trusts it.
func NewTLSEchoServer() *Server {
	cert := newCertificate()
	return newServer(&cert)
}

func newServer(cert *tls.Certificate) *Server {
	ln := listenLoopback()
	s := &Server{URL: "ws://" + ln.Addr().String() + "/", cert: cert}
	if cert != nil {
		s.URL = "wss://" + ln.Addr().String() + "/"
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: []string{"http/1.1"}})
	}
	s.g.serve(ln, s.handle)
	return s
}

// Close stops the server, closes every connection it holds, and waits for
// every goroutine it started. It may be called more than once.
func (s *Server) Close() { s.g.close() }

// TLSConfig returns a new client configuration whose roots hold only the
// server's certificate, or nil for a ws:// server.
func (s *Server) TLSConfig() *tls.Config {
	if s.cert == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.cert.Leaf)
	return &tls.Config{RootCAs: pool}
}

// Certificate returns the server's certificate, which is its own root, or
// nil for a ws:// server: write it out as PEM for a program that takes a
// CA file.
func (s *Server) Certificate() *x509.Certificate {
	if s.cert == nil {
		return nil
	}
	return s.cert.Leaf
}

// EchoHandler returns a handler that serves the echo of Server on a net/http
// server of your own, for a test that must see or refuse the request first:
// wrap it, and call its ServeHTTP to accept. It takes the connection over
// with http.Hijacker, so the server must be HTTP/1.x; the connection's
// goroutine runs until the client closes or breaks the protocol.
func EchoHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head, no := upgrade(r)
		if no != nil {
			for k, v := range no.header {
				w.Header()[k] = v
			}
			http.Error(w, no.text, no.status)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, "wsdialtest: cannot take the connection over: "+err.Error(), http.StatusInternalServerError)
			return
		}
		defer c.Close()
		if _, err := io.WriteString(c, head); err != nil {
			return
		}
		echo(c, brw.Reader)
	})
}

// handle serves one connection: the opening handshake, then the echo.
func (s *Server) handle(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok && tc.Handshake() != nil {
		return
	}
	rr := newRequestReader(c)
	req, ok := rr.next()
	if !ok {
		return
	}
	rr.lift() // from here on readFrame bounds what is read
	resp, no := upgrade(req)
	if no != nil {
		refuse(c, no)
		return
	}
	if _, err := io.WriteString(c, resp); err != nil {
		return
	}
	echo(c, rr.br)
}

// websocketGUID is the string of RFC 6455 §1.3 that the accept hash appends.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// upgrade checks an opening handshake (RFC 6455 §4.2.1) and returns the 101
// response head that accepts it, or why it is refused.
func upgrade(r *http.Request) (string, *refusal) {
	wants := http.Header{"Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}}
	switch {
	case !hasToken(r.Header, "Upgrade", "websocket"):
		return "", &refusal{status: http.StatusUpgradeRequired, text: "this endpoint speaks WebSocket only", header: wants}
	case r.Method != http.MethodGet:
		return "", &refusal{status: http.StatusMethodNotAllowed, text: "a WebSocket upgrade is a GET"}
	case !hasToken(r.Header, "Connection", "upgrade"):
		return "", &refusal{status: http.StatusBadRequest, text: `Connection has no "upgrade" token`}
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return "", &refusal{status: http.StatusUpgradeRequired, text: "only Sec-WebSocket-Version 13 is spoken", header: wants}
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return "", &refusal{status: http.StatusBadRequest, text: "want exactly one Sec-WebSocket-Key"}
	}
	if k, err := base64.StdEncoding.DecodeString(keys[0]); err != nil || len(k) != 16 {
		return "", &refusal{status: http.StatusBadRequest, text: "Sec-WebSocket-Key is not 16 bytes in base64"}
	}
	sum := sha1.Sum([]byte(keys[0] + websocketGUID))
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\r\n"
	if p := firstToken(r.Header, "Sec-WebSocket-Protocol"); p != "" {
		head += "Sec-WebSocket-Protocol: " + p + "\r\n"
	}
	return head + "\r\n", nil
}

// hasToken reports whether a comma-separated header holds token, in any case.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// firstToken returns the first entry of a comma-separated header, or "".
// Only a name made of token characters counts, so that nothing the client
// sent can break the response head.
func firstToken(h http.Header, name string) string {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				if !isToken(t) {
					return ""
				}
				return t
			}
		}
	}
	return ""
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		ok := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
		if !ok {
			return false
		}
	}
	return s != ""
}

// echo serves the messages of one connection until the close handshake,
// the client's breach of the protocol, or the end of the stream.
func echo(c net.Conn, br *bufio.Reader) {
	var msg []byte
	var msgOp byte // the message under way, or 0
	for {
		f, err := readFrame(br, maxMessage-len(msg))
		if err != nil {
			var v *violation
			if errors.As(err, &v) {
				fail(c, br, v)
			}
			return
		}
		switch f.op {
		case opPing:
			if writeFrame(c, true, opPong, f.payload) != nil {
				return
			}
			continue
		case opPong:
			continue
		case opClose:
			answerClose(c, br, f.payload)
			return
		case opContinuation:
			if msgOp == 0 {
				fail(c, br, violated(closeProtocolError, "continuation frame with no message under way"))
				return
			}
		default:
			if msgOp != 0 {
				fail(c, br, violated(closeProtocolError, "new message before the last one's final frame"))
				return
			}
			msgOp = f.op
		}
		msg = append(msg, f.payload...)
		if !f.fin {
			continue
		}
		if msgOp == opText && !utf8.Valid(msg) {
			fail(c, br, violated(closeInvalidPayload, "text message is not valid UTF-8"))
			return
		}
		if writeFrame(c, true, msgOp, msg) != nil {
			return
		}
		msg, msgOp = msg[:0], 0
	}
}

// answerClose answers the client's close frame with payload p: with the
// same code when p is a valid close payload, and with 1002 or 1007 when it
// is not (RFC 6455 §5.5.1, §7.4).
func answerClose(c net.Conn, br *bufio.Reader, p []byte) {
	var code uint16
	if len(p) >= 2 {
		code = binary.BigEndian.Uint16(p)
	}
	switch {
	case len(p) == 1:
		fail(c, br, violated(closeProtocolError, "close payload of one byte"))
	case len(p) >= 2 && !validCloseCode(code):
		fail(c, br, violated(closeProtocolError, "close code %d is not one to send", code))
	case len(p) >= 2 && !utf8.Valid(p[2:]):
		fail(c, br, violated(closeInvalidPayload, "close reason is not valid UTF-8"))
	case len(p) == 0:
		if writeFrame(c, true, opClose, nil) == nil {
			linger(c, br)
		}
	default:
		if writeFrame(c, true, opClose, closePayload(code, "")) == nil {
			linger(c, br)
		}
	}
}

// validCloseCode reports whether a close frame may carry code: one defined
// for the wire by RFC 6455 §7.4.1, one registered since (1012 to 1014), or
// one of the ranges for libraries and applications.
func validCloseCode(code uint16) bool {
	return 1000 <= code && code <= 1003 || 1007 <= code && code <= 1014 || 3000 <= code && code <= 4999
}

// fail sends the close frame for v, then lingers; the connection ends when
// its handler returns.
func fail(c net.Conn, br *bufio.Reader, v *violation) {
	text := v.text
	if len(text) > maxControlPayload-2 {
		text = text[:maxControlPayload-2]
	}
	if writeFrame(c, true, opClose, closePayload(v.code, text)) == nil {
		linger(c, br)
	}
}

// Bounds on lingering: how long, and how many of the client's bytes.
const (
	lingerTime  = time.Second
	lingerBytes = 64 << 20
)

// linger ends the server's sending and reads what the client still sends,
// for a while, before the connection closes. Closing with the client's bytes
// unread would reset the connection, and a reset can destroy the close frame
// before the client has read it.
func linger(c net.Conn, br *bufio.Reader) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, br, lingerBytes)
}
