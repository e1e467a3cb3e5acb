// Package demoserver holds the loopback servers that the wsdial command's
// demo, the examples and the example tests run in-process: a minimal RFC 6455
// echo server and an HTTP CONNECT proxy that demands Basic authentication.
// They serve demonstrations only: neither is a general-purpose server.
package demoserver

import (
	"bufio"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
)

// The proxy's credentials. They exist only inside the process.
const (
	User     = "demo"
	Password = "wsdial-demo"
)

// Servers runs servers on loopback and owns every goroutine and connection
// they start. Its zero value is ready; Stop ends them all.
type Servers struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	stopped bool
	servers []*http.Server
	conns   map[net.Conn]bool
}

// Listen serves h on a fresh 127.0.0.1 port and returns its address.
func (s *Servers) Listen(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	// http.Server does not wait for handlers, and forgets hijacked
	// connections: both are counted here instead, so Stop can end them.
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.wg.Add(1)
			defer s.wg.Done()
			h.ServeHTTP(w, r)
		}),
		ConnState: func(c net.Conn, state http.ConnState) {
			if state == http.StateHijacked {
				s.hold(c)
			}
		},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		ln.Close()
		return "", errors.New("demoserver: stopped")
	}
	s.servers = append(s.servers, srv)
	s.wg.Go(func() { srv.Serve(ln) })
	return ln.Addr().String(), nil
}

// hold keeps c to be closed by Stop, or closes it now if Stop has run.
func (s *Servers) hold(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		c.Close()
		return
	}
	if s.conns == nil {
		s.conns = map[net.Conn]bool{}
	}
	s.conns[c] = true
}

// release forgets c, closed by its handler.
func (s *Servers) release(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// Stop closes every server and connection and waits for their goroutines.
func (s *Servers) Stop() {
	s.mu.Lock()
	s.stopped = true
	for _, srv := range s.servers {
		srv.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Proxy is an HTTP CONNECT proxy handler that demands Basic authentication
// as User and Password, and tunnels only to loopback addresses.
func (s *Servers) Proxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "this proxy only tunnels", http.StatusMethodNotAllowed)
		return
	}
	user, password, ok := parseProxyBasic(r.Header.Get("Proxy-Authorization"))
	if !ok || subtle.ConstantTimeCompare([]byte(user+":"+password), []byte(User+":"+Password)) != 1 {
		w.Header().Set("Proxy-Authenticate", `Basic realm="wsdial demo"`)
		http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
		return
	}
	s.Tunnel(w, r)
}

// Tunnel answers a CONNECT request by opening a tunnel to its target, if
// that is a loopback address, and relaying both ways until either side ends.
func (s *Servers) Tunnel(w http.ResponseWriter, r *http.Request) {
	host, _, err := net.SplitHostPort(r.Host)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		http.Error(w, "the demo proxy tunnels only to loopback addresses", http.StatusForbidden)
		return
	}
	target, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		target.Close()
		return
	}
	s.hold(target)
	defer func() {
		s.release(target)
		s.release(client)
		target.Close()
		client.Close()
	}()
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	var copies sync.WaitGroup
	copies.Go(func() {
		io.Copy(target, brw.Reader) // brw.Reader holds whatever the client sent early
		target.(*net.TCPConn).CloseWrite()
	})
	io.Copy(client, target)
	client.Close()
	copies.Wait()
}

func parseProxyBasic(v string) (user, password string, ok bool) {
	scheme, enc, found := strings.Cut(v, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}

// Echo is a minimal RFC 6455 server handler that echoes every frame it is
// sent, answers pings, and answers a close with the same status.
func (s *Servers) Echo(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		http.Error(w, "this endpoint speaks WebSocket only", http.StatusUpgradeRequired)
		return
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer func() {
		s.release(c)
		c.Close()
	}()
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(sum[:]))
	if brw.Flush() != nil {
		return
	}
	for {
		fin, op, payload, err := ReadClientFrame(brw.Reader)
		if err != nil {
			return
		}
		switch op {
		case 0x8: // close: answer with the same status, then end
			WriteServerFrame(c, true, 0x8, payload)
			return
		case 0x9: // ping
			op = 0xA
		case 0xA: // pong
			continue
		}
		if WriteServerFrame(c, fin, op, payload) != nil {
			return
		}
	}
}

// maxEchoFrame bounds what the demo server holds for one frame.
const maxEchoFrame = 16 << 20

// ReadClientFrame reads one masked frame and returns it unmasked.
func ReadClientFrame(r *bufio.Reader) (fin bool, op byte, payload []byte, err error) {
	var h [14]byte
	if _, err = io.ReadFull(r, h[:2]); err != nil {
		return
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0f
	if h[1]&0x80 == 0 {
		return fin, op, nil, errors.New("client frame is not masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err = io.ReadFull(r, h[2:4]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		if _, err = io.ReadFull(r, h[2:10]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(h[2:10])
	}
	if n > maxEchoFrame {
		return fin, op, nil, errors.New("frame too large for the demo")
	}
	var mask [4]byte
	if _, err = io.ReadFull(r, mask[:]); err != nil {
		return
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return
	}
	for i := range payload {
		payload[i] ^= mask[i%4]
	}
	return fin, op, payload, nil
}

// WriteServerFrame writes one unmasked frame, as a server sends it.
func WriteServerFrame(w io.Writer, fin bool, op byte, payload []byte) error {
	h := make([]byte, 2, 10+len(payload))
	h[0] = op
	if fin {
		h[0] |= 0x80
	}
	switch n := len(payload); {
	case n < 126:
		h[1] = byte(n)
	case n <= 0xffff:
		h[1] = 126
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h[1] = 127
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	_, err := w.Write(append(h, payload...))
	return err
}
