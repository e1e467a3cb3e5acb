// Package pac evaluates proxy auto-config (PAC) scripts: the JavaScript
// FindProxyForURL(url, host) that most corporate networks publish to name
// their proxies, answering with a list such as
// "PROXY a.corp:8080; PROXY b.corp:8080; DIRECT".
//
// It is a module of its own, github.com/wsdial/wsdial/pac, so that only the
// programs that evaluate PAC pull in its JavaScript engine
// (github.com/dop251/goja, pure Go); the wsdial module itself needs nothing
// outside the standard library and golang.org/x.
//
// # Getting a script
//
// Parse compiles a script held in memory; Load fetches one from an http,
// https or file URL; Discover fetches http://wpad/wpad.dat as Chromium does
// (opt-in; see its documentation for why). Each checks that the script
// compiles and defines FindProxyForURL, and reports which it failed.
//
// # Asking it
//
// (*Script).FindProxyForURL returns the script's answer as text;
// (*Script).Proxies parses it into the proxies to try in order, nil standing
// for DIRECT: the shape of wsdial's WithProxyList, and of
// http.Transport.Proxy once the first entry is taken (see the examples).
// The script sees a URL as Chromium would show it: ws:// as http://, wss://
// as https://, and an https URL without its path or query.
//
// # The environment
//
// Every helper of Netscape's specification is defined (isPlainHostName,
// dnsDomainIs, localHostOrDomainIs, isResolvable, isInNet, dnsResolve,
// convert_addr, myIpAddress, dnsDomainLevels, shExpMatch, weekdayRange,
// dateRange, timeRange, alert), and Microsoft's IPv6 set (isResolvableEx,
// isInNetEx, dnsResolveEx, myIpAddressEx, sortIpAddressList,
// getClientVersion), from either entry point; when the script defines
// FindProxyForURLEx it is called instead of FindProxyForURL. The helpers are
// written in Go, so a script that tampers with built-in prototypes cannot
// change what they compute. DNS helpers use the resolver of WithResolver,
// bounded by the call's context; myIpAddress answers WithMyIPAddress, or
// this machine's address on its route to the internet; the time helpers read
// WithClock's clock.
//
// Where the references disagree (browsers, pacparser, pac-resolver), this
// package follows the browsers and says so at the helper; README.md lists
// the differences that the differential tests pin down.
//
// # Safety
//
// A Script is safe for concurrent use. Each call runs in a runtime of its
// own, so calls run in parallel and no state that one call leaves in the
// script's globals reaches another. A call is bounded by WithTimeout (one
// second by default): a script that loops is interrupted and the call fails
// with an error matching context.DeadlineExceeded. Recursion is bounded, and
// so are an answer's length, the names one call may resolve and the alerts
// it may log. A script cannot be interrupted inside a single built-in
// function (one huge Array.join, say): the call still returns at its
// deadline, and the runtime ends when the built-in does; while four such
// runtimes run on past a grace period, new calls fail at once. Memory is
// bounded only by what a script can allocate within its timeout.
package pac
