package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// The demo's servers. A sub-module cannot import wsdial's
// internal/demoserver, so this is a small one of its own, on gorilla's
// Upgrader: an echo server that first says what it saw of TLS, and a
// CONNECT proxy that prints each tunnel it opens.

const demoUser, demoPassword = "demo", "gorilla-demo"

// demo runs the servers and owns their goroutines and connections: stop
// ends them all and waits.
type demo struct {
	wsURL, wssURL string
	proxyAddr     string         // host:port
	proxyURL      string         // with the demo's credentials
	roots         *x509.CertPool // trusts the TLS echo server

	out     io.Writer
	wg      sync.WaitGroup
	mu      sync.Mutex
	stopped bool
	servers []*http.Server
	conns   map[net.Conn]bool
}

func startDemo(out io.Writer) (*demo, error) {
	d := &demo{out: out, conns: map[net.Conn]bool{}}
	cert, err := selfSigned()
	if err != nil {
		return nil, err
	}
	d.roots = x509.NewCertPool()
	d.roots.AddCert(cert.Leaf)
	ws, err := d.serve(d.echo, nil)
	if err == nil {
		var wss string
		wss, err = d.serve(d.echo, &tls.Config{Certificates: []tls.Certificate{cert}})
		if err == nil {
			d.proxyAddr, err = d.serve(d.proxy, nil)
		}
		_, port, _ := net.SplitHostPort(wss)
		d.wsURL = "ws://" + ws + "/echo"
		d.wssURL = "wss://localhost:" + port + "/echo" // a name, for SNI
		d.proxyURL = "http://" + demoUser + ":" + demoPassword + "@" + d.proxyAddr
	}
	if err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

// serve serves h on a new loopback port, over TLS when cfg is set.
func (d *demo) serve(h http.HandlerFunc, cfg *tls.Config) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	// http.Server neither waits for handlers nor remembers the connections
	// they hijack, and every handler here hijacks: demo counts both.
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d.mu.Lock()
			if d.stopped {
				d.mu.Unlock()
				return
			}
			d.wg.Add(1)
			d.mu.Unlock()
			defer d.wg.Done()
			h(w, r)
		}),
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateHijacked {
				d.hold(c)
			}
		},
	}
	d.mu.Lock()
	d.servers = append(d.servers, srv)
	d.mu.Unlock()
	d.wg.Go(func() { srv.Serve(ln) })
	return ln.Addr().String(), nil
}

// hold keeps c for stop to close, or closes it if stop has run.
func (d *demo) hold(c net.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		c.Close()
		return
	}
	d.conns[c] = true
}

func (d *demo) stop() {
	d.mu.Lock()
	d.stopped = true
	for _, srv := range d.servers {
		srv.Close()
	}
	for c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	d.wg.Wait()
}

var upgrader websocket.Upgrader

// echo greets with what the server saw of TLS, then echoes every message.
func (d *demo) echo(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	greeting := "server: no TLS"
	if r.TLS != nil {
		greeting = fmt.Sprintf("server: TLS, server name %q", r.TLS.ServerName)
	}
	if c.WriteMessage(websocket.TextMessage, []byte(greeting)) != nil {
		return
	}
	for {
		// A close ends the loop once gorilla's default handler has answered it.
		t, msg, err := c.ReadMessage()
		if err != nil || c.WriteMessage(t, append([]byte("echo: "), msg...)) != nil {
			return
		}
	}
}

var proxyAuth = "Basic " + base64.StdEncoding.EncodeToString([]byte(demoUser+":"+demoPassword))

// proxy tunnels CONNECT requests that carry the demo's credentials, to
// loopback targets only.
func (d *demo) proxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "this proxy only tunnels", http.StatusMethodNotAllowed)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Proxy-Authorization")), []byte(proxyAuth)) != 1 {
		w.Header().Set("Proxy-Authenticate", `Basic realm="demo"`)
		http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
		return
	}
	host, _, err := net.SplitHostPort(r.Host)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		http.Error(w, "the demo proxy tunnels only to loopback", http.StatusForbidden)
		return
	}
	up, err := net.Dial("tcp", r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	d.hold(up)
	defer up.Close()
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer client.Close()
	fmt.Fprintf(d.out, "proxy: CONNECT %s\n", host)
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	var copies sync.WaitGroup
	copies.Go(func() {
		io.Copy(up, brw.Reader) // brw.Reader holds whatever the client sent early
		up.(*net.TCPConn).CloseWrite()
	})
	io.Copy(client, up)
	client.Close()
	copies.Wait()
}

// selfSigned makes a certificate for localhost that is its own root.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, err
}
