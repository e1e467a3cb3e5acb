package server

import (
	"bufio"
	"net"

	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// ServeRaw serves the raw-TCP baseline on ln: length-prefixed frames, the
// first naming the endpoint (wire.PathEcho, PathSink or PathSource), which
// then behaves as its WebSocket namesake. The sink acks every frame.
func ServeRaw(g *Group, ln net.Listener) {
	g.Serve(ln, serveRaw)
}

func serveRaw(c net.Conn) {
	var hdr [wire.RawHeaderLen]byte
	// Buffered like the WebSocket servers' reads, so a small frame costs
	// one read, not two.
	br := bufio.NewReaderSize(c, 4096)
	path, err := wire.ReadRawFrame(br, &hdr, nil)
	if err != nil {
		return
	}
	buf := make([]byte, 64<<10)
	switch string(path) {
	case wire.PathEcho:
		for {
			p, err := wire.ReadRawFrame(br, &hdr, buf)
			if err != nil {
				return
			}
			buf = p
			if err := writeRaw(c, &hdr, p); err != nil {
				return
			}
		}
	case wire.PathSink:
		ack := []byte{'a'}
		for {
			p, err := wire.ReadRawFrame(br, &hdr, buf)
			if err != nil {
				return
			}
			buf = p
			if err := writeRaw(c, &hdr, ack); err != nil {
				return
			}
		}
	case wire.PathSource:
		for {
			req, err := wire.ReadRawFrame(br, &hdr, buf)
			if err != nil {
				return
			}
			count, size, err := wire.ParseSourceRequest(string(req))
			if err != nil {
				return
			}
			payload := make([]byte, size)
			for range count {
				if err := writeRaw(c, &hdr, payload); err != nil {
					return
				}
			}
		}
	}
}

// writeRaw writes one frame with a single writev, header and payload.
func writeRaw(c net.Conn, hdr *[wire.RawHeaderLen]byte, p []byte) error {
	wire.PutRawHeader(hdr[:], len(p))
	bufs := net.Buffers{hdr[:], p}
	_, err := bufs.WriteTo(c)
	return err
}
