package wsdial

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/wsdial/wsdial/internal/authchallenge"
)

// maxAuthRounds bounds the CONNECT requests of one dial, so that a proxy that
// challenges forever cannot hold a dial for longer than a few round trips.
// Negotiate and NTLM need three; the rest leaves room for a proxy that
// drops the connection once along the way. A Dialer with several
// authenticators allows roundsPerFallback more for each one past the first.
const (
	maxAuthRounds     = 5
	roundsPerFallback = 3
)

// ProxyAuthenticator answers the 407 challenges of HTTP proxies, for
// authentication schemes beyond Basic such as NTLM and Negotiate (Kerberos).
// Set it with WithProxyAuthenticator. It is shared by every dial of a Dialer,
// so it must be safe for concurrent use; what one exchange needs to remember
// lives in the ProxyAuthSession that Start returns.
//
// A dial through an HTTP proxy calls Start once, then the session's Next
// before the first CONNECT request and after each 407 reply, at most five
// requests in all (more with several authenticators, see ProxyAuthScheme). While the proxy keeps the connection open, the requests
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
// security context. The modules github.com/wsdial/wsdial/ntlm and
// github.com/wsdial/wsdial/negotiate are built this way, on go-ntlmssp and
// gokrb5; the main module depends on neither.
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

// ProxyAuthScheme is implemented by a ProxyAuthenticator that speaks one
// HTTP authentication scheme. It lets a Dialer carry several authenticators
// and choose among them as curl's --proxy-anyauth does:
//
//	d, err := wsdial.New(
//		wsdial.WithProxy("http://CORP%5Cjane:secret@proxy.corp:3128"),
//		wsdial.WithProxyAuthenticator(negotiateAuth, ntlm.New(), wsdial.BasicProxyAuth()),
//	)
//
// With several authenticators, the first CONNECT request goes without
// credentials. From the schemes the proxy's 407 offers, the Dialer picks the
// strongest one it has an authenticator for (Negotiate, then NTLM, then any
// other scheme in the order given, then Basic) and runs that
// authenticator's exchange. When the exchange fails before the proxy
// accepts (its Start or Next returns an error, or Next gives up with ""),
// the Dialer falls back to the next scheme offered, on a new connection
// when the failed one had sent credentials: proxies tie an exchange, and
// its refusal, to the connection. The dial fails with
// ErrProxyAuthRequired once every offered scheme has failed; the error names
// each scheme and why it failed. Such a dial may take five requests and
// three more for each authenticator past the first.
//
// With one authenticator, the Dialer uses it for every 407, whatever it
// names, exactly as it would an authenticator without Scheme.
type ProxyAuthScheme interface {
	ProxyAuthenticator
	// Scheme returns the scheme's name as a Proxy-Authenticate field
	// spells it: "Negotiate", "NTLM", "Basic". Case does not matter.
	Scheme() string
}

// ProxyAuthVerifier is implemented by a ProxyAuthSession that checks the
// proxy's reply that opened the tunnel, as Negotiate's mutual
// authentication does with the proxy's final token.
type ProxyAuthVerifier interface {
	ProxyAuthSession
	// Verify is called with the header of the 2xx reply that opened the
	// tunnel, before any byte goes through it. An error closes the tunnel,
	// and the dial fails with a *ProxyError that wraps the error.
	Verify(ctx context.Context, header http.Header) error
}

// BasicProxyAuth returns the built-in Basic authenticator, which a Dialer
// uses when it has no other: Basic credentials from the proxy URL's user
// information. Give it to WithProxyAuthenticator beside other
// authenticators to let Basic be the last fallback (see ProxyAuthScheme).
// Basic shows the password to whoever reads the request: list it only for
// proxies reached over https:// or across a network you trust, as a proxy
// that offers nothing else gets it.
func BasicProxyAuth() ProxyAuthenticator { return basicAuth{} }

// basicAuth is the built-in authenticator: Basic credentials from the proxy
// URL's user information, sent with the first request (as net/http and curl
// do, saving a round trip), never retried.
type basicAuth struct{}

func (basicAuth) Scheme() string { return "Basic" }

func (basicAuth) Start(_ context.Context, proxy *url.URL) (ProxyAuthSession, error) {
	return basicSession{proxy.User}, nil
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

// schemeRank orders the schemes a Dialer tries, strongest first.
func schemeRank(scheme string) int {
	switch strings.ToLower(scheme) {
	case "negotiate":
		return 0
	case "ntlm":
		return 1
	case "basic":
		return 3
	}
	return 2
}

// newAnyAuth makes the authenticator of a Dialer with several, ranked by
// scheme. Each must name its scheme.
func newAnyAuth(auths []ProxyAuthenticator) (*anyAuth, error) {
	a := &anyAuth{}
	for i, x := range auths {
		s, ok := x.(ProxyAuthScheme)
		if !ok {
			return nil, fmt.Errorf("proxy authenticator %d of %d (%T) does not name its scheme: with several, each must implement ProxyAuthScheme", i+1, len(auths), x)
		}
		name := s.Scheme()
		if name == "" || hasCTL(name) || strings.ContainsAny(name, " \t,") {
			return nil, fmt.Errorf("proxy authenticator %d of %d (%T) names the scheme %q, which is not a token", i+1, len(auths), x, clip(name))
		}
		a.auths = append(a.auths, namedAuth{name, x})
	}
	slices.SortStableFunc(a.auths, func(x, y namedAuth) int { return cmp.Compare(schemeRank(x.scheme), schemeRank(y.scheme)) })
	return a, nil
}

type namedAuth struct {
	scheme string
	ProxyAuthenticator
}

// anyAuth chooses among several authenticators by the schemes a proxy
// offers; see ProxyAuthScheme.
type anyAuth struct{ auths []namedAuth }

func (a *anyAuth) Start(_ context.Context, proxy *url.URL) (ProxyAuthSession, error) {
	return &anySession{auths: a.auths, proxy: proxy, tried: make([]bool, len(a.auths))}, nil
}

// rounds is the bound on the requests of one dial with these authenticators.
func (a *anyAuth) rounds() int { return maxAuthRounds + roundsPerFallback*(len(a.auths)-1) }

// authRounds is the bound on the requests of one dial with auth.
func authRounds(auth ProxyAuthenticator) int {
	if a, ok := auth.(*anyAuth); ok {
		return a.rounds()
	}
	return maxAuthRounds
}

// anySession runs one authenticator's session at a time, and moves to the
// next offered scheme when it fails.
type anySession struct {
	auths   []namedAuth
	proxy   *url.URL
	tried   []bool
	offered []string // every scheme the proxy's 407s have offered, in order

	cur     ProxyAuthSession
	curName string
	fresh   bool // the next request goes on a new connection
	dirty   bool // a scheme has sent credentials on this connection
	fails   schemeFailures
}

func (s *anySession) Next(ctx context.Context, challenge *http.Response) (string, error) {
	if challenge == nil {
		// Learn what the proxy offers before sending any credentials.
		return "", nil
	}
	// A proxy lists its schemes on a fresh challenge and only the one in
	// play mid-exchange: what it offered once, it still accepts.
	for _, c := range authchallenge.Parse(challenge.Header.Values("Proxy-Authenticate")) {
		if !slices.ContainsFunc(s.offered, func(o string) bool { return strings.EqualFold(o, c.Scheme) }) {
			s.offered = append(s.offered, c.Scheme)
		}
	}
	if s.cur != nil {
		authz, err := s.cur.Next(ctx, challenge)
		if err == nil && authz != "" {
			return authz, nil
		}
		s.fails = append(s.fails, schemeFailure{s.curName, err})
		s.cur = nil
	}
	for i, a := range s.auths {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		if s.tried[i] || !s.offers(a.scheme) {
			continue
		}
		s.tried[i] = true
		// After a scheme has sent credentials and failed, the next starts on
		// a connection of its own: a proxy may keep the refused identity on
		// the old one, as squid does, and refuse whatever follows there.
		fresh := s.dirty && !challenge.Close
		ch := challenge
		if fresh && !ch.Close {
			copied := *challenge
			copied.Close = true
			ch = &copied
		}
		authz, sess, err := begin(ctx, a, s.proxy, ch)
		if err == nil && authz == "" {
			err = errNothingToSend
		}
		if err != nil {
			s.fails = append(s.fails, schemeFailure{a.scheme, err})
			continue
		}
		s.cur, s.curName, s.fresh, s.dirty = sess, a.scheme, fresh, true
		return authz, nil
	}
	if len(s.fails) > 0 {
		return "", s.fails
	}
	return "", s.noScheme()
}

// begin starts a's session after the first 407 of the dial: its first
// request, or, for a session that waits to see a challenge, its answer to
// this one.
func begin(ctx context.Context, a namedAuth, proxy *url.URL, challenge *http.Response) (string, ProxyAuthSession, error) {
	sess, err := startAuth(ctx, a.ProxyAuthenticator, proxy)
	if err != nil {
		return "", nil, err
	}
	authz, err := sess.Next(ctx, nil)
	if err == nil && authz == "" {
		authz, err = sess.Next(ctx, challenge)
	}
	return authz, sess, err
}

func (s *anySession) offers(scheme string) bool {
	return slices.ContainsFunc(s.offered, func(o string) bool { return strings.EqualFold(o, scheme) })
}

func (s *anySession) noScheme() error {
	if len(s.offered) == 0 {
		return errors.New("the proxy's 407 offers no authentication scheme")
	}
	ours := make([]string, len(s.auths))
	for i, a := range s.auths {
		ours[i] = a.scheme
	}
	theirs := make([]string, len(s.offered))
	for i, o := range s.offered {
		theirs[i] = clip(o)
	}
	return fmt.Errorf("the proxy offers %s; this Dialer authenticates with %s", strings.Join(theirs, ", "), strings.Join(ours, ", "))
}

// Verify passes the tunnel's reply to the session that was accepted.
func (s *anySession) Verify(ctx context.Context, header http.Header) error {
	if v, ok := s.cur.(ProxyAuthVerifier); ok {
		return v.Verify(ctx, header)
	}
	return nil
}

// freshConnection reports whether the request that sess has just answered
// for must go on a new connection, as the first of a scheme that follows
// one that failed.
func freshConnection(sess ProxyAuthSession) bool {
	s, ok := sess.(*anySession)
	if !ok || !s.fresh {
		return false
	}
	s.fresh = false
	return true
}

// verifyTunnel lets a verifying session check the reply that opened the
// tunnel.
func verifyTunnel(ctx context.Context, sess ProxyAuthSession, reply *http.Response) error {
	v, ok := sess.(ProxyAuthVerifier)
	if !ok {
		return nil
	}
	header := http.Header{}
	if reply != nil {
		header = reply.Header
	}
	if err := v.Verify(ctx, header); err != nil {
		return fmt.Errorf("the proxy accepted, but did not prove who it is: %w", err)
	}
	return nil
}

// errNothingToSend is the failure of a scheme whose session had no first
// message, such as Basic for a proxy URL without user information.
var errNothingToSend = errors.New("no credentials to send")

// schemeFailure is why one scheme failed: err, or nil when the proxy
// refused what the scheme's session sent.
type schemeFailure struct {
	scheme string
	err    error
}

// schemeFailures says why each scheme a Dialer tried failed.
type schemeFailures []schemeFailure

func (f schemeFailures) Error() string {
	var b strings.Builder
	for i, x := range f {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(x.scheme)
		b.WriteString(": ")
		if x.err != nil {
			b.WriteString(x.err.Error())
		} else {
			b.WriteString("refused by the proxy")
		}
	}
	return b.String()
}

func (f schemeFailures) Unwrap() []error {
	var errs []error
	for _, x := range f {
		if x.err != nil {
			errs = append(errs, x.err)
		}
	}
	return errs
}

// startAuth is a.Start, with a session that is missing, which would fail
// the dial later with a panic, refused as an error now.
func startAuth(ctx context.Context, a ProxyAuthenticator, proxy *url.URL) (ProxyAuthSession, error) {
	sess, err := a.Start(ctx, proxy)
	if err == nil && sess == nil {
		err = fmt.Errorf("the authenticator (%T) returned no session and no error", a)
	}
	return sess, err
}
