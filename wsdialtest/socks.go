package wsdialtest

import (
	"bufio"
	"crypto/subtle"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
)

// The SOCKS5 side of Proxy (RFC 1928, with RFC 1929 authentication).

// The reply codes of RFC 1928 §6 that the proxy sends.
const (
	socksSucceeded          = 0
	socksNotAllowed         = 2
	socksRefused            = 5
	socksCommandUnsupported = 7
	socksAddressUnsupported = 8
)

// serveSOCKS5 serves one connection to the SOCKS5 proxy.
func (p *Proxy) serveSOCKS5(c net.Conn) {
	br := bufio.NewReader(c) // every read below is bounded by a length byte
	var b [255]byte
	if _, err := io.ReadFull(br, b[:2]); err != nil || b[0] != 5 {
		return
	}
	methods := b[:b[1]] // up to 255 of them, over the greeting already read
	if _, err := io.ReadFull(br, methods); err != nil {
		return
	}
	want := byte(0) // no authentication
	if p.cfg.socksAuth {
		want = 2 // username/password
	}
	offered := false
	for _, m := range methods {
		offered = offered || m == want
	}
	if !offered {
		c.Write([]byte{5, 0xFF}) // no acceptable method
		return
	}
	if _, err := c.Write([]byte{5, want}); err != nil {
		return
	}
	if p.cfg.socksAuth && !p.socksAuthenticate(c, br) {
		return
	}

	if _, err := io.ReadFull(br, b[:4]); err != nil || b[0] != 5 {
		return
	}
	if b[1] != 1 { // only CONNECT
		socksReply(c, socksCommandUnsupported, nil)
		return
	}
	var host string
	switch b[3] {
	case 1, 4:
		n := 4
		if b[3] == 4 {
			n = 16
		}
		if _, err := io.ReadFull(br, b[:n]); err != nil {
			return
		}
		host = net.IP(b[:n]).String()
	case 3:
		if _, err := io.ReadFull(br, b[:1]); err != nil {
			return
		}
		n := int(b[0])
		if _, err := io.ReadFull(br, b[:n]); err != nil {
			return
		}
		host = string(b[:n])
	default:
		socksReply(c, socksAddressUnsupported, nil)
		return
	}
	if _, err := io.ReadFull(br, b[:2]); err != nil {
		return
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(b[:2]))))
	up, status := p.dial(target)
	switch status {
	case 0:
	case http.StatusBadGateway:
		socksReply(c, socksRefused, nil)
		return
	default:
		socksReply(c, socksNotAllowed, nil)
		return
	}
	p.tunnels.Add(1) // before the client hears of it, as for CONNECT
	if socksReply(c, socksSucceeded, up.LocalAddr()) != nil {
		up.Close()
		return
	}
	p.pipe(c, br, up)
}

// socksAuthenticate runs the username/password exchange of RFC 1929 and
// reports whether the client gave the credentials of WithBasicAuth.
func (p *Proxy) socksAuthenticate(c net.Conn, br *bufio.Reader) bool {
	var b [255]byte
	if _, err := io.ReadFull(br, b[:2]); err != nil || b[0] != 1 {
		return false
	}
	user := make([]byte, b[1])
	if _, err := io.ReadFull(br, user); err != nil {
		return false
	}
	if _, err := io.ReadFull(br, b[:1]); err != nil {
		return false
	}
	pass := make([]byte, b[0])
	if _, err := io.ReadFull(br, pass); err != nil {
		return false
	}
	ok := subtle.ConstantTimeCompare(user, []byte(p.cfg.socksUser)) == 1 &&
		subtle.ConstantTimeCompare(pass, []byte(p.cfg.socksPass)) == 1
	status := byte(1) // failure
	if ok {
		status = 0
	}
	_, err := c.Write([]byte{1, status})
	return ok && err == nil
}

// socksReply sends a reply with code, naming bound as the address the
// proxy connected from, or no address.
func socksReply(c net.Conn, code byte, bound net.Addr) error {
	reply := []byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0}
	if ta, ok := bound.(*net.TCPAddr); ok {
		if ip4 := ta.IP.To4(); ip4 != nil {
			reply = append(append([]byte{5, code, 0, 1}, ip4...), 0, 0)
		} else {
			reply = append(append([]byte{5, code, 0, 4}, ta.IP.To16()...), 0, 0)
		}
		binary.BigEndian.PutUint16(reply[len(reply)-2:], uint16(ta.Port))
	}
	_, err := c.Write(reply)
	return err
}
