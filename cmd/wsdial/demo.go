package main

import (
	"bufio"
	"context"
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

// The demo's proxy credentials. They exist only inside the process.
const demoUser, demoPassword = "demo", "wsdial-demo"

// demoInput is what the demo types.
const demoInput = "hello, world\nthrough an authenticating proxy\nbye\n"

// demo starts an echo server and a CONNECT proxy on loopback, dials the one
// through the other with the stage trace on, and shuts both down again.
func demo(ctx context.Context, f flags, stdout, stderr io.Writer) int {
	var servers demoServers
	defer servers.stop()
	echo, err := servers.listen(http.HandlerFunc(serveEcho))
	if err != nil {
		fmt.Fprintf(stderr, "wsdial: demo: %v\n", err)
		return exitFailure
	}
	proxy, err := servers.listen(http.HandlerFunc(servers.serveConnect))
	if err != nil {
		fmt.Fprintf(stderr, "wsdial: demo: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(stderr, "demo: echo server at ws://%s/echo, CONNECT proxy with Basic auth at %s\n", echo, proxy)
	f.proxy = fmt.Sprintf("http://%s:%s@%s", demoUser, demoPassword, proxy)
	f.verbose = true
	opts, err := f.options(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "wsdial: demo: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "demo: sending %q\n", strings.Split(strings.TrimSpace(demoInput), "\n"))
	code := session(ctx, "ws://"+echo+"/echo", opts, f.raw, strings.NewReader(demoInput), stdout, stderr)
	if code == exitOK {
		fmt.Fprintln(stderr, "demo: every message came back; closed cleanly with 1000")
	}
	return code
}

// demoServers runs the demo's servers and owns every goroutine and
// connection they start.
type demoServers struct {
	wg      sync.WaitGroup
	mu      sync.Mutex
	servers []*http.Server
	conns   map[net.Conn]bool
}

func (s *demoServers) listen(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ConnState: s.track}
	s.mu.Lock()
	s.servers = append(s.servers, srv)
	s.mu.Unlock()
	s.wg.Go(func() { srv.Serve(ln) })
	return ln.Addr().String(), nil
}

// track remembers hijacked connections, which http.Server no longer closes.
func (s *demoServers) track(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns == nil {
		s.conns = map[net.Conn]bool{}
	}
	switch state {
	case http.StateHijacked:
		s.conns[c] = true
	case http.StateClosed:
		delete(s.conns, c)
	}
}

func (s *demoServers) stop() {
	s.mu.Lock()
	for _, srv := range s.servers {
		srv.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// serveConnect is an HTTP CONNECT proxy that demands Basic authentication
// and tunnels only to loopback addresses.
func (s *demoServers) serveConnect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "this proxy only tunnels", http.StatusMethodNotAllowed)
		return
	}
	user, password, ok := parseProxyBasic(r.Header.Get("Proxy-Authorization"))
	if !ok || subtle.ConstantTimeCompare([]byte(user+":"+password), []byte(demoUser+":"+demoPassword)) != 1 {
		w.Header().Set("Proxy-Authenticate", `Basic realm="wsdial demo"`)
		http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
		return
	}
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
	s.mu.Lock()
	s.conns[target] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, target)
		s.mu.Unlock()
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

// serveEcho is a minimal RFC 6455 server that echoes every frame it is sent.
func serveEcho(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		http.Error(w, "this endpoint speaks WebSocket only", http.StatusUpgradeRequired)
		return
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(sum[:]))
	if brw.Flush() != nil {
		return
	}
	for {
		fin, op, payload, err := readClientFrame(brw.Reader)
		if err != nil {
			return
		}
		switch op {
		case 0x8: // close: answer with the same status, then end
			writeServerFrame(c, true, 0x8, payload)
			return
		case 0x9: // ping
			op = 0xA
		case 0xA: // pong
			continue
		}
		if writeServerFrame(c, fin, op, payload) != nil {
			return
		}
	}
}

// maxEchoFrame bounds what the demo server holds for one frame.
const maxEchoFrame = 16 << 20

func readClientFrame(r *bufio.Reader) (fin bool, op byte, payload []byte, err error) {
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

func writeServerFrame(w io.Writer, fin bool, op byte, payload []byte) error {
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
