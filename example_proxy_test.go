package wsdial_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/wsdialtest"
)

// Route net/http through the same proxies as the WebSocket dials, leaving
// Transport.Proxy nil: the Dialer already tunnels every connection.
func ExampleDialer_DialContext_httpTransport() {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello through the tunnel")
	})) // stands for your web server
	defer page.Close()
	proxy := wsdialtest.NewProxy() // stands for your proxy
	defer proxy.Close()

	d, err := wsdial.New(wsdial.WithProxy(proxy.URL))
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:    d.DialContext,
		DialTLSContext: d.DialTLSContext,
	}}
	resp, err := client.Get(page.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(resp.Status, ": ", string(body))
	fmt.Println("tunnels:", proxy.Tunnels())
	// Output:
	// 200 OK: hello through the tunnel
	// tunnels: 1
}

// tokenAuth answers a challenge-response scheme, "Token": the proxy's 407
// carries a nonce, and the answer is a hash of the nonce and a secret. NTLM
// and Negotiate plug in the same way, with a library computing each answer
// (see ProxyAuthenticator). tokenAuth holds no per-dial state, so one value
// serves every dial of a Dialer.
type tokenAuth struct{ secret string }

// Start begins one dial's exchange.
func (a tokenAuth) Start(context.Context, *url.URL) (wsdial.ProxyAuthSession, error) {
	return &tokenSession{secret: a.secret}, nil
}

// tokenSession runs one dial's exchange: nothing, then the answer.
type tokenSession struct{ secret string }

// Next answers each of the proxy's challenges in turn.
func (s *tokenSession) Next(_ context.Context, challenge *http.Response) (string, error) {
	if challenge == nil {
		return "", nil // let the proxy say which schemes it takes
	}
	for _, v := range challenge.Header.Values("Proxy-Authenticate") {
		if nonce, ok := strings.CutPrefix(v, "Token nonce="); ok {
			return "Token " + answer(nonce, s.secret), nil
		}
	}
	return "", errors.New("the proxy offers no Token scheme")
}

func answer(nonce, secret string) string {
	sum := sha256.Sum256([]byte(nonce + ":" + secret))
	return hex.EncodeToString(sum[:8])
}

// Answer a proxy's challenges with an authenticator of your own. The
// exchange runs on one connection, as NTLM requires.
func ExampleWithProxyAuthenticator() {
	srv := wsdialtest.NewEchoServer() // stands for your server
	defer srv.Close()
	// A gateway that challenges with a nonce, standing for yours.
	proxy := wsdialtest.NewProxy(wsdialtest.WithAuthFunc(func(authorization string) (string, bool) {
		return "Token nonce=n0nce", authorization == "Token "+answer("n0nce", "s3cret")
	}))
	defer proxy.Close()

	d, err := wsdial.New(wsdial.WithProxy(proxy.URL), wsdial.WithProxyAuthenticator(tokenAuth{secret: "s3cret"}))
	if err != nil {
		log.Fatal(err)
	}
	conn, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	conn.Close()
	fmt.Println("authenticated; tunnels:", proxy.Tunnels())
	// Output: authenticated; tunnels: 1
}

// schemeToken is tokenAuth, naming its scheme, so that a Dialer can carry it
// beside others. It lives in this file, beside tokenAuth, so that the
// example's program on pkg.go.dev holds both. The modules github.com/wsdial/wsdial/ntlm and
// github.com/wsdial/wsdial/negotiate provide authenticators that name theirs.
type schemeToken struct{ tokenAuth }

func (schemeToken) Scheme() string { return "Token" }

// Carry several authenticators, as curl's --proxy-anyauth does: the Dialer
// sends the first CONNECT without credentials, picks the strongest scheme
// the proxy's 407 offers, and falls back to the next when it fails.
func ExampleProxyAuthScheme() {
	srv := wsdialtest.NewEchoServer() // stands for your server
	defer srv.Close()
	// A gateway that offers only its Token scheme, standing for yours.
	proxy := wsdialtest.NewProxy(wsdialtest.WithAuthFunc(func(authorization string) (string, bool) {
		return "Token nonce=n0nce", authorization == "Token "+answer("n0nce", "s3cret")
	}))
	defer proxy.Close()

	d, err := wsdial.New(
		wsdial.WithProxy(proxy.URL),
		wsdial.WithProxyAuthenticator(wsdial.BasicProxyAuth(), schemeToken{tokenAuth{secret: "s3cret"}}),
	)
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	c.Close()
	fmt.Println("authenticated by Token; tunnels:", proxy.Tunnels())
	// Output: authenticated by Token; tunnels: 1
}
