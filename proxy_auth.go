package wsdial

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// maxAuthRounds bounds the CONNECT requests of one dial, so that a proxy that
// challenges forever cannot hold a dial for longer than a few round trips.
// Negotiate and NTLM need three; the rest leaves room for a proxy that
// drops the connection once along the way.
const maxAuthRounds = 5

// ProxyAuthenticator answers the 407 challenges of HTTP proxies, for
// authentication schemes beyond Basic such as NTLM and Negotiate (Kerberos).
// Set it with WithProxyAuthenticator. It is shared by every dial of a Dialer,
// so it must be safe for concurrent use; what one exchange needs to remember
// lives in the ProxyAuthSession that Start returns.
//
// A dial through an HTTP proxy calls Start once, then the session's Next
// before the first CONNECT request and after each 407 reply, at most five
// requests in all. While the proxy keeps the connection open, the requests
// go on that one connection, as the connection-bound schemes require.
//
// To plug in an NTLM library, return a session whose Next answers nil with
// "NTLM " plus the base64 Negotiate (type 1) message, then answers the 407
// whose Proxy-Authenticate carries "NTLM <challenge>" with "NTLM " plus the
// Authenticate (type 3) message the library computes from that challenge and
// the credentials in proxy.User. For Kerberos, have Next answer nil (or the
// first 407 that offers "Negotiate") with "Negotiate " plus the SPNEGO token
// that a GSSAPI or SSPI library makes for the service "HTTP@" + the proxy's
// host, and feed any later "Negotiate <token>" challenge back into the same
// security context. The library stays in the program that uses it; wsdial
// depends on none.
type ProxyAuthenticator interface {
	// Start begins authenticating one dial through proxy: the proxy URL as
	// resolved, user information and password included.
	Start(ctx context.Context, proxy *url.URL) (ProxyAuthSession, error)
}

// ProxyAuthSession answers the challenges of one dial through an HTTP proxy.
// Its methods are called from one goroutine, one at a time.
type ProxyAuthSession interface {
	// Next returns the Proxy-Authorization value for the next CONNECT request.
	//
	// challenge is nil before the first request; there, "" sends the request
	// without credentials. After that, challenge is the proxy's last 407
	// reply: its Header holds the Proxy-Authenticate values and its Body the
	// first 1 KiB of the body. When challenge.Close is true the connection
	// is gone (the proxy closed it, or did not frame the body so that it
	// could carry more) and the next request goes on a new one, so a
	// connection-bound scheme must start over. There, "" or an error gives up,
	// and the dial fails with a *ProxyError that matches ErrProxyAuthRequired
	// (and the error, if any).
	Next(ctx context.Context, challenge *http.Response) (string, error)
}

// basicAuth is the built-in authenticator: Basic credentials from the proxy
// URL's user information, sent with the first request (as net/http and curl
// do, saving a round trip), never retried.
type basicAuth struct{}

func (basicAuth) Start(_ context.Context, proxy *url.URL) (ProxyAuthSession, error) {
	return basicSession{proxy.User}, nil
}

// checkBasicUser refuses user information that Basic cannot carry (RFC 7617
// §2): the user-id ends at the first colon, so a colon in the user name
// would send the rest of it as the password; and neither part may hold a
// control character. checkProxy applies it to every http:// and https://
// proxy URL, whatever the authenticator, before any traffic.
func checkBasicUser(u *url.Userinfo) error {
	if u == nil {
		return nil
	}
	pass, _ := u.Password()
	switch {
	case strings.Contains(u.Username(), ":"):
		return errors.New("the proxy user name holds a colon, which Basic authentication cannot carry (RFC 7617 §2)")
	case hasControl(u.Username()) || hasControl(pass):
		return errors.New("the proxy user name or password holds a control character, which Basic authentication cannot carry (RFC 7617 §2)")
	}
	return nil
}

type basicSession struct{ user *url.Userinfo }

func (s basicSession) Next(_ context.Context, challenge *http.Response) (string, error) {
	if challenge != nil || s.user == nil {
		return "", nil
	}
	return basicAuthorization(s.user), nil
}

// basicAuthorization renders user information as a Basic credential. A user
// with no password, or an empty one, still sends "user:" (RFC 7617 §2).
func basicAuthorization(u *url.Userinfo) string {
	pass, _ := u.Password()
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pass))
}
