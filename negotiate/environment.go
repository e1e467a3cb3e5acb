package negotiate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/types"
	"github.com/wsdial/wsdial"
)

// FromEnvironment returns an authenticator with the credentials that kinit
// left, found as MIT Kerberos and curl's --proxy-negotiate find them: the
// configuration in KRB5_CONFIG (a colon-separated list, of which the first
// file that exists is read; /etc/krb5.conf when unset), and the credential
// cache in KRB5CCNAME (FILE:path or a path; /tmp/krb5cc_UID when unset).
// Only file caches can be read; a DIR:, KCM:, KEYRING: or MEMORY: cache is
// refused with an error that says so.
//
// The cache is read once, here: a later kinit needs a new authenticator. A
// ticket-granting ticket that has expired is reported when a dial needs it,
// before any KDC is asked.
func FromEnvironment() (wsdial.ProxyAuthenticator, error) {
	cfg, err := loadConfig(os.Getenv("KRB5_CONFIG"))
	if err != nil {
		return nil, err
	}
	path, err := ccachePath(os.Getenv("KRB5CCNAME"), os.Getuid())
	if err != nil {
		return nil, err
	}
	return fromCCache(path, cfg)
}

func loadConfig(list string) (*config.Config, error) {
	if list == "" {
		list = "/etc/krb5.conf"
	}
	for _, p := range filepath.SplitList(list) {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		cfg, err := config.Load(p)
		if err != nil {
			return nil, fmt.Errorf("negotiate: reading the Kerberos configuration %s: %w", p, err)
		}
		return cfg, nil
	}
	return nil, fmt.Errorf("negotiate: no Kerberos configuration: none of %s exists (KRB5_CONFIG)", list)
}

// ccachePath turns KRB5CCNAME into the path of a file cache.
func ccachePath(name string, uid int) (string, error) {
	if name == "" {
		return fmt.Sprintf("/tmp/krb5cc_%d", uid), nil
	}
	if typ, rest, ok := strings.Cut(name, ":"); ok && !strings.Contains(typ, "/") {
		if !strings.EqualFold(typ, "FILE") {
			return "", fmt.Errorf("negotiate: the credential cache %q is of type %s; only FILE caches can be read (kinit -c FILE:path makes one)", name, typ)
		}
		name = rest
	}
	if name == "" {
		return "", errors.New("negotiate: KRB5CCNAME names no file")
	}
	return name, nil
}

// fromCCache makes the authenticator from a file cache.
func fromCCache(path string, cfg *config.Config) (*authenticator, error) {
	cc, err := loadCCache(path)
	if err != nil {
		return nil, err
	}
	cl, err := client.NewFromCCache(cc, cfg, client.DisablePAFXFAST(true))
	if err != nil {
		// gokrb5 says "TGT not found in CCache" for a cache kdestroy or a
		// failed kinit left behind.
		return nil, fmt.Errorf("negotiate: the credential cache %s holds no ticket-granting ticket for %s; run kinit", path, principal(cc))
	}
	tgt, _ := cc.GetEntry(types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", cc.DefaultPrincipal.Realm}})
	return &authenticator{cl: cl, ccache: path, tgtEnd: tgt.EndTime}, nil
}

// loadCCache reads a credential cache. gokrb5 panics on an empty file, and
// on a truncated one reads on into the slice's spare capacity, taking
// whatever is there for the missing bytes. So the slice is cut to its
// length, which turns that into a panic, and the panic into an error.
func loadCCache(path string) (cc *credentials.CCache, err error) {
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("negotiate: no credential cache at %s; run kinit", path)
	case err != nil:
		return nil, fmt.Errorf("negotiate: reading the credential cache: %w", err)
	case len(b) == 0:
		return nil, fmt.Errorf("negotiate: the credential cache %s is empty; run kinit", path)
	}
	defer func() {
		if recover() != nil {
			cc, err = nil, fmt.Errorf("negotiate: %s is not a credential cache that can be read (truncated?)", path)
		}
	}()
	cc = new(credentials.CCache)
	if err := cc.Unmarshal(b[:len(b):len(b)]); err != nil {
		return nil, fmt.Errorf("negotiate: %s is not a credential cache that can be read: %w", path, err)
	}
	return cc, nil
}

func principal(cc *credentials.CCache) string {
	return cc.DefaultPrincipal.PrincipalName.PrincipalNameString() + "@" + cc.DefaultPrincipal.Realm
}

// expired reports whether the authenticator's ticket-granting ticket has
// ended at t.
func (a *authenticator) expired(t time.Time) bool { return !a.tgtEnd.IsZero() && !t.Before(a.tgtEnd) }
