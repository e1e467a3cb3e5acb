// Command corporate dials a WebSocket the way a program inside a corporate
// network must: the proxy comes from HTTPS_PROXY (or HTTP_PROXY for ws://,
// ALL_PROXY for either), NO_PROXY names what to reach directly, and the
// company's own root CA signs the certificates that TLS must trust.
//
//	HTTPS_PROXY=http://user:pass@proxy.corp.example:3128 \
//	NO_PROXY=.corp.example,10.0.0.0/8 \
//	go run ./examples/corporate -ca /etc/corp/root.pem wss://chat.example/ws
//
// The environment is read once, when New runs. The proxy's own TLS (an
// https:// proxy) is verified with the same CA here, kept apart from the
// target's configuration.
//
// With no URL it plays the whole setup on loopback: a TLS server for
// wss://chat.test/ whose certificate only its own "company CA" signs, and
// a proxy named by HTTPS_PROXY that alone knows where chat.test is.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/wsdialtest"
)

func main() {
	caFile := flag.String("ca", "", "PEM file of the company's root CA, added to the system roots")
	flag.Parse()
	target := flag.Arg(0)
	switch {
	case flag.NArg() > 1:
		fmt.Fprintln(os.Stderr, "usage: corporate [-ca FILE] [wss://URL]")
		os.Exit(2)
	case target == "":
		var stop func()
		target, *caFile, stop = playCorporateNetwork()
		defer stop()
	}

	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			log.Fatal(err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			log.Fatalf("%s holds no PEM certificate", *caFile)
		}
	}
	tlsConfig := &tls.Config{RootCAs: roots}

	d, err := wsdial.New(
		wsdial.WithProxyFromEnvironment(), // the default, named for the reader
		wsdial.WithTLSConfig(tlsConfig),
		wsdial.WithProxyTLSConfig(tlsConfig),
	)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := d.DialWebSocket(ctx, target)
	switch {
	case errors.Is(err, wsdial.ErrProxyAuthRequired):
		log.Fatal("the proxy wants credentials: put them in the proxy URL, or use WithProxyAuthenticator: ", err)
	case errors.Is(err, wsdial.ErrTLS):
		log.Fatal("TLS failed; is the company's root CA given with -ca? ", err)
	case err != nil:
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("connected to", target+":", c.Response().Status, "through", os.Getenv("HTTPS_PROXY"))
}

// playCorporateNetwork starts, on loopback, a TLS echo server for
// wss://chat.test/ and a proxy that routes chat.test to it; sets
// HTTPS_PROXY and NO_PROXY as a company's machines have them; writes the
// server's certificate, its own root, where -ca can read it; and returns
// the URL, that file, and the function that undoes it all.
func playCorporateNetwork() (target, caFile string, stop func()) {
	srv := wsdialtest.NewTLSEchoServer()
	proxy := wsdialtest.NewProxy(wsdialtest.WithRoute("chat.test:443", strings.TrimPrefix(srv.URL, "wss://")))
	dir, err := os.MkdirTemp("", "corporate-ca")
	if err != nil {
		log.Fatal(err)
	}
	caFile = filepath.Join(dir, "root.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		log.Fatal(err)
	}
	os.Setenv("HTTPS_PROXY", proxy.URL)
	os.Setenv("NO_PROXY", ".corp.example,10.0.0.0/8")
	return "wss://chat.test/", caFile, func() {
		proxy.Close()
		srv.Close()
		os.RemoveAll(dir)
	}
}
