package interop

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
	"github.com/wsdial/wsdial"
)

// TestNegotiateMutual checks mutual authentication with a ticket the MIT
// KDC made: the token the session sends is opened with HTTP/localhost's
// keytab, as squid's helper opens it, and the AP-REP an acceptor returns
// for it, with the ticket's session key, must pass the session's check;
// one for another authenticator time, or in another key, must not. squid
// sends no final token, so this plays the acceptor's part itself.
func TestNegotiateMutual(t *testing.T) {
	k := loadKerberos(t)
	kt, err := keytab.Load(os.Getenv("WSDIAL_INTEROP_KRB5_KEYTAB"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := k.fromCache(t, k.ccache).Start(context.Background(), &url.URL{Scheme: "http", Host: k.negotiate})
	if err != nil {
		t.Fatal(err)
	}
	authz, err := s.Next(context.Background(), &http.Response{StatusCode: 407, Header: http.Header{"Proxy-Authenticate": {"Negotiate"}}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(authz, "Negotiate "))
	if err != nil {
		t.Fatal(err)
	}
	var st spnego.SPNEGOToken
	if err := st.Unmarshal(tok); err != nil || !st.Init {
		t.Fatalf("not a NegTokenInit: %v", err)
	}
	// An MIT KDC's tickets carry no PAC, which gokrb5 looks for by default.
	if ok, _, status := spnego.SPNEGOService(kt, service.DecodePAC(false)).AcceptSecContext(&st); !ok {
		t.Fatalf("HTTP/localhost's keytab does not accept the token: %v", status)
	}
	// The acceptor's view: the session key from the ticket, the time from
	// the authenticator.
	var krb spnego.KRB5Token
	if err := krb.Unmarshal(st.NegTokenInit.MechTokenBytes); err != nil {
		t.Fatal(err)
	}
	if err := krb.APReq.Ticket.DecryptEncPart(kt, nil); err != nil {
		t.Fatal(err)
	}
	key := krb.APReq.Ticket.DecryptedEncPart.Key
	if err := krb.APReq.DecryptAuthenticator(key); err != nil {
		t.Fatal(err)
	}
	a := krb.APReq.Authenticator
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		t.Fatal(err)
	}
	other, err := types.GenerateEncryptionKey(et)
	if err != nil {
		t.Fatal(err)
	}
	v := s.(wsdial.ProxyAuthVerifier)
	for _, tc := range []struct {
		name  string
		key   types.EncryptionKey
		ctime time.Time
		cusec int
		ok    bool
	}{
		{"the acceptor's AP-REP", key, a.CTime, a.Cusec, true},
		{"another microsecond", key, a.CTime, (a.Cusec + 1) % 1000000, false},
		{"another key", other, a.CTime, a.Cusec, false},
	} {
		header := http.Header{"Proxy-Authenticate": {"Negotiate " + base64.StdEncoding.EncodeToString(acceptorAPRep(t, tc.key, tc.ctime, tc.cusec))}}
		err := v.Verify(context.Background(), header)
		if (err == nil) != tc.ok {
			t.Errorf("%s: Verify = %v", tc.name, err)
		}
		if err != nil && strings.Contains(err.Error(), hex.EncodeToString(key.KeyValue)) {
			t.Errorf("%s: the error shows the session key", tc.name)
		}
	}
}

// acceptorAPRep is the final token an acceptor sends for mutual
// authentication (RFC 4121 §4.1, RFC 4120 §5.5.2): a NegTokenResp,
// accept-completed, carrying an AP-REP whose encrypted part, in the
// ticket's session key, repeats the authenticator's time.
func acceptorAPRep(t *testing.T, key types.EncryptionKey, ctime time.Time, cusec int) []byte {
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
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	mech := asn1tools.AddASNAppTag(append(append(oid, 0x02, 0x00), asn1tools.AddASNAppTag(rep, 15)...), 0)
	b, err := (&spnego.NegTokenResp{SupportedMech: gssapi.OIDKRB5.OID(), ResponseToken: mech}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
