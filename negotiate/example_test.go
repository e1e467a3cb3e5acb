package negotiate_test

import (
	"context"
	"log"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/negotiate"
)

// Dial through a proxy that asks for Negotiate, with what kinit left; fall
// back to Basic where the proxy offers that instead (add ntlm.New() from
// github.com/wsdial/wsdial/ntlm for NTLM between the two).
func ExampleFromEnvironment() {
	krb, err := negotiate.FromEnvironment()
	if err != nil {
		log.Fatal(err) // no Kerberos credentials: run kinit
	}
	d, err := wsdial.New(
		wsdial.WithProxy("http://CORP%5Cjane:secret@proxy.corp.example:3128"),
		wsdial.WithProxyAuthenticator(krb, wsdial.BasicProxyAuth()),
	)
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), "wss://chat.example/ws")
	if err != nil {
		return
	}
	c.Close()
}

// Log in with a password (or a keytab, with client.NewWithKeytab) rather
// than a credential cache.
func ExampleNew() {
	cfg, err := config.Load("/etc/krb5.conf")
	if err != nil {
		log.Fatal(err)
	}
	cl := client.NewWithPassword("jane", "CORP.EXAMPLE", "secret", cfg)
	d, err := wsdial.New(
		wsdial.WithProxy("http://proxy.corp.example:3128"),
		wsdial.WithProxyAuthenticator(negotiate.New(cl)),
	)
	if err != nil {
		log.Fatal(err)
	}
	c, err := d.DialWebSocket(context.Background(), "wss://chat.example/ws")
	if err != nil {
		return
	}
	c.Close()
}
