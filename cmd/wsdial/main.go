// Command wsdial is a WebSocket client in the spirit of wscat and websocat,
// built on the wsdial library's public API.
//
//	wsdial [flags] URL
//
// Each line of standard input goes out as a text message, without its line
// ending; with -binary, as a binary message, and with -binary -raw-in,
// standard input goes out in binary messages of whatever it delivers at a
// time. A line longer than 16 MiB, or, without -binary, a line that is not
// UTF-8, ends the command with an error rather than being dropped or sent
// as a broken message. Each message that arrives is printed on standard
// output: text as it is (on a terminal with its control characters
// escaped, unless -raw), binary in hex (or raw, with -raw). At the end of
// input the client closes the connection with status 1000 and waits for
// the server's close.
//
// With no URL, wsdial runs a demo: it starts a WebSocket echo server and an
// HTTP CONNECT proxy with Basic authentication inside the process, both on
// loopback (those of package wsdialtest), and dials the one through the
// other with -v on. No flag but -v may be given without a URL.
//
// Exit codes: 0 after a clean close, 1 when the connection fails once open,
// when the input cannot be sent, or when the dial fails to reach the target
// without a proxy, 2 for usage errors (a bad flag, URL or proxy variable),
// 3 when the proxy fails, 4 when TLS fails, 5 when the WebSocket handshake
// fails, and 130 or 143 after SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/wsdial/wsdial"
)

const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitProxy     = 3
	exitTLS       = 4
	exitHandshake = 5
)

func main() {
	ctx, stop := withInterrupt(context.Background())
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// flags holds the command line.
type flags struct {
	headers, subprotocols, proxyHeaders listFlag
	origin, proxy, cacert, proxyCACert  string
	proxyAuth, pac                      string
	noProxy, insecure, verbose, raw     bool
	binary, rawIn                       bool
	timeout                             time.Duration
	demo                                bool // set by the demo, not by a flag: the proxy is its own
}

// newFlagSet defines the command's flags on f.
func newFlagSet(f *flags) *flag.FlagSet {
	fs := flag.NewFlagSet("wsdial", flag.ContinueOnError)
	fs.Var(&f.headers, "H", "add a handshake header `Name: value` (repeatable)")
	fs.Var(&f.subprotocols, "subprotocol", "offer a `subprotocol` (repeatable, in order of preference)")
	fs.StringVar(&f.origin, "origin", "", "send `origin` as the Origin header")
	fs.StringVar(&f.proxy, "proxy", "", "use the proxy at `URL` (http, https, socks5, socks5h) instead of the environment")
	fs.BoolVar(&f.noProxy, "no-proxy", false, "dial directly, ignoring the environment")
	fs.Var(&f.proxyHeaders, "proxy-header", "add a CONNECT header `Name: value` (repeatable)")
	addProxyAuthFlag(fs, f)
	addPACFlag(fs, f)
	fs.StringVar(&f.cacert, "cacert", "", "trust the PEM certificates in `file` for the target")
	fs.StringVar(&f.proxyCACert, "proxy-cacert", "", "trust the PEM certificates in `file` for an https:// proxy")
	fs.BoolVar(&f.insecure, "insecure", false, "INSECURE: skip verification of the target's certificate")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "bound the whole dial, proxy to 101")
	fs.BoolVar(&f.verbose, "v", false, "print each stage of the dial on standard error")
	fs.BoolVar(&f.raw, "raw", false, "print messages as they came: binary raw instead of in hex, text with its control characters")
	fs.BoolVar(&f.binary, "binary", false, "send each line of input as a binary message")
	fs.BoolVar(&f.rawIn, "raw-in", false, "with -binary: send input as it comes, not line by line")
	fs.SetOutput(io.Discard) // run prints the usage and the errors itself
	return fs
}

// usage prints the synopsis and the flags.
func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, "usage: wsdial [flags] ws://|wss://URL\n       wsdial [-v]    (a self-contained demo)\n\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f flags
	fs := newFlagSet(&f)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs)
			return exitOK
		}
		fmt.Fprintf(stderr, "wsdial: usage: %v\n\n", err)
		usage(stderr, fs)
		return exitUsage
	}
	switch fs.NArg() {
	case 0:
		var given []string
		fs.Visit(func(fl *flag.Flag) {
			if fl.Name != "v" {
				given = append(given, "-"+fl.Name)
			}
		})
		if len(given) > 0 {
			fmt.Fprintf(stderr, "wsdial: usage: %s given with no URL; with no URL wsdial runs the demo, which takes only -v\n", strings.Join(given, ", "))
			return exitUsage
		}
		return demo(ctx, f, stdout, stderr)
	case 1:
	default:
		fmt.Fprintln(stderr, "wsdial: usage: one URL at most")
		return exitUsage
	}
	opts, err := f.options(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "wsdial: usage: %v\n", err)
		return exitUsage
	}
	pacOpts, err := f.pacOptions(ctx, stderr)
	if err != nil {
		if i, ok := interruption(ctx); ok {
			fmt.Fprintln(stderr, "wsdial: interrupted")
			return i.exitCode()
		}
		// The error may quote the script or its server, network text both.
		fmt.Fprintf(stderr, "wsdial: %s\n", escapeControl(err.Error(), false))
		return exitProxy
	}
	opts = append(opts, pacOpts...)
	return session(ctx, fs.Arg(0), opts, f.mode(stdout), stdin, stdout, stderr)
}

// mode says how the session sends input and prints messages.
func (f *flags) mode(stdout io.Writer) ioMode {
	return ioMode{raw: f.raw, binary: f.binary, rawIn: f.rawIn, escape: !f.raw && isTerminal(stdout)}
}

// flagError names the flag whose value the library refused.
func flagError(name string, err error) error {
	return fmt.Errorf("-%s: %s", name, strings.TrimPrefix(err.Error(), "wsdial: "))
}

// options turns the flags into library options. Each flag's option is
// checked on its own, so that an invalid one is reported with the flag's
// name.
func (f *flags) options(stderr io.Writer) ([]wsdial.Option, error) {
	switch {
	case f.proxy != "" && f.noProxy:
		return nil, errors.New("-proxy and -no-proxy exclude each other")
	case f.pac != "" && (f.proxy != "" || f.noProxy):
		return nil, errors.New("-pac excludes -proxy and -no-proxy: the script names the proxies")
	case f.rawIn && !f.binary:
		return nil, errors.New("-raw-in needs -binary: input that comes in pieces may split a character of text")
	}
	var opts []wsdial.Option
	add := func(name string, o wsdial.Option) error {
		// WithoutProxy first, so that no proxy variable's fault is taken for the flag's.
		if _, err := wsdial.New(wsdial.WithoutProxy(), o); err != nil {
			return flagError(name, err)
		}
		opts = append(opts, o)
		return nil
	}
	switch {
	case f.proxy != "":
		if err := add("proxy", wsdial.WithProxy(f.proxy)); err != nil {
			return nil, err
		}
	case f.noProxy:
		opts = append(opts, wsdial.WithoutProxy())
	}
	for _, l := range []struct {
		name string
		list listFlag
		with func(http.Header) wsdial.Option
	}{{"H", f.headers, wsdial.WithHeader}, {"proxy-header", f.proxyHeaders, wsdial.WithProxyHeader}} {
		if len(l.list) == 0 {
			continue
		}
		h, err := l.list.header()
		if err != nil {
			return nil, fmt.Errorf("-%s: %w", l.name, err)
		}
		if err := add(l.name, l.with(h)); err != nil {
			return nil, err
		}
	}
	if len(f.subprotocols) > 0 {
		if err := add("subprotocol", wsdial.WithSubprotocols(f.subprotocols...)); err != nil {
			return nil, err
		}
	}
	if f.origin != "" {
		if err := add("origin", wsdial.WithOrigin(f.origin)); err != nil {
			return nil, err
		}
	}
	if f.cacert != "" || f.insecure {
		cfg := &tls.Config{}
		if f.insecure {
			fmt.Fprintln(stderr, "wsdial: WARNING: -insecure: the target's certificate is NOT verified; anyone on the path can read and change this connection")
			cfg.InsecureSkipVerify = true
		}
		if f.cacert != "" {
			pool, err := loadPool(f.cacert)
			if err != nil {
				return nil, fmt.Errorf("-cacert: %w", err)
			}
			cfg.RootCAs = pool
		}
		opts = append(opts, wsdial.WithTLSConfig(cfg))
	}
	if f.proxyCACert != "" {
		pool, err := loadPool(f.proxyCACert)
		if err != nil {
			return nil, fmt.Errorf("-proxy-cacert: %w", err)
		}
		opts = append(opts, wsdial.WithProxyTLSConfig(&tls.Config{RootCAs: pool}))
	}
	authOpts, err := f.proxyAuthOptions(stderr)
	if err != nil {
		return nil, err
	}
	opts = append(opts, authOpts...)
	opts = append(opts, wsdial.WithHandshakeTimeout(f.timeout))
	if f.verbose {
		opts = append(opts, wsdial.WithLogger(slog.New(&stageLog{w: stderr, start: time.Now(), demo: f.demo})))
	}
	return opts, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ", ") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// header parses "Name: value" entries.
func (l listFlag) header() (http.Header, error) {
	h := http.Header{}
	for _, e := range l {
		name, value, ok := strings.Cut(e, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("header %q is not of the form 'Name: value'", e)
		}
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	return h, nil
}
