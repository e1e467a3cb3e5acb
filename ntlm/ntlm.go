// Package ntlm answers HTTP proxies' NTLM challenges for wsdial, with
// NTLMv2 responses only, from the credentials in the proxy URL:
//
//	d, err := wsdial.New(
//		wsdial.WithProxy("http://CORP%5Cjane:secret@proxy.corp:3128"),
//		wsdial.WithProxyAuthenticator(ntlm.New()),
//	)
//
// The user information names the account as DOMAIN\user or user@domain
// (a user principal name), with the backslash or the at sign
// percent-encoded in the URL (%5C, %40), or as a bare user. The messages are
// made by github.com/Azure/go-ntlmssp. All three legs run on one
// connection, as NTLM requires. When the proxy closes it before it has
// challenged, the exchange starts over on the next, once; a proxy that
// closes the connection its challenge is bound to cannot finish NTLM, and
// the session gives up at once, so that a Dialer with several
// authenticators moves on to the next scheme.
//
// No error this package returns, and nothing it logs, holds the password,
// its hash, or a message of the exchange.
package ntlm

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	ntlmssp "github.com/Azure/go-ntlmssp"
	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/internal/authchallenge"
)

// New returns an authenticator for proxies that ask for NTLM. It takes the
// credentials from the user information of each proxy URL it is given, so
// one authenticator serves every proxy of a Dialer.
func New() wsdial.ProxyAuthenticator { return authenticator{} }

type authenticator struct{}

// Scheme names NTLM, for a Dialer that chooses among several
// authenticators.
func (authenticator) Scheme() string { return "NTLM" }

// Start reads the credentials for one dial through proxy.
func (authenticator) Start(_ context.Context, proxy *url.URL) (wsdial.ProxyAuthSession, error) {
	if proxy.User == nil {
		return nil, errors.New("ntlm: the proxy URL has no user information; NTLM takes DOMAIN\\user:password or user@domain:password from it")
	}
	user := proxy.User.Username()
	pass, ok := proxy.User.Password()
	switch domain, name, found := strings.Cut(user, `\`); {
	case user == "":
		return nil, errors.New("ntlm: the proxy URL's user information has no user name")
	case found && (domain == "" || name == ""):
		return nil, fmt.Errorf("ntlm: the user %q names no domain or no user; write DOMAIN\\user", user)
	case !ok:
		return nil, fmt.Errorf("ntlm: the proxy URL gives no password for %q", user)
	}
	return &session{user: user, pass: pass}, nil
}

// The states of one exchange.
const (
	idle          = iota // nothing sent on this connection
	negotiated           // the NEGOTIATE message went out
	authenticated        // the AUTHENTICATE message went out
)

type session struct {
	user, pass string
	state      int
	restarted  bool // the exchange has started over on a new connection
}

// Next sends the NEGOTIATE message first, answers the proxy's CHALLENGE
// with the AUTHENTICATE message, and gives up when the proxy refuses that.
func (s *session) Next(_ context.Context, challenge *http.Response) (string, error) {
	if challenge == nil {
		return s.negotiate()
	}
	c, offered := authchallenge.Find(challenge.Header.Values("Proxy-Authenticate"), "NTLM")
	switch {
	case !offered:
		return "", errors.New("ntlm: the proxy does not offer NTLM")
	case s.state == authenticated:
		return "", fmt.Errorf("ntlm: the proxy refused the credentials of %s", s.user)
	case challenge.Close && s.state == negotiated && c.Token68() != "":
		// A proxy that drops the connection its own challenge is bound to
		// does the same on the next one: starting over would only repeat it.
		return "", errors.New("ntlm: the proxy closed the connection its challenge is bound to; NTLM needs one connection kept open for the whole exchange")
	case challenge.Close && s.restarted:
		return "", errors.New("ntlm: the proxy closed the connection again before it sent a challenge; NTLM needs one connection kept open for the whole exchange")
	case challenge.Close:
		// The connection, and the exchange bound to it, are gone; once, a
		// new one may do better.
		s.restarted = true
		return s.negotiate()
	case c.Token68() == "" && s.state == negotiated:
		return "", errors.New("ntlm: the proxy answered the NEGOTIATE message without a challenge")
	case c.Token68() == "":
		return s.negotiate()
	case s.state != negotiated:
		return "", errors.New("ntlm: the proxy sent a challenge before the NEGOTIATE message")
	}
	raw, err := base64.StdEncoding.DecodeString(c.Token68())
	if err != nil {
		return "", errors.New("ntlm: the proxy's challenge is not base64")
	}
	msg, err := authenticate(raw, s.user, s.pass)
	if err != nil {
		return "", err
	}
	s.state = authenticated
	return "NTLM " + base64.StdEncoding.EncodeToString(msg), nil
}

func (s *session) negotiate() (string, error) {
	// Neither the domain nor the workstation: the server needs neither, and
	// they would say more about this machine than the exchange needs.
	msg, err := ntlmssp.NewNegotiateMessage("", "")
	if err != nil {
		return "", fmt.Errorf("ntlm: making the NEGOTIATE message: %w", err)
	}
	s.state = negotiated
	return "NTLM " + base64.StdEncoding.EncodeToString(msg), nil
}

// authenticate makes the AUTHENTICATE message that answers challenge.
func authenticate(challenge []byte, user, pass string) ([]byte, error) {
	norm, err := normalize(challenge)
	if err != nil {
		return nil, err
	}
	msg, err := ntlmssp.NewAuthenticateMessage(norm, user, pass, nil)
	if err != nil {
		// The library's errors describe the message, never the credentials.
		return nil, fmt.Errorf("ntlm: the proxy's challenge: %w", err)
	}
	return msg, nil
}
