package negotiate

import (
	"errors"
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// reject is the negState of a NegTokenResp that ends the negotiation
// (RFC 4178 §4.2.2).
const reject = 2

// checkFinal checks a token the proxy sent back: an SPNEGO NegTokenResp, or
// a bare Kerberos GSS token, that must carry the AP-REP of mutual
// authentication (RFC 4121 §4.1, RFC 4120 §3.2.5). gokrb5 reads the
// messages but cannot verify an AP-REP, so the check is here: the AP-REP's
// encrypted part must open with the session key of the ticket that was sent
// and repeat the time of the authenticator, to the microsecond. A KRB-ERROR
// in its place is reported with its code.
func checkFinal(b []byte, key types.EncryptionKey, ctime time.Time, cusec int) (err error) {
	// gokrb5's decoders index what they read without checking every
	// length; a hostile token must end in an error, not a panic.
	defer func() {
		if recover() != nil {
			err = errors.New("the proxy's token is malformed")
		}
	}()
	// Cut to its length, so that a decoder reading past the end panics
	// (and fails here) rather than reading the slice's spare capacity.
	b = b[:len(b):len(b)]
	mech := b
	if len(b) > 0 && b[0] == 0xa1 {
		var resp spnego.NegTokenResp
		if err := resp.Unmarshal(b); err != nil {
			return fmt.Errorf("the proxy's token is not an SPNEGO response: %w", err)
		}
		if resp.NegState == reject {
			return errors.New("the proxy rejected the security context")
		}
		if len(resp.ResponseToken) == 0 {
			return errors.New("the proxy's token carries no AP-REP")
		}
		mech = resp.ResponseToken
	}
	var krb spnego.KRB5Token
	if err := krb.Unmarshal(mech); err != nil {
		return fmt.Errorf("the proxy's token is not a Kerberos token: %w", err)
	}
	switch {
	case krb.IsKRBError():
		return fmt.Errorf("the proxy answered with a Kerberos error: %s", krbError(krb.KRBError))
	case !krb.IsAPRep():
		return errors.New("the proxy's token is not an AP-REP")
	case len(key.KeyValue) == 0:
		return errors.New("the proxy sent an AP-REP before any ticket")
	}
	plain, err := crypto.DecryptEncPart(krb.APRep.EncPart, key, keyusage.AP_REP_ENCPART)
	if err != nil {
		return errors.New("the proxy's AP-REP does not open with the session key: it does not hold the service key")
	}
	var part messages.EncAPRepPart
	if err := part.Unmarshal(plain); err != nil {
		return fmt.Errorf("the proxy's AP-REP: %w", err)
	}
	if !part.CTime.Equal(ctime) || part.Cusec != cusec {
		return errors.New("the proxy's AP-REP does not answer this authenticator")
	}
	return nil
}

// krbError describes a KRB-ERROR by its code and text, which name the
// failure and hold no key.
func krbError(e messages.KRBError) string {
	s := fmt.Sprintf("code %d", e.ErrorCode)
	if e.EText != "" {
		s += ": " + clip(e.EText)
	}
	return s
}

// clip bounds text that came from the network.
func clip(s string) string {
	const max = 120
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
