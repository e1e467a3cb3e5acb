// Package negotiate answers HTTP proxies' Negotiate challenges (SPNEGO,
// RFC 4559) with Kerberos, for wsdial, on github.com/jcmturner/gokrb5:
//
//	auth, err := negotiate.FromEnvironment() // the credentials kinit left
//	if err != nil {
//		log.Fatal(err)
//	}
//	d, err := wsdial.New(wsdial.WithProxy("http://proxy.corp:3128"), wsdial.WithProxyAuthenticator(auth))
//
// The service principal is HTTP/ and the proxy's host as the proxy URL
// writes it, in lower case, with no DNS canonicalisation: a proxy reached
// as http://Proxy.Corp:3128 needs the principal HTTP/proxy.corp in the
// realm.
// The first CONNECT request goes without credentials; the answer to the
// proxy's 407 carries the service ticket, with mutual authentication asked
// for. When the reply that opens the tunnel carries the proxy's final
// token, the tunnel opens only if that token proves the proxy holds the
// service key; a proxy that sends none (squid does not) is accepted, as
// curl and browsers accept it.
//
// A dial ends when its context does, but the KDC exchange under way for it
// does not: gokrb5 takes neither a context nor a dialer, so the exchange
// goes on in a goroutine of its own until it ends by itself, and a ticket
// it gets is cached for the next dial. gokrb5 gives each KDC the realm
// lists five seconds to connect and five more to answer, tries a small
// request over UDP and then TCP (udp_preference_limit = 1 makes it TCP
// alone), and resolves a KDC's name with no bound of its own. A service
// ticket takes one TGS exchange, one more for each referral to another
// realm and for the renewal of a ticket-granting ticket near its end, and
// for a client with a password or keytab that has none, first an AS
// exchange (two, with pre-authentication). One authenticator runs one such
// exchange at a time, and a dial waits for its turn only as long as its
// context. So against a KDC that never answers, cancelled dials leave one
// goroutine and socket behind, for 10 to 15 seconds per KDC listed, per
// exchange.
//
// No error this package returns holds a password, a key or a token.
package negotiate

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/internal/authchallenge"
)

// New returns an authenticator that gets service tickets with cl: a client
// the program made with a password or a keytab (client.NewWithPassword,
// client.NewWithKeytab), which logs in by itself when it needs to, or one
// made from a credential cache. One authenticator serves every proxy of a
// Dialer, and every dial at once; it runs cl's KDC exchanges one at a
// time, as gokrb5's client keeps what a login learns in fields it does not
// guard, so while dials run, nothing else may use cl.
func New(cl *client.Client) wsdial.ProxyAuthenticator {
	return newAuthenticator(cl)
}

func newAuthenticator(cl *client.Client) *authenticator {
	return &authenticator{cl: cl, kdc: make(chan struct{}, 1)}
}

// authenticator holds the Kerberos client; from a credential cache, also
// where it came from and when its ticket-granting ticket ends, so that an
// expired one is reported as such before any KDC sees it.
type authenticator struct {
	cl     *client.Client
	ccache string
	tgtEnd time.Time
	// kdc is held by the one KDC exchange under way, which may outlive the
	// dial that began it: dials wait their turn, each as long as its
	// context, so cancelled ones leave at most this exchange behind.
	kdc chan struct{}
}

// Scheme names Negotiate, for a Dialer that chooses among several
// authenticators.
func (*authenticator) Scheme() string { return "Negotiate" }

// Start begins one dial's exchange with the proxy's service principal.
func (a *authenticator) Start(_ context.Context, proxy *url.URL) (wsdial.ProxyAuthSession, error) {
	if a.cl == nil || a.cl.Credentials == nil {
		return nil, errors.New("negotiate: no Kerberos client")
	}
	if proxy.Hostname() == "" {
		return nil, errors.New("negotiate: the proxy URL has no host to name the service principal")
	}
	// In lower case, as GSSAPI makes a host-based service name: the KDC of
	// MIT or Heimdal holds the principal so, and Active Directory matches
	// it in any case.
	return &session{a: a, spn: "HTTP/" + strings.ToLower(proxy.Hostname())}, nil
}

type session struct {
	a   *authenticator
	spn string

	sent bool
	// What the AP-REP of mutual authentication must show: the session key
	// it is encrypted in, and the time of the authenticator sent.
	key   types.EncryptionKey
	ctime time.Time
	cusec int
}

// Next waits for the proxy's 407, answers it with the service ticket, and
// gives up when the proxy refuses that.
func (s *session) Next(ctx context.Context, challenge *http.Response) (string, error) {
	if challenge == nil {
		return "", nil
	}
	c, offered := authchallenge.Find(challenge.Header.Values("Proxy-Authenticate"), "Negotiate")
	switch {
	case !offered:
		return "", errors.New("negotiate: the proxy does not offer Negotiate")
	case s.sent:
		return "", s.refused(c.Token68())
	}
	tok, err := s.token(ctx)
	if err != nil {
		return "", err
	}
	s.sent = true
	return "Negotiate " + base64.StdEncoding.EncodeToString(tok), nil
}

// refused explains a 407 that answered the ticket, with the Kerberos error
// the proxy's token may carry.
func (s *session) refused(token string) error {
	who := s.a.cl.Credentials.CName().PrincipalNameString() + "@" + s.a.cl.Credentials.Realm()
	if b, err := base64.StdEncoding.DecodeString(token); err == nil && len(b) > 0 {
		if err := checkFinal(b, s.key, s.ctime, s.cusec); err != nil {
			return fmt.Errorf("negotiate: the proxy refused the ticket of %s for %s: %w", who, s.spn, err)
		}
	}
	return fmt.Errorf("negotiate: the proxy refused the ticket of %s for %s", who, s.spn)
}

// Verify checks the proxy's final token, when the reply that opened the
// tunnel carries one.
func (s *session) Verify(_ context.Context, header http.Header) error {
	c, ok := authchallenge.Find(header.Values("Proxy-Authenticate"), "Negotiate")
	if !ok || c.Rest == "" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(c.Token68())
	if err != nil || len(b) == 0 {
		return errors.New("negotiate: the proxy's final token is not base64")
	}
	if err := checkFinal(b, s.key, s.ctime, s.cusec); err != nil {
		return fmt.Errorf("negotiate: mutual authentication with %s failed: %w", s.spn, err)
	}
	return nil
}

// token gets a service ticket for the proxy and wraps it in an SPNEGO
// NegTokenInit. The KDC exchange runs in gokrb5, which takes no context:
// the dial does not wait for it past its own context, and the exchange
// ends by itself, within gokrb5's timeouts (see the package comment).
func (s *session) token(ctx context.Context) ([]byte, error) {
	if s.a.expired(time.Now()) {
		return nil, fmt.Errorf("negotiate: the ticket-granting ticket in %s expired at %s; run kinit", s.a.ccache, s.a.tgtEnd.Format(time.RFC3339))
	}
	type ticket struct {
		tkt messages.Ticket
		key types.EncryptionKey
		err error
	}
	select {
	case s.a.kdc <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	got := make(chan ticket, 1) // the exchange ends by itself; nobody waits for a late one
	go func() {
		defer func() { <-s.a.kdc }()
		tkt, key, err := s.a.cl.GetServiceTicket(s.spn)
		got <- ticket{tkt, key, err}
	}()
	var t ticket
	select {
	case t = <-got:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if t.err != nil {
		return nil, fmt.Errorf("negotiate: no service ticket for %s: %w", s.spn, t.err)
	}
	tok, ctime, cusec, err := initToken(s.a.cl, t.tkt, t.key)
	if err != nil {
		return nil, err
	}
	s.key, s.ctime, s.cusec = t.key, ctime, cusec
	return tok, nil
}

// initToken makes the SPNEGO NegTokenInit that carries an AP-REQ for tkt,
// mutual authentication required, and returns the time its authenticator
// holds, as the AP-REP must repeat it.
func initToken(cl *client.Client, tkt messages.Ticket, key types.EncryptionKey) ([]byte, time.Time, int, error) {
	krb, err := spnego.NewKRB5TokenAPREQ(cl, tkt, key,
		[]int{gssapi.ContextFlagMutual, gssapi.ContextFlagInteg, gssapi.ContextFlagConf},
		[]int{flags.APOptionMutualRequired})
	if err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("negotiate: making the AP-REQ: %w", err)
	}
	// The authenticator as it goes on the wire, where the time has whole
	// seconds only: decrypting it back gives exactly what the proxy sees.
	if err := krb.APReq.DecryptAuthenticator(key); err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("negotiate: reading back the authenticator: %w", err)
	}
	mech, err := krb.Marshal()
	if err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("negotiate: encoding the AP-REQ: %w", err)
	}
	init := spnego.SPNEGOToken{Init: true, NegTokenInit: spnego.NegTokenInit{
		MechTypes:      []asn1.ObjectIdentifier{gssapi.OIDKRB5.OID()},
		MechTokenBytes: mech,
	}}
	tok, err := init.Marshal()
	if err != nil {
		return nil, time.Time{}, 0, fmt.Errorf("negotiate: encoding the SPNEGO token: %w", err)
	}
	return tok, krb.APReq.Authenticator.CTime, krb.APReq.Authenticator.Cusec, nil
}
