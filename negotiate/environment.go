package negotiate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
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
// cache in KRB5CCNAME (FILE:path or a path); when that is unset, the
// default_ccache_name of the configuration's [libdefaults], with %{uid},
// %{euid}, %{USERID} and %{TEMP} expanded, and /tmp/krb5cc_UID without one.
// Only file caches can be read; a DIR:, KCM:, KEYRING: or MEMORY: cache is
// refused with an error that says so.
//
// The cache is read once, here: a later kinit needs a new authenticator. A
// ticket-granting ticket that has expired is reported when a dial needs it,
// before any KDC is asked.
func FromEnvironment() (wsdial.ProxyAuthenticator, error) {
	cfg, text, err := loadConfig(os.Getenv("KRB5_CONFIG"))
	if err != nil {
		return nil, err
	}
	name := os.Getenv("KRB5CCNAME")
	if name == "" {
		name = expandCCacheName(defaultCCacheName(text))
	}
	path, err := ccachePath(name, os.Getuid())
	if err != nil {
		return nil, err
	}
	return fromCCache(path, cfg)
}

// loadConfig reads the first file of list that exists, and returns its
// text too, for what gokrb5 does not read.
func loadConfig(list string) (*config.Config, string, error) {
	if list == "" {
		list = "/etc/krb5.conf"
	}
	for _, p := range filepath.SplitList(list) {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var cfg *config.Config
		if err == nil {
			cfg, err = config.NewFromString(string(b))
		}
		if err != nil {
			return nil, "", fmt.Errorf("negotiate: reading the Kerberos configuration %s: %w", p, err)
		}
		return cfg, string(b), nil
	}
	return nil, "", fmt.Errorf("negotiate: no Kerberos configuration: none of %s exists (KRB5_CONFIG)", list)
}

// defaultCCacheName returns the default_ccache_name relation of the
// [libdefaults] section of a krb5.conf, or "" when it has none. gokrb5's
// configuration leaves it out.
func defaultCCacheName(conf string) string {
	section, depth := "", 0
	for line := range strings.Lines(conf) {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case depth == 0 && strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.TrimSpace(line[1 : len(line)-1])
			continue
		}
		// A realm's own group of relations inside [libdefaults] is not the
		// default.
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		if depth != 0 || section != "libdefaults" {
			continue
		}
		if name, value, ok := strings.Cut(line, "="); ok && strings.TrimSpace(name) == "default_ccache_name" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// expandCCacheName expands the parameters of a default_ccache_name that
// name the user and the temporary directory; kinit expands the same.
func expandCCacheName(name string) string {
	if !strings.Contains(name, "%{") {
		return name
	}
	temp := os.Getenv("TMPDIR")
	if temp == "" {
		temp = "/tmp"
	}
	return strings.NewReplacer(
		"%{uid}", strconv.Itoa(os.Getuid()),
		"%{USERID}", strconv.Itoa(os.Getuid()),
		"%{euid}", strconv.Itoa(os.Geteuid()),
		"%{TEMP}", temp,
	).Replace(name)
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
	a := newAuthenticator(cl)
	a.ccache, a.tgtEnd = path, tgt.EndTime
	return a, nil
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
