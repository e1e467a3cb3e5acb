package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/negotiate"
	"github.com/wsdial/wsdial/ntlm"
)

// proxyAuthUsage is the help of -proxy-auth.
const proxyAuthUsage = "authenticate to the proxy with `scheme`: negotiate (Kerberos, the credentials kinit left), " +
	"ntlm (the -proxy URL's DOMAIN%5Cuser:password), basic (the default), or any (the strongest the proxy offers, then the next)"

// addProxyAuthFlag defines -proxy-auth on fs.
func addProxyAuthFlag(fs *flag.FlagSet, f *flags) {
	fs.StringVar(&f.proxyAuth, "proxy-auth", "", proxyAuthUsage)
}

// proxyAuthOptions turns -proxy-auth into the authenticators it names. With
// any, Negotiate is left out when there are no Kerberos credentials, as
// curl's --proxy-anyauth leaves out what it cannot do; -v says so.
func (f *flags) proxyAuthOptions(stderr io.Writer) ([]wsdial.Option, error) {
	switch f.proxyAuth {
	case "":
		return nil, nil
	case "basic":
		return []wsdial.Option{wsdial.WithProxyAuthenticator(wsdial.BasicProxyAuth())}, nil
	case "ntlm":
		return []wsdial.Option{wsdial.WithProxyAuthenticator(ntlm.New())}, nil
	case "negotiate":
		a, err := negotiate.FromEnvironment()
		if err != nil {
			return nil, fmt.Errorf("-proxy-auth negotiate: %w", err)
		}
		return []wsdial.Option{wsdial.WithProxyAuthenticator(a)}, nil
	case "any":
		auths := []wsdial.ProxyAuthenticator{ntlm.New(), wsdial.BasicProxyAuth()}
		if a, err := negotiate.FromEnvironment(); err == nil {
			auths = append(auths, a)
		} else if f.verbose {
			fmt.Fprintf(stderr, "wsdial: -proxy-auth any: without Negotiate: %v\n", err)
		}
		return []wsdial.Option{wsdial.WithProxyAuthenticator(auths...)}, nil
	}
	return nil, fmt.Errorf("-proxy-auth %q: want negotiate, ntlm, basic or any", f.proxyAuth)
}
