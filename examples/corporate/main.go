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
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/wsdial/wsdial"
)

func main() {
	caFile := flag.String("ca", "", "PEM file of the company's root CA, added to the system roots")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: corporate [-ca FILE] wss://URL")
		os.Exit(2)
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
	c, err := d.DialWebSocket(ctx, flag.Arg(0))
	switch {
	case errors.Is(err, wsdial.ErrProxyAuthRequired):
		log.Fatal("the proxy wants credentials: put them in the proxy URL, or use WithProxyAuthenticator: ", err)
	case errors.Is(err, wsdial.ErrTLS):
		log.Fatal("TLS failed; is the company's root CA given with -ca? ", err)
	case err != nil:
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("connected:", c.Response().Status, "via", c.RemoteAddr())
}
