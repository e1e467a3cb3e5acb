package wsdial_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log"
	"net/http"
	"net/url"
	"strings"

	"github.com/wsdial/wsdial"
)

// Route net/http through the same proxies as the WebSocket dials, leaving
// Transport.Proxy nil: the Dialer already tunnels every connection.
func ExampleDialer_DialContext_httpTransport() {
	d, err := wsdial.New(wsdial.WithProxy("http://alice:secret@proxy.corp.example:3128"))
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:    d.DialContext,
		DialTLSContext: d.DialTLSContext,
	}}
	resp, err := client.Get("https://intranet.example/")
	if err != nil {
		return
	}
	resp.Body.Close()
}

// ntlmClient stands for an NTLM library, which stays in your own module.
type ntlmClient interface {
	Negotiate() []byte                                           // the type 1 message
	Authenticate(challenge []byte, user, password string) []byte // the type 3 message
}

// ntlmAuth plugs that library into wsdial. It holds no per-dial state, so one
// value serves every dial of a Dialer.
type ntlmAuth struct{ lib ntlmClient }

// Start begins one dial's exchange, with the credentials of the proxy URL.
func (a ntlmAuth) Start(_ context.Context, proxy *url.URL) (wsdial.ProxyAuthSession, error) {
	return &ntlmSession{lib: a.lib, user: proxy.User}, nil
}

// ntlmSession runs one dial's exchange: nothing, then type 1, then type 3.
type ntlmSession struct {
	lib  ntlmClient
	user *url.Userinfo
}

// Next answers each of the proxy's challenges in turn.
func (s *ntlmSession) Next(_ context.Context, challenge *http.Response) (string, error) {
	if challenge == nil {
		return "", nil // let the proxy say which schemes it takes
	}
	for _, v := range challenge.Header.Values("Proxy-Authenticate") {
		scheme, token, _ := strings.Cut(v, " ")
		if !strings.EqualFold(scheme, "NTLM") {
			continue
		}
		if token == "" || challenge.Close {
			// First leg, or the proxy dropped the connection: start over.
			return "NTLM " + base64.StdEncoding.EncodeToString(s.lib.Negotiate()), nil
		}
		chal, err := base64.StdEncoding.DecodeString(token)
		if err != nil {
			return "", err
		}
		pass, _ := s.user.Password()
		return "NTLM " + base64.StdEncoding.EncodeToString(s.lib.Authenticate(chal, s.user.Username(), pass)), nil
	}
	return "", errors.New("the proxy offers no NTLM")
}

// Answer an NTLM proxy's challenges with a library of your choice. The
// exchange runs on one connection, as NTLM requires.
func ExampleWithProxyAuthenticator() {
	var lib ntlmClient // from the NTLM library you use
	d, err := wsdial.New(
		wsdial.WithProxy("http://CORP%5Calice:secret@proxy.corp.example:8080"),
		wsdial.WithProxyAuthenticator(ntlmAuth{lib}),
	)
	if err != nil {
		log.Fatal(err)
	}
	conn, err := d.DialWebSocket(context.Background(), "wss://chat.example/socket")
	if err != nil {
		return
	}
	conn.Close()
}
