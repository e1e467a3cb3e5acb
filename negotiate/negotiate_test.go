package negotiate

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

const (
	realm       = "WSDIAL.TEST"
	servicePass = "service-key-secret"
	userPass    = "user-Passw0rd"
)

var testConfig = func() *config.Config {
	cfg, err := config.NewFromString("[libdefaults]\n default_realm = " + realm +
		"\n dns_lookup_kdc = false\n[realms]\n " + realm + " = {\n  kdc = 127.0.0.1:1\n }\n")
	if err != nil {
		panic(err)
	}
	return cfg
}()

// kdcMade is what a KDC would hand out for jane@WSDIAL.TEST and the proxy
// HTTP/proxy.test: the service's keytab, and a ticket for it with its
// session key, made with gokrb5's own types.
type kdcMade struct {
	kt  *keytab.Keytab
	tkt messages.Ticket
	key types.EncryptionKey
	cl  *client.Client
}

func newKDCMade(t testing.TB) kdcMade {
	t.Helper()
	kt := keytab.New()
	if err := kt.AddEntry("HTTP/proxy.test", realm, servicePass, time.Now(), 1, etypeID.AES256_CTS_HMAC_SHA1_96); err != nil {
		t.Fatal(err)
	}
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "jane")
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "HTTP/proxy.test")
	now := time.Now().UTC()
	tkt, key, err := messages.NewTicket(cname, realm, sname, realm, types.NewKrbFlags(), kt,
		etypeID.AES256_CTS_HMAC_SHA1_96, 1, now, now, now.Add(time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return kdcMade{kt: kt, tkt: tkt, key: key, cl: client.NewWithPassword("jane", realm, userPass, testConfig)}
}

// apRep is the token a proxy sends back for mutual authentication: a
// NegTokenResp with an AP-REP whose encrypted part, in key, repeats ctime
// and cusec.
func apRep(t testing.TB, key types.EncryptionKey, ctime time.Time, cusec int, state int) []byte {
	t.Helper()
	part, err := asn1.Marshal(messages.EncAPRepPart{CTime: ctime, Cusec: cusec})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := crypto.GetEncryptedData(asn1tools.AddASNAppTag(part, 27), key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := asn1.Marshal(messages.APRep{PVNO: 5, MsgType: 15, EncPart: enc})
	if err != nil {
		t.Fatal(err)
	}
	return negTokenResp(t, mechToken(t, "0200", asn1tools.AddASNAppTag(rep, 15)), state)
}

func mechToken(t testing.TB, tokID string, msg []byte) []byte {
	t.Helper()
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	id, _ := hex.DecodeString(tokID)
	return asn1tools.AddASNAppTag(append(append(oid, id...), msg...), 0)
}

func negTokenResp(t testing.TB, mech []byte, state int) []byte {
	t.Helper()
	resp := spnego.NegTokenResp{NegState: asn1.Enumerated(state), SupportedMech: gssapi.OIDKRB5.OID(), ResponseToken: mech}
	b, err := resp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func krbErrorToken(t testing.TB) []byte {
	t.Helper()
	e := messages.NewKRBError(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "HTTP/proxy.test"), realm, errorcode.KRB_AP_ERR_SKEW, "Clock skew too great")
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return negTokenResp(t, mechToken(t, "0300", b), 1)
}

// TestTokenAcceptedByService hands the token to gokrb5's acceptor with the
// service's keytab, as squid's helper does with its own, and checks that
// it asks for mutual authentication.
func TestTokenAcceptedByService(t *testing.T) {
	k := newKDCMade(t)
	tok, ctime, cusec, err := initToken(k.cl, k.tkt, k.key)
	if err != nil {
		t.Fatal(err)
	}
	var st spnego.SPNEGOToken
	if err := st.Unmarshal(tok); err != nil || !st.Init {
		t.Fatalf("not a NegTokenInit: %v", err)
	}
	if ok, _, status := spnego.SPNEGOService(k.kt).AcceptSecContext(&st); !ok {
		t.Fatalf("the acceptor refused the token: %v", status)
	}
	var krb spnego.KRB5Token
	if err := krb.Unmarshal(st.NegTokenInit.MechTokenBytes); err != nil {
		t.Fatal(err)
	}
	if !types.IsFlagSet(&krb.APReq.APOptions, flags.APOptionMutualRequired) {
		t.Error("the AP-REQ does not ask for mutual authentication")
	}
	if err := krb.APReq.DecryptAuthenticator(k.key); err != nil {
		t.Fatal(err)
	}
	a := krb.APReq.Authenticator
	if !a.CTime.Equal(ctime) || a.Cusec != cusec {
		t.Errorf("authenticator time %v.%06d, initToken says %v.%06d", a.CTime, a.Cusec, ctime, cusec)
	}
	if gss := binary.LittleEndian.Uint32(a.Cksum.Checksum[20:24]); gss&uint32(gssapi.ContextFlagMutual) == 0 {
		t.Errorf("GSS flags %#x lack the mutual flag", gss)
	}
}

// TestCheckFinal holds the mutual-authentication check to AP-REPs made as
// an acceptor makes them, and to the ways one can be wrong.
func TestCheckFinal(t *testing.T) {
	k := newKDCMade(t)
	_, ctime, cusec, err := initToken(k.cl, k.tkt, k.key)
	if err != nil {
		t.Fatal(err)
	}
	other := newKDCMade(t).key
	good := apRep(t, k.key, ctime, cusec, 0)
	for _, tc := range []struct {
		name  string
		token []byte
		want  string // "" for accepted
	}{
		{"AP-REP", good, ""},
		{"bare Kerberos token", mechToken(t, "0200", func() []byte {
			var resp spnego.NegTokenResp
			resp.Unmarshal(good)
			var krb spnego.KRB5Token
			krb.Unmarshal(resp.ResponseToken)
			b, _ := asn1.Marshal(krb.APRep)
			return asn1tools.AddASNAppTag(b, 15)
		}()), ""},
		{"another session key", apRep(t, other, ctime, cusec, 0), "does not hold the service key"},
		{"another microsecond", apRep(t, k.key, ctime, cusec+1, 0), "does not answer this authenticator"},
		{"another second", apRep(t, k.key, ctime.Add(time.Second), cusec, 0), "does not answer this authenticator"},
		{"reject", apRep(t, k.key, ctime, cusec, reject), "rejected the security context"},
		{"no response token", negTokenResp(t, nil, 0), "carries no AP-REP"},
		{"KRB-ERROR", krbErrorToken(t), "Kerberos error: code 37: Clock skew too great"},
		{"garbage", []byte("\xa1\x03\x30\x01\x00"), "not an SPNEGO response"},
		{"not Kerberos", []byte("hello"), "not a Kerberos token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkFinal(tc.token, k.key, ctime, cusec)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			for _, secret := range []string{hex.EncodeToString(k.key.KeyValue), base64.StdEncoding.EncodeToString(k.key.KeyValue), base64.StdEncoding.EncodeToString(tc.token)} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows a key or token: %v", err)
				}
			}
		})
	}
}

// TestVerify checks the session's hook on the reply that opened the tunnel.
func TestVerify(t *testing.T) {
	k := newKDCMade(t)
	_, ctime, cusec, err := initToken(k.cl, k.tkt, k.key)
	if err != nil {
		t.Fatal(err)
	}
	s := &session{a: &authenticator{cl: k.cl}, spn: "HTTP/proxy.test", sent: true, key: k.key, ctime: ctime, cusec: cusec}
	header := func(v string) http.Header { return http.Header{"Proxy-Authenticate": {v}} }
	if err := s.Verify(context.Background(), http.Header{}); err != nil {
		t.Errorf("no final token: %v", err)
	}
	if err := s.Verify(context.Background(), header("Negotiate "+base64.StdEncoding.EncodeToString(apRep(t, k.key, ctime, cusec, 0)))); err != nil {
		t.Errorf("a good final token: %v", err)
	}
	if err := s.Verify(context.Background(), header("Negotiate "+base64.StdEncoding.EncodeToString(apRep(t, k.key, ctime, cusec+1, 0)))); err == nil ||
		!strings.Contains(err.Error(), "mutual authentication with HTTP/proxy.test failed") {
		t.Errorf("a replayed final token: %v", err)
	}
	if err := s.Verify(context.Background(), header("Negotiate !!")); err == nil {
		t.Error("a final token that is not base64 passed")
	}
	// A 407 after the ticket: refused, with the proxy's Kerberos error.
	_, err = s.Next(context.Background(), &http.Response{StatusCode: 407, Header: header("Negotiate " + base64.StdEncoding.EncodeToString(krbErrorToken(t)))})
	if err == nil || !strings.Contains(err.Error(), "refused the ticket of jane@WSDIAL.TEST for HTTP/proxy.test: the proxy answered with a Kerberos error: code 37") {
		t.Errorf("refusal: %v", err)
	}
	_, err = s.Next(context.Background(), &http.Response{StatusCode: 407, Header: header("Basic realm=x")})
	if err == nil || !strings.Contains(err.Error(), "does not offer Negotiate") {
		t.Errorf("not offered: %v", err)
	}
}

// FuzzFinalToken checks the proxy's token: never a panic, and nothing
// accepted that was not made with the session key.
func FuzzFinalToken(f *testing.F) {
	k := newKDCMade(f)
	_, ctime, cusec, err := initToken(k.cl, k.tkt, k.key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(krbErrorToken(f))
	f.Add(negTokenResp(f, nil, reject))
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkFinal(b, k.key, ctime, cusec) == nil {
			t.Fatalf("accepted %x without the session key", b)
		}
	})
}

// The environment: where the configuration and the cache are, and what
// kinit can leave behind.

func TestCCachePath(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"", "/tmp/krb5cc_1000", ""},
		{"FILE:/tmp/cc", "/tmp/cc", ""},
		{"/tmp/cc", "/tmp/cc", ""},
		{"./rel:dir/cc", "./rel:dir/cc", ""},
		{"KCM:1000", "", "of type KCM; only FILE caches"},
		{"KEYRING:persistent:1000", "", "of type KEYRING"},
		{"DIR:/run/user/1000/krb5cc", "", "of type DIR"},
		{"FILE:", "", "names no file"},
	} {
		got, err := ccachePath(tc.in, 1000)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ccachePath(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestFromEnvironmentRefuses(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	os.WriteFile(conf, []byte("[libdefaults]\n default_realm = "+realm+"\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	garbage := filepath.Join(dir, "garbage")
	os.WriteFile(garbage, []byte("not a cache"), 0o600)
	truncated := filepath.Join(dir, "truncated")
	os.WriteFile(truncated, []byte{5, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 99, 'W'}, 0o600)
	noTGT := filepath.Join(dir, "no-tgt")
	os.WriteFile(noTGT, ccache(t, "jane", nil), 0o600)
	for _, tc := range []struct{ config, cache, want string }{
		{filepath.Join(dir, "none") + ":" + filepath.Join(dir, "nor"), empty, "no Kerberos configuration"},
		{conf, filepath.Join(dir, "missing"), "no credential cache at"},
		{conf, empty, "is empty; run kinit"},
		{conf, garbage, "is not a credential cache"},
		{conf, truncated, "is not a credential cache that can be read (truncated?)"},
		{conf, noTGT, "holds no ticket-granting ticket for jane@" + realm + "; run kinit"},
		{conf, "KCM:", "only FILE caches"},
	} {
		t.Setenv("KRB5_CONFIG", tc.config)
		t.Setenv("KRB5CCNAME", tc.cache)
		if _, err := FromEnvironment(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.cache, err, tc.want)
		}
	}
}

// TestExpiredTGT checks that a cache whose ticket-granting ticket has ended
// fails the dial at the 407, before any KDC is asked, and says why.
func TestExpiredTGT(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	os.WriteFile(conf, []byte("[libdefaults]\n default_realm = "+realm+"\n[realms]\n "+realm+" = {\n  kdc = 127.0.0.1:1\n }\n"), 0o600)
	k := newKDCMade(t)
	end := time.Now().Add(-time.Minute).Truncate(time.Second)
	cache := filepath.Join(dir, "expired")
	os.WriteFile(cache, ccache(t, "jane", &ccacheTGT{tkt: k.tkt, key: k.key, end: end}), 0o600)
	t.Setenv("KRB5_CONFIG", conf)
	t.Setenv("KRB5CCNAME", "FILE:"+cache)
	auth, err := FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	s, err := auth.Start(context.Background(), &url.URL{Scheme: "http", Host: "proxy.test:3128"})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Next(context.Background(), nil); v != "" || err != nil {
		t.Fatalf("first request: %q, %v; want none, waiting for the challenge", v, err)
	}
	_, err = s.Next(context.Background(), &http.Response{StatusCode: 407, Header: http.Header{"Proxy-Authenticate": {"Negotiate"}}})
	if err == nil || !strings.Contains(err.Error(), "the ticket-granting ticket in "+cache+" expired at "+end.Format(time.RFC3339)+"; run kinit") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), hex.EncodeToString(k.key.KeyValue)) {
		t.Error("the error shows the session key")
	}
}

// ccacheTGT is a ticket-granting ticket to write into a cache.
type ccacheTGT struct {
	tkt messages.Ticket
	key types.EncryptionKey
	end time.Time
}

// ccache writes a version 4 file credential cache (the format of MIT's
// ccache file, big-endian) for user, with tgt as its one credential if
// given.
func ccache(t testing.TB, user string, tgt *ccacheTGT) []byte {
	t.Helper()
	var b bytes.Buffer
	u32 := func(v uint32) { binary.Write(&b, binary.BigEndian, v) }
	data := func(d []byte) { u32(uint32(len(d))); b.Write(d) }
	princ := func(nameType uint32, components ...string) {
		u32(nameType)
		u32(uint32(len(components)))
		data([]byte(realm))
		for _, c := range components {
			data([]byte(c))
		}
	}
	b.Write([]byte{5, 4, 0, 0}) // version 4, no header tags
	princ(1, user)
	if tgt == nil {
		return b.Bytes()
	}
	princ(1, user)
	princ(2, "krbtgt", realm)
	binary.Write(&b, binary.BigEndian, uint16(tgt.key.KeyType))
	data(tgt.key.KeyValue)
	start := tgt.end.Add(-time.Hour)
	for _, ts := range []time.Time{start, start, tgt.end, tgt.end} {
		u32(uint32(ts.Unix()))
	}
	b.WriteByte(0) // not a session-key ticket
	u32(0)         // flags
	u32(0)         // no addresses
	u32(0)         // no authorization data
	tkt, err := tgt.tkt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	data(tkt)
	data(nil) // no second ticket
	return b.Bytes()
}

// TestKDCStallsContextEnds checks that a KDC that accepts and never
// answers holds the dial only as long as its context.
func TestKDCStallsContextEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The KDC holds each connection until the test ends; closing them then
	// ends gokrb5's exchange too, which outlives the dial by design.
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	cfg, err := config.NewFromString("[libdefaults]\n default_realm = " + realm + "\n dns_lookup_kdc = false\n udp_preference_limit = 1\n" +
		"[realms]\n " + realm + " = {\n  kdc = " + ln.Addr().String() + "\n }\n")
	if err != nil {
		t.Fatal(err)
	}
	auth := New(client.NewWithPassword("jane", realm, userPass, cfg, client.DisablePAFXFAST(true)))
	s, err := auth.Start(context.Background(), &url.URL{Scheme: "http", Host: "proxy.test:3128"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = s.Next(ctx, &http.Response{StatusCode: 407, Header: http.Header{"Proxy-Authenticate": {"Negotiate"}}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	// A second dial waits for the exchange the first left behind, as long
	// as its own context, rather than start one more beside it.
	s, err = auth.Start(context.Background(), &url.URL{Scheme: "http", Host: "proxy.test:3128"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = s.Next(ctx, &http.Response{StatusCode: 407, Header: http.Header{"Proxy-Authenticate": {"Negotiate"}}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second dial: err = %v, want the context's deadline", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(conns) > 1 {
		t.Errorf("the KDC saw %d connections: the cancelled dials left as many exchanges behind", len(conns))
	}
}

// TestServicePrincipalHost checks that the service principal names the
// proxy's host in lower case, as MIT's and Heimdal's GSSAPI make a
// host-based service name (and as curl, through them, asks for it): a KDC
// holds HTTP/proxy.test, and a proxy URL that writes the host Proxy.TEST
// must still get its ticket. The ticket is in the cache, so no KDC is asked.
func TestServicePrincipalHost(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	os.WriteFile(conf, []byte("[libdefaults]\n default_realm = "+realm+"\n dns_lookup_kdc = false\n[realms]\n "+realm+" = {\n  kdc = 127.0.0.1:1\n }\n"), 0o600)
	k := newKDCMade(t)
	cache := filepath.Join(dir, "cc")
	// The cache's one credential carries the ticket for HTTP/proxy.test.
	os.WriteFile(cache, ccache(t, "jane", &ccacheTGT{tkt: k.tkt, key: k.key, end: time.Now().Add(time.Hour).Truncate(time.Second)}), 0o600)
	t.Setenv("KRB5_CONFIG", conf)
	t.Setenv("KRB5CCNAME", "FILE:"+cache)
	auth, err := FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"proxy.test:3128", "Proxy.TEST:3128"} {
		s, err := auth.Start(context.Background(), &url.URL{Scheme: "http", Host: host})
		if err != nil {
			t.Fatal(err)
		}
		authz, err := s.Next(context.Background(), &http.Response{StatusCode: 407, Header: http.Header{"Proxy-Authenticate": {"Negotiate"}}})
		if err != nil {
			t.Errorf("%s: %v", host, err)
			continue
		}
		tok, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(authz, "Negotiate "))
		var st spnego.SPNEGOToken
		if err := st.Unmarshal(tok); err != nil {
			t.Fatal(err)
		}
		if ok, _, status := spnego.SPNEGOService(k.kt).AcceptSecContext(&st); !ok {
			t.Errorf("%s: HTTP/proxy.test's keytab refuses the token: %v", host, status)
		}
	}
}

// preauthKDC is a KDC on loopback TCP that answers every request with
// KDC_ERR_PREAUTH_REQUIRED and no hint of how, so that a client logging in
// with a password takes the path that notes pre-authentication for later,
// and then fails.
type preauthKDC struct{}

func (preauthKDC) serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := messages.NewKRBError(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+realm), realm, errorcode.KDC_ERR_PREAUTH_REQUIRED, "")
	reply, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				var n [4]byte
				if _, err := io.ReadFull(c, n[:]); err != nil {
					return
				}
				if _, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(n[:]))); err != nil {
					return
				}
				binary.BigEndian.PutUint32(n[:], uint32(len(reply)))
				c.Write(append(n[:], reply...))
			})
		}
	})
	return ln.Addr().String()
}

// TestConcurrentLogins runs dials at once on one authenticator whose
// client logs in with a password. gokrb5's client notes what a KDC asks
// for pre-authentication in fields it does not guard, so its logins must
// not run at once: under the race detector, they did.
func TestConcurrentLogins(t *testing.T) {
	var kdc preauthKDC
	addr := kdc.serve(t)
	cfg, err := config.NewFromString("[libdefaults]\n default_realm = " + realm + "\n dns_lookup_kdc = false\n udp_preference_limit = 1\n" +
		"[realms]\n " + realm + " = {\n  kdc = " + addr + "\n }\n")
	if err != nil {
		t.Fatal(err)
	}
	auth := New(client.NewWithPassword("jane", realm, userPass, cfg, client.DisablePAFXFAST(true)))
	const dials = 4
	var wg sync.WaitGroup
	for range dials {
		wg.Go(func() {
			s, err := auth.Start(context.Background(), &url.URL{Scheme: "http", Host: "proxy.test:3128"})
			if err != nil {
				t.Error(err)
				return
			}
			_, err = s.Next(context.Background(), &http.Response{StatusCode: 407, Header: http.Header{"Proxy-Authenticate": {"Negotiate"}}})
			if err == nil || !strings.Contains(err.Error(), "no service ticket for HTTP/proxy.test") {
				t.Errorf("err = %v, want no service ticket", err)
			}
			if err != nil && strings.Contains(err.Error(), userPass) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	wg.Wait()
}

// TestDefaultCCacheName checks that without KRB5CCNAME the cache is where
// the configuration's default_ccache_name puts it, as MIT's kinit (and so
// curl) has it, with %{uid} expanded; and that a default kinit writes to a
// cache of a type this package cannot read (KCM:, as Fedora and RHEL set
// it) is named as such rather than reported missing.
func TestDefaultCCacheName(t *testing.T) {
	dir := t.TempDir()
	k := newKDCMade(t)
	cache := filepath.Join(dir, fmt.Sprintf("cc_%d", os.Getuid()))
	os.WriteFile(cache, ccache(t, "jane", &ccacheTGT{tkt: k.tkt, key: k.key, end: time.Now().Add(time.Hour).Truncate(time.Second)}), 0o600)
	for _, tc := range []struct{ libdefaults, want string }{
		{"default_ccache_name = FILE:" + filepath.Join(dir, "cc_%{uid}"), ""},
		{"  default_ccache_name=" + filepath.Join(dir, "cc_%{uid}") + " ", ""},
		{"default_ccache_name = KCM:", "of type KCM; only FILE caches"},
		{"default_ccache_name = KEYRING:persistent:%{uid}", "of type KEYRING; only FILE caches"},
	} {
		conf := filepath.Join(dir, "krb5.conf")
		os.WriteFile(conf, []byte("# a comment\n[libdefaults]\n default_realm = "+realm+"\n "+tc.libdefaults+
			"\n[realms]\n "+realm+" = {\n  kdc = 127.0.0.1:1\n  default_ccache_name = FILE:/nowhere\n }\n"), 0o600)
		t.Setenv("KRB5_CONFIG", conf)
		t.Setenv("KRB5CCNAME", "")
		_, err := FromEnvironment()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.libdefaults, err, tc.want)
		}
	}
}
