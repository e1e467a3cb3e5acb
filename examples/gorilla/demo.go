package main

import (
	"net/url"
	"strings"

	"github.com/wsdial/wsdial/wsdialtest"
)

// The demo's servers, those of package wsdialtest: an echo server over
// plain TCP and one over TLS, and a CONNECT proxy that wants Basic
// credentials and knows the TLS server by the name echo.test, so that TLS
// inside the tunnel is verified against a name, as it is in real use.

const demoUser, demoPassword = "demo", "gorilla-demo"

// demo runs the servers; stop ends them all and waits.
type demo struct {
	wsURL, wssURL string
	proxy         *wsdialtest.Proxy
	proxyURL      string // with the demo's credentials
	tlsServer     *wsdialtest.Server
	plain         *wsdialtest.Server
}

func startDemo() (*demo, error) {
	d := &demo{plain: wsdialtest.NewEchoServer(), tlsServer: wsdialtest.NewTLSEchoServer()}
	d.proxy = wsdialtest.NewProxy(wsdialtest.WithBasicAuth(demoUser, demoPassword),
		wsdialtest.WithRoute("echo.test:443", strings.TrimPrefix(d.tlsServer.URL, "wss://")))
	u, err := url.Parse(d.proxy.URL)
	if err != nil {
		d.stop()
		return nil, err
	}
	u.User = url.UserPassword(demoUser, demoPassword)
	d.proxyURL = u.String()
	d.wsURL = d.plain.URL + "echo"
	d.wssURL = "wss://echo.test/echo"
	return d, nil
}

func (d *demo) stop() {
	d.proxy.Close()
	d.tlsServer.Close()
	d.plain.Close()
}
