package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsdial/wsdial/wsdialtest"
)

// TestProxyAuthFlag runs -proxy-auth's modes against the demo's proxy,
// which offers Basic alone, with no Kerberos credentials around.
func TestProxyAuthFlag(t *testing.T) {
	echo := echoServer(t)
	p := wsdialtest.NewProxy(wsdialtest.WithBasicAuth(demoUser, demoPassword))
	t.Cleanup(p.Close)
	url := proxyWithUser(t, p)
	noCache := "KRB5CCNAME=FILE:" + filepath.Join(t.TempDir(), "none")
	conf := filepath.Join(t.TempDir(), "krb5.conf")
	if err := os.WriteFile(conf, []byte("[libdefaults]\n default_realm = WSDIAL.TEST\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{noCache, "KRB5_CONFIG=" + conf}
	for _, tc := range []struct {
		mode    string
		code    int
		stderr  string
		verbose bool
	}{
		{mode: "basic", code: exitOK},
		{mode: "any", code: exitOK, verbose: true, stderr: "-proxy-auth any: without Negotiate: negotiate: no credential cache at"},
		{mode: "ntlm", code: exitProxy, verbose: true, stderr: "ntlm: the proxy does not offer NTLM"},
		{mode: "negotiate", code: exitUsage, stderr: "-proxy-auth negotiate: negotiate: no credential cache at"},
		{mode: "digest", code: exitUsage, stderr: `-proxy-auth "digest": want negotiate, ntlm, basic or any`},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			args := []string{"-proxy", url, "-proxy-auth", tc.mode}
			if tc.verbose {
				args = append(args, "-v")
			}
			stdout, stderr, code := runCLIEnv(t, env, "hello\n", append(args, echo.URL)...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.stderr)
			}
			if tc.code == exitOK && stdout != "hello\n" {
				t.Errorf("stdout %q", stdout)
			}
			if strings.Contains(stderr, demoPassword) {
				t.Errorf("stderr shows the password: %q", stderr)
			}
		})
	}
}
