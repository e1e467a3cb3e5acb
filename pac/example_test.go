package pac_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/netip"
	"net/url"

	"github.com/wsdial/wsdial/pac"
)

// A corporate script of the usual shape: intranet names and private
// addresses direct, the rest through two proxies in turn, then direct.
const corporatePAC = `
function FindProxyForURL(url, host) {
	if (isPlainHostName(host) || dnsDomainIs(host, ".corp.example") ||
	    isInNet(host, "10.0.0.0", "255.0.0.0"))
		return "DIRECT";
	if (shExpMatch(host, "*.partner.example"))
		return "SOCKS5 socks.corp.example:1080";
	return "PROXY a.corp.example:8080; PROXY b.corp.example:8080; DIRECT";
}`

func ExampleParse() {
	script, err := pac.Parse([]byte(corporatePAC), pac.WithMyIPAddress(netip.MustParseAddr("10.1.2.3")))
	if err != nil {
		log.Fatal(err)
	}
	for _, target := range []string{"wss://chat.example.com/room", "ws://wiki.corp.example/", "https://10.4.5.6/"} {
		answer, err := script.FindProxyForURL(context.Background(), target)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %s\n", target, answer)
	}
	// Output:
	// wss://chat.example.com/room: PROXY a.corp.example:8080; PROXY b.corp.example:8080; DIRECT
	// ws://wiki.corp.example/: DIRECT
	// https://10.4.5.6/: DIRECT
}

func ExampleScript_Proxies() {
	script, err := pac.Parse([]byte(corporatePAC))
	if err != nil {
		log.Fatal(err)
	}
	for _, target := range []string{"wss://chat.example.com/room", "wss://api.partner.example/"} {
		u, err := url.Parse(target)
		if err != nil {
			log.Fatal(err)
		}
		proxies, err := script.Proxies(context.Background(), u)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(target)
		for _, p := range proxies {
			if p == nil {
				fmt.Println("  direct")
			} else {
				fmt.Println("  via", p)
			}
		}
	}
	// Output:
	// wss://chat.example.com/room
	//   via http://a.corp.example:8080
	//   via http://b.corp.example:8080
	//   direct
	// wss://api.partner.example/
	//   via socks5h://socks.corp.example:1080
}

// Example_httpTransport plugs a script into net/http. http.Transport takes
// one proxy per request and does no failover, so it gets the first entry
// of the list; wsdial.WithProxyList takes the whole list.
func Example_httpTransport() {
	script, err := pac.Parse([]byte(corporatePAC))
	if err != nil {
		log.Fatal(err)
	}
	transport := &http.Transport{
		Proxy: func(req *http.Request) (*url.URL, error) {
			proxies, err := script.Proxies(req.Context(), req.URL)
			if err != nil {
				return nil, err
			}
			return proxies[0], nil // nil means direct, to http.Transport too
		},
	}
	client := &http.Client{Transport: transport}
	_ = client // client.Get(...) now goes where the script says

	for _, target := range []string{"https://www.example.com/", "http://intranet/"} {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		proxy, err := transport.Proxy(req)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s via %v\n", target, proxy)
	}
	// Output:
	// https://www.example.com/ via http://a.corp.example:8080
	// http://intranet/ via <nil>
}
