//lint:file-ignore SA1019 x/net/http2's server, deprecated for net/http's, serves one connection at a time (ServeConn), behind the TLS that this file runs itself to choose by ALPN.

package server

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/net/http2"

	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// The HTTP/2 side of the benchmarks (issue 16). x/net/http2's server
// advertises extended CONNECT only when the process starts with
// GODEBUG=http2xconnect=1, which benchserver sees to.

// h2MaxStreams lets one connection carry the thousand WebSockets of the
// many-streams case.
const h2MaxStreams = 2000

// ServeH2 serves the WebSocket endpoints (echo, sink, source) on ln over
// TLS, as RFC 8441 streams of HTTP/2 or as HTTP/1.1 upgrades, whichever ALPN
// picks. Both ways run gobwas/ws's frame code, so that only the transport
// differs between them.
func ServeH2(g *Group, ln net.Listener, tlsCfg *tls.Config) {
	h2 := &http2.Server{MaxConcurrentStreams: h2MaxStreams}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		if rc.Flush() != nil {
			return
		}
		endpoint(&h2Stream{r: r.Body, w: w, rc: rc}, r.URL)
	})
	serveALPN(g, ln, tlsCfg, func(tc *tls.Conn) {
		h2.ServeConn(tc, &http2.ServeConnOpts{Handler: handler})
	})
}

// serveALPN serves TLS connections on ln, handing those that pick h2 to
// serveH2 and upgrading the others to WebSockets with gobwas/ws.
func serveALPN(g *Group, ln net.Listener, tlsCfg *tls.Config, serveH2 func(*tls.Conn)) {
	cfg := tlsCfg.Clone()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	g.Serve(ln, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			serveH2(tc)
			return
		}
		var u *url.URL
		up := ws.Upgrader{OnRequest: func(uri []byte) (err error) {
			u, err = url.ParseRequestURI(string(uri))
			return err
		}}
		if _, err := up.Upgrade(tc); err != nil {
			return
		}
		endpoint(tc, u)
	})
}

// ServeH2Connect serves an HTTP/2 CONNECT proxy (RFC 9113 §8.5) on ln over
// TLS: each stream is a tunnel to its :authority.
func ServeH2Connect(g *Group, ln net.Listener, tlsCfg *tls.Config) {
	cfg := tlsCfg.Clone()
	cfg.NextProtos = []string{"h2"}
	h2 := &http2.Server{MaxConcurrentStreams: h2MaxStreams}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect || r.Header.Get(":protocol") != "" {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		up, err := net.DialTimeout("tcp", r.Host, dialTimeout)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		if !g.Enter(up) {
			up.Close()
			return
		}
		defer g.Leave(up)
		defer up.Close()
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		if rc.Flush() != nil {
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			copyPlain(up, r.Body)
			up.Close()
		}()
		copyPlain(&h2Stream{w: w, rc: rc}, up)
		up.Close()
		<-done
	})
	g.Serve(ln, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err == nil {
			h2.ServeConn(tc, &http2.ServeConnOpts{Handler: handler})
		}
	})
}

// h2Stream is a server's end of an HTTP/2 stream as an io.ReadWriter: reads
// come from the request body, and every write is flushed.
type h2Stream struct {
	r  io.Reader
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s *h2Stream) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s *h2Stream) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err == nil {
		err = s.rc.Flush()
	}
	return n, err
}

// endpoint runs the endpoint that u names on rw, a WebSocket after its
// handshake.
func endpoint(rw io.ReadWriter, u *url.URL) {
	// Frames go out whole: a header and its payload in one write.
	bw := bufio.NewWriterSize(rw, 64<<10)
	send := func(op ws.OpCode, p []byte) error {
		if err := wsutil.WriteServerMessage(bw, op, p); err != nil {
			return err
		}
		return bw.Flush()
	}
	// Frames come in through a buffer on both transports: gobwas reads a
	// frame in three small reads, which a TLS connection answers from the
	// record it holds, while each read of an HTTP/2 request body is a round
	// through x/net's serving goroutine. Unbuffered, the server's HTTP/2 side
	// paid for the way it read, not for HTTP/2.
	br := bufio.NewReaderSize(rw, 4<<10)
	recv := func() ([]byte, ws.OpCode, error) {
		msg, op, err := wsutil.ReadClientData(struct {
			io.Reader
			io.Writer
		}{br, bw})
		if err != nil {
			bw.Flush() // the answer to a close frame
		}
		return msg, op, err
	}
	switch u.Path {
	case wire.PathEcho:
		for {
			msg, op, err := recv()
			if err != nil || send(op, msg) != nil {
				return
			}
		}
	case wire.PathSink:
		every := 1
		if n, err := strconv.Atoi(u.Query().Get("every")); err == nil && n > 0 {
			every = n
		}
		for n := 1; ; n++ {
			if _, _, err := recv(); err != nil {
				return
			}
			if n%every == 0 && send(ws.OpText, []byte{'a'}) != nil {
				return
			}
		}
	case wire.PathSource:
		for {
			req, _, err := recv()
			if err != nil {
				return
			}
			count, size, err := wire.ParseSourceRequest(string(req))
			if err != nil {
				return
			}
			payload := make([]byte, size)
			for range count {
				if send(ws.OpBinary, payload) != nil {
					return
				}
			}
		}
	}
}
