// Command proxyauth answers a proxy's 407 challenges with a custom
// ProxyAuthenticator: here a token scheme, "Token <value>", that a gateway
// asks for after a first request without credentials. NTLM and Negotiate
// plug in the same way, with a library computing each answer (see the
// ProxyAuthenticator documentation).
//
//	go run ./examples/proxyauth
//
// It starts a token-checking proxy and an echo server on loopback, dials the
// one through the other, and prints the rounds.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"strings"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/wsdialtest"
)

const token = "s3cr3t-token"

// tokenAuth answers "Token" challenges. It holds no per-dial state, so one
// value serves every dial of a Dialer.
type tokenAuth struct{ token string }

func (a tokenAuth) Start(context.Context, *url.URL) (wsdial.ProxyAuthSession, error) {
	return &tokenSession{token: a.token}, nil
}

// tokenSession answers one dial's challenges.
type tokenSession struct {
	token string
	round int
}

func (s *tokenSession) Next(_ context.Context, challenge *http.Response) (string, error) {
	s.round++
	if challenge == nil {
		fmt.Println("round 1: no credentials")
		return "", nil // let the proxy say what it wants
	}
	for _, v := range challenge.Header.Values("Proxy-Authenticate") {
		if strings.HasPrefix(v, "Token") {
			fmt.Printf("round %d: the proxy asked %q; answering with the token\n", s.round, v)
			return "Token " + s.token, nil
		}
	}
	return "", errors.New("the proxy offers no Token scheme")
}

func main() {
	echo := wsdialtest.NewEchoServer()
	defer echo.Close()
	// The proxy demands "Token s3cr3t-token", then tunnels to loopback targets.
	proxy := wsdialtest.NewProxy(wsdialtest.WithAuthFunc(func(authorization string) (string, bool) {
		return `Token realm="gateway"`, authorization == "Token "+token
	}))
	defer proxy.Close()

	d, err := wsdial.New(wsdial.WithProxy(proxy.URL), wsdial.WithProxyAuthenticator(tokenAuth{token}))
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), echo.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.WriteMessage(wsdial.TextMessage, []byte("authenticated"))
	_, msg, err := c.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("echo: %s\n", msg)
}
