package interop

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/types"
	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/negotiate"
	"github.com/wsdial/wsdial/ntlm"
)

// The peers of peers/auth.sh.
const (
	squidNegotiate = "SQUID_NEGOTIATE" // negotiate_kerberos_auth; accepts jane
	squidNTLM      = "SQUID_NTLM"      // ntlm_fake_auth: the flow, not the password
	squidAnyAuth   = "SQUID_ANYAUTH"   // Basic, NTLM and Negotiate, in that order
)

// kerberos is what auth.sh made: the realm's client configuration, jane's
// password and caches, and the Basic password of WSDIAL\carol.
type kerberos struct {
	config, realm, pass      string
	ccache, expired, refused string // jane's, jane's one-second one, bob's
	basicPass                string
	negotiate, ntlm, anyauth string // the squids' "localhost:port", so the SPN is HTTP/localhost
	krb5conf                 *config.Config
	janeKeys                 []string // jane's long-term keys, hex and base64
}

func loadKerberos(t *testing.T) *kerberos {
	t.Helper()
	local := func(peer string) string {
		_, port, _ := net.SplitHostPort(extraPeer(t, peer))
		return net.JoinHostPort("localhost", port)
	}
	k := &kerberos{
		negotiate: local(squidNegotiate), ntlm: local(squidNTLM), anyauth: local(squidAnyAuth),
	}
	for _, v := range []struct {
		dst  *string
		name string
	}{
		{&k.config, "KRB5_CONFIG"}, {&k.realm, "KRB5_REALM"}, {&k.pass, "KRB5_PASS"},
		{&k.ccache, "KRB5_CCACHE"}, {&k.expired, "KRB5_CCACHE_EXPIRED"}, {&k.refused, "KRB5_CCACHE_REFUSED"},
		{&k.basicPass, "BASIC_PASS"},
	} {
		if *v.dst = os.Getenv("WSDIAL_INTEROP_" + v.name); *v.dst == "" {
			t.Fatalf("WSDIAL_INTEROP_%s is not set", v.name)
		}
	}
	cfg, err := config.Load(k.config)
	if err != nil {
		t.Fatal(err)
	}
	k.krb5conf = cfg
	for _, e := range []int32{etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA1_96} {
		key, _, err := crypto.GetKeyFromPassword(k.pass, types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "jane"), k.realm, e, types.PADataSequence{})
		if err != nil {
			t.Fatal(err)
		}
		k.janeKeys = append(k.janeKeys, hex.EncodeToString(key.KeyValue), base64.StdEncoding.EncodeToString(key.KeyValue))
	}
	return k
}

// fromCache is negotiate.FromEnvironment with the realm's configuration and
// the given cache, as a user who ran kinit has them.
func (k *kerberos) fromCache(t *testing.T, cache string) wsdial.ProxyAuthenticator {
	t.Helper()
	t.Setenv("KRB5_CONFIG", k.config)
	t.Setenv("KRB5CCNAME", "FILE:"+cache)
	a, err := negotiate.FromEnvironment()
	if err != nil {
		t.Fatalf("negotiate.FromEnvironment: %v", err)
	}
	return a
}

// waitExpired waits until the ticket-granting ticket in cache has ended:
// kinit -l 1s made it when the peers started, so it has ended by now but
// for a build faster than a second.
func waitExpired(t *testing.T, cache string) {
	t.Helper()
	cc, err := credentials.LoadCCache(cache)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cc.GetEntries() {
		if d := time.Until(c.EndTime); d > 0 {
			time.Sleep(d + 10*time.Millisecond)
		}
	}
}

// recorder passes through to an authenticator and keeps every
// Proxy-Authorization value it makes, for the secrets check.
type recorder struct {
	inner wsdial.ProxyAuthenticator
	mu    sync.Mutex
	sent  []string
}

func recordAuth(a wsdial.ProxyAuthenticator) *recorder { return &recorder{inner: a} }

func (r *recorder) Scheme() string { return r.inner.(wsdial.ProxyAuthScheme).Scheme() }

func (r *recorder) Start(ctx context.Context, proxy *url.URL) (wsdial.ProxyAuthSession, error) {
	s, err := r.inner.Start(ctx, proxy)
	if err != nil {
		return nil, err
	}
	return &recordingSession{r: r, inner: s}, nil
}

// schemes returns the scheme of each value sent.
func (r *recorder) schemes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, v := range r.sent {
		s, _, _ := strings.Cut(v, " ")
		out = append(out, s)
	}
	return out
}

func (r *recorder) tokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, v := range r.sent {
		if _, tok, ok := strings.Cut(v, " "); ok {
			out = append(out, tok)
		}
	}
	return out
}

type recordingSession struct {
	r     *recorder
	inner wsdial.ProxyAuthSession
}

func (s *recordingSession) Next(ctx context.Context, challenge *http.Response) (string, error) {
	v, err := s.inner.Next(ctx, challenge)
	if v != "" {
		s.r.mu.Lock()
		s.r.sent = append(s.r.sent, v)
		s.r.mu.Unlock()
	}
	return v, err
}

func (s *recordingSession) Verify(ctx context.Context, h http.Header) error {
	if v, ok := s.inner.(wsdial.ProxyAuthVerifier); ok {
		return v.Verify(ctx, h)
	}
	return nil
}

// connCounter counts the TCP connections a Dialer opens.
type connCounter struct {
	mu sync.Mutex
	n  int
}

func (c *connCounter) dialer() *net.Dialer {
	return &net.Dialer{Control: func(string, string, syscall.RawConn) error {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
		return nil
	}}
}

func (c *connCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// authServers are the echo servers the authenticating squids tunnel to.
var authServers = []server{servers[0], servers[1], servers[2], servers[3]}

// checkSecrets fails t when any text holds any secret, or a part of a
// token long enough to matter.
func checkSecrets(t *testing.T, texts, secrets []string) {
	t.Helper()
	for _, text := range texts {
		for _, s := range secrets {
			if s == "" {
				continue
			}
			if strings.Contains(text, s) || len(s) > 40 && strings.Contains(text, s[10:40]) {
				t.Errorf("a secret (%d characters) shows in: %s", len(s), text)
			}
		}
	}
}

// TestProxyNegotiate dials every echo server through squid with
// negotiate_kerberos_auth, with the credentials kinit left: one request
// without them, one with the ticket.
func TestProxyNegotiate(t *testing.T) {
	p := loadPeers(t)
	k := loadKerberos(t)
	auth := recordAuth(k.fromCache(t, k.ccache))
	for _, s := range authServers {
		t.Run(s.name, func(t *testing.T) {
			record(t, "squid Negotiate (kinit)", s.name)
			d := newDialer(t, append(options(p, "http://"+k.negotiate), wsdial.WithProxyAuthenticator(auth))...)
			ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
			defer cancel()
			c, err := d.DialWebSocket(ctx, s.url(p, "localhost"))
			if err != nil {
				t.Fatal(err)
			}
			exchange(t, c)
		})
	}
	for _, s := range auth.schemes() {
		if s != "Negotiate" {
			t.Errorf("sent %s", s)
		}
	}
	// A proxy URL may write the host in any case; the KDC holds the
	// principal in lower case, as GSSAPI asks for it.
	t.Run("host in capitals", func(t *testing.T) {
		record(t, "squid Negotiate (HOST)", authServers[0].name)
		d := newDialer(t, append(options(p, "http://"+strings.ToUpper(k.negotiate)), wsdial.WithProxyAuthenticator(auth))...)
		c, err := d.DialWebSocket(context.Background(), authServers[0].url(p, "localhost"))
		if err != nil {
			t.Fatal(err)
		}
		exchange(t, c)
	})
	// A client made with the password, rather than a cache, logs in itself.
	t.Run("password client", func(t *testing.T) {
		record(t, "squid Negotiate (pw)", authServers[0].name)
		cl := client.NewWithPassword("jane", k.realm, k.pass, k.krb5conf, client.DisablePAFXFAST(true))
		d := newDialer(t, append(options(p, "http://"+k.negotiate), wsdial.WithProxyAuthenticator(negotiate.New(cl)))...)
		c, err := d.DialWebSocket(context.Background(), authServers[0].url(p, "localhost"))
		if err != nil {
			t.Fatal(err)
		}
		exchange(t, c)
	})
}

// TestProxyNegotiateRefusals: a wrong password, an expired ticket and a
// principal the proxy does not accept each fail with ErrProxyAuthRequired,
// and no error, log line or trace shows a password, a key or a token.
func TestProxyNegotiateRefusals(t *testing.T) {
	p := loadPeers(t)
	k := loadKerberos(t)
	wrong := "wrong-" + k.pass
	waitExpired(t, k.expired)
	for _, tc := range []struct {
		name string
		auth func(t *testing.T) wsdial.ProxyAuthenticator
		want string
	}{
		{"wrong password", func(t *testing.T) wsdial.ProxyAuthenticator {
			return negotiate.New(client.NewWithPassword("jane", k.realm, wrong, k.krb5conf, client.DisablePAFXFAST(true)))
		}, "KDC_ERR_PREAUTH_FAILED"},
		{"expired ticket", func(t *testing.T) wsdial.ProxyAuthenticator { return k.fromCache(t, k.expired) },
			"expired at"},
		{"principal not accepted", func(t *testing.T) wsdial.ProxyAuthenticator { return k.fromCache(t, k.refused) },
			"the proxy refused the ticket of bob@WSDIAL.TEST for HTTP/localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recordRefusal(t, "squid Negotiate: "+tc.name)
			rec := recordAuth(tc.auth(t))
			var logs bytes.Buffer
			d := newDialer(t, append(options(p, "http://"+k.negotiate), wsdial.WithProxyAuthenticator(rec),
				wsdial.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))...)
			c, err := d.DialWebSocket(context.Background(), authServers[0].url(p, "localhost"))
			if err == nil {
				c.Close()
				t.Fatal("the dial succeeded")
			}
			want407(t, err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
			t.Logf("error: %v", err)
			checkSecrets(t, []string{err.Error(), fmt.Sprintf("%+v", err), logs.String()},
				append(append([]string{k.pass, wrong}, k.janeKeys...), rec.tokens()...))
		})
	}
}

// TestProxyNTLM runs the three messages of NTLM (NEGOTIATE, CHALLENGE,
// AUTHENTICATE) through squid's ntlm_fake_auth, on one connection per dial.
// The fake helper accepts any user and password: this checks the flow and
// the messages' framing, not a password (the ntlm module's own tests check
// NTLMv2 against MS-NLMP's vectors and a proxy that verifies it).
func TestProxyNTLM(t *testing.T) {
	p := loadPeers(t)
	k := loadKerberos(t)
	proxy := (&url.URL{Scheme: "http", User: url.UserPassword(`WSDIAL\jane`, k.pass), Host: k.ntlm}).String()
	for _, s := range authServers {
		t.Run(s.name, func(t *testing.T) {
			record(t, "squid NTLM (fake helper)", s.name)
			rec := recordAuth(ntlm.New())
			var conns connCounter
			d := newDialer(t, append(options(p, proxy), wsdial.WithProxyAuthenticator(rec), wsdial.WithNetDialer(conns.dialer()))...)
			c, err := d.DialWebSocket(context.Background(), s.url(p, "localhost"))
			if err != nil {
				t.Fatal(err)
			}
			exchange(t, c)
			if got := rec.schemes(); len(got) != 2 || got[0] != "NTLM" || got[1] != "NTLM" {
				t.Errorf("sent %q, want the NEGOTIATE and AUTHENTICATE messages", got)
			}
			// The proxy, then the target for wss is layered on the same
			// stream: one TCP connection in all.
			if n := conns.count(); n != 1 {
				t.Errorf("%d TCP connections, want 1: the exchange is bound to one", n)
			}
		})
	}
}

// TestProxyAnyAuth dials the squid that offers Basic, NTLM and Negotiate
// (weakest first) with a Dialer that carries all three: Negotiate with
// Kerberos credentials; NTLM without valid ones; Basic when the proxy
// refuses the NTLM user too; and a refusal of all three.
func TestProxyAnyAuth(t *testing.T) {
	p := loadPeers(t)
	k := loadKerberos(t)
	waitExpired(t, k.expired)
	jane := url.UserPassword(`WSDIAL\jane`, k.pass)
	carol := url.UserPassword(`WSDIAL\carol`, k.basicPass)
	for _, tc := range []struct {
		name  string
		row   string
		cache string
		user  *url.Userinfo
		want  []string // the schemes sent, in order
		err   string   // "" for a tunnel
	}{
		{"picks Negotiate", "any-auth: Negotiate", k.ccache, jane, []string{"Negotiate"}, ""},
		{"NTLM without Kerberos credentials", "any-auth: NTLM, no krb", k.expired, jane, []string{"NTLM", "NTLM"}, ""},
		{"then Basic", "any-auth: then Basic", k.expired, carol, []string{"NTLM", "NTLM", "Basic"}, ""},
		{"all refused", "", k.refused, url.UserPassword(`WSDIAL\carol`, "wrong-"+k.basicPass), []string{"Negotiate", "NTLM", "NTLM", "Basic"},
			"Negotiate: negotiate: the proxy refused the ticket of bob@WSDIAL.TEST for HTTP/localhost; NTLM: ntlm: the proxy refused the credentials of WSDIAL\\carol; Basic: refused by the proxy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == "" {
				record(t, tc.row, authServers[0].name)
			} else {
				recordRefusal(t, "squid any-auth: "+tc.name)
			}
			neg, nt, basic := recordAuth(k.fromCache(t, tc.cache)), recordAuth(ntlm.New()), recordAuth(wsdial.BasicProxyAuth())
			var logs bytes.Buffer
			proxy := (&url.URL{Scheme: "http", User: tc.user, Host: k.anyauth}).String()
			d := newDialer(t, append(options(p, proxy), wsdial.WithProxyAuthenticator(basic, nt, neg),
				wsdial.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))...)
			c, err := d.DialWebSocket(context.Background(), authServers[0].url(p, "localhost"))
			sent := append(append(neg.schemes(), nt.schemes()...), basic.schemes()...)
			if strings.Join(sent, " ") != strings.Join(tc.want, " ") {
				t.Errorf("sent %q, want %q", sent, tc.want)
			}
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				exchange(t, c)
				return
			}
			if err == nil {
				c.Close()
				t.Fatal("the dial succeeded")
			}
			want407(t, err)
			if !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v, want it to say %q", err, tc.err)
			}
			pass, _ := tc.user.Password()
			basicCred := base64.StdEncoding.EncodeToString([]byte(tc.user.Username() + ":" + pass))
			checkSecrets(t, []string{err.Error(), fmt.Sprintf("%+v", err), logs.String()},
				append(append([]string{k.pass, pass, basicCred}, k.janeKeys...), append(neg.tokens(), nt.tokens()...)...))
		})
	}
}
