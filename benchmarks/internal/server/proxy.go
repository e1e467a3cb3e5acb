package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// dialTimeout bounds a proxy's dial of its upstream.
const dialTimeout = 5 * time.Second

// ServeConnect serves an HTTP CONNECT proxy on ln. Any other method is
// answered 405: a client that forward-proxies ws:// (sends GET with an
// absolute URL) fails here rather than being served another way.
func ServeConnect(g *Group, ln net.Listener) {
	g.Serve(ln, func(c net.Conn) { serveConnect(g, c) })
}

// maxHead bounds the CONNECT request head.
const maxHead = 8 << 10

func serveConnect(g *Group, c net.Conn) {
	br := bufio.NewReaderSize(io.LimitReader(c, maxHead), 1024)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := net.DialTimeout("tcp", req.Host, dialTimeout)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		up.Close()
		return
	}
	// A client may send its first bytes behind the CONNECT head.
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		if _, err := up.Write(b); err != nil {
			up.Close()
			return
		}
	}
	pipe(g, c, up)
}

// ServeSOCKS5 serves a SOCKS5 proxy (RFC 1928) on ln: no authentication,
// CONNECT only, to IPv4, IPv6 or domain-name targets.
func ServeSOCKS5(g *Group, ln net.Listener) {
	g.Serve(ln, func(c net.Conn) { serveSOCKS5(g, c) })
}

func serveSOCKS5(g *Group, c net.Conn) {
	target, err := socksHandshake(c)
	if err != nil {
		return
	}
	up, err := net.DialTimeout("tcp", target, dialTimeout)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) // connection refused
		return
	}
	if _, err := c.Write([]byte{5, 0, 0, 1, 0, 0, 0, 0, 0, 0}); err != nil {
		up.Close()
		return
	}
	pipe(g, c, up)
}

// socksHandshake reads the greeting and the request, answers the greeting,
// and returns the target as host:port.
func socksHandshake(c net.Conn) (string, error) {
	var b [262]byte
	if _, err := io.ReadFull(c, b[:2]); err != nil {
		return "", err
	}
	if b[0] != 5 {
		return "", fmt.Errorf("socks version %d", b[0])
	}
	methods := b[2 : 2+int(b[1])]
	if _, err := io.ReadFull(c, methods); err != nil {
		return "", err
	}
	noAuth := false
	for _, m := range methods {
		noAuth = noAuth || m == 0
	}
	if !noAuth {
		c.Write([]byte{5, 0xff})
		return "", errors.New("socks client offers no method without authentication")
	}
	if _, err := c.Write([]byte{5, 0}); err != nil {
		return "", err
	}
	if _, err := io.ReadFull(c, b[:4]); err != nil {
		return "", err
	}
	if b[0] != 5 || b[1] != 1 {
		c.Write([]byte{5, 7, 0, 1, 0, 0, 0, 0, 0, 0}) // command not supported
		return "", fmt.Errorf("socks command %d", b[1])
	}
	var host string
	switch b[3] {
	case 1:
		if _, err := io.ReadFull(c, b[:4]); err != nil {
			return "", err
		}
		host = net.IP(b[:4]).String()
	case 4:
		if _, err := io.ReadFull(c, b[:16]); err != nil {
			return "", err
		}
		host = net.IP(b[:16]).String()
	case 3:
		if _, err := io.ReadFull(c, b[:1]); err != nil {
			return "", err
		}
		n := int(b[0])
		if _, err := io.ReadFull(c, b[:n]); err != nil {
			return "", err
		}
		host = string(b[:n])
	default:
		c.Write([]byte{5, 8, 0, 1, 0, 0, 0, 0, 0, 0}) // address type not supported
		return "", fmt.Errorf("socks address type %d", b[3])
	}
	if _, err := io.ReadFull(c, b[:2]); err != nil {
		return "", err
	}
	port := binary.BigEndian.Uint16(b[:2])
	return net.JoinHostPort(host, strconv.Itoa(int(port))), nil
}

// pipeBuf is each direction's copy buffer. It is small and plain on
// purpose: io.Copy between two TCP connections would splice through a pipe
// held for the connection's life, two descriptors and up to 64 KiB of
// kernel memory per direction, which the 10,000-connection case cannot
// afford.
const pipeBuf = 8 << 10

// pipe copies between c and up until either side ends, then closes both.
// up is closed by g.Close too.
func pipe(g *Group, c, up net.Conn) {
	if !g.Enter(up) {
		up.Close()
		return
	}
	defer g.Leave(up)
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyPlain(c, up)
		c.Close()
		up.Close()
	}()
	copyPlain(up, c)
	c.Close()
	up.Close()
	<-done
}

func copyPlain(dst io.Writer, src io.Reader) {
	buf := make([]byte, pipeBuf)
	io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
}
