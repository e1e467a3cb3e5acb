// Command wsdial is a WebSocket client in the spirit of wscat and websocat,
// built on the wsdial library's public API.
//
//	wsdial [flags] URL
//
// Each line of standard input goes out as a text message, and each message
// that arrives is printed on standard output: text as it is, binary in hex
// (or raw, with -raw). At the end of input the client closes the connection
// with status 1000 and waits for the server's close.
//
// With no URL, wsdial runs a demo: it starts a WebSocket echo server and an
// HTTP CONNECT proxy with Basic authentication inside the process, both on
// loopback, and dials the one through the other with -v on.
//
// Exit codes: 0 after a clean close, 1 when the connection fails once open or
// the dial fails outside the stages below, 2 for usage errors, 3 when the
// proxy fails, 4 when TLS fails, 5 when the WebSocket handshake fails.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// flags holds the command line.
type flags struct {
	headers, subprotocols, proxyHeaders listFlag
	origin, proxy, cacert, proxyCACert  string
	proxyAuth                           string
	noProxy, insecure, verbose, raw     bool
	timeout                             time.Duration
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wsdial", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: wsdial [flags] [ws://|wss://URL]\n\nWith no URL, wsdial runs a self-contained demo.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var f flags
	fs.Var(&f.headers, "H", "add a handshake header `Name: value` (repeatable)")
	fs.Var(&f.subprotocols, "subprotocol", "offer a `subprotocol` (repeatable, in order of preference)")
	fs.StringVar(&f.origin, "origin", "", "send `origin` as the Origin header")
	fs.StringVar(&f.proxy, "proxy", "", "use the proxy at `URL` (http, https, socks5, socks5h) instead of the environment")
	fs.BoolVar(&f.noProxy, "no-proxy", false, "dial directly, ignoring the environment")
	fs.Var(&f.proxyHeaders, "proxy-header", "add a CONNECT header `Name: value` (repeatable)")
	addProxyAuthFlag(fs, &f)
	fs.StringVar(&f.cacert, "cacert", "", "trust the PEM certificates in `file` for the target")
	fs.StringVar(&f.proxyCACert, "proxy-cacert", "", "trust the PEM certificates in `file` for an https:// proxy")
	fs.BoolVar(&f.insecure, "insecure", false, "INSECURE: skip verification of the target's certificate")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "bound the whole dial, proxy to 101")
	fs.BoolVar(&f.verbose, "v", false, "print each stage of the dial on standard error")
	fs.BoolVar(&f.raw, "raw", false, "print binary messages raw instead of in hex")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	switch fs.NArg() {
	case 0:
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
	return session(ctx, fs.Arg(0), opts, f.raw, stdin, stdout, stderr)
}

// options turns the flags into library options.
func (f *flags) options(stderr io.Writer) ([]wsdial.Option, error) {
	var opts []wsdial.Option
	if f.proxy != "" && f.noProxy {
		return nil, errors.New("-proxy and -no-proxy exclude each other")
	}
	switch {
	case f.proxy != "":
		opts = append(opts, wsdial.WithProxy(f.proxy))
	case f.noProxy:
		opts = append(opts, wsdial.WithoutProxy())
	}
	for _, l := range []struct {
		list listFlag
		with func(http.Header) wsdial.Option
	}{{f.headers, wsdial.WithHeader}, {f.proxyHeaders, wsdial.WithProxyHeader}} {
		if len(l.list) == 0 {
			continue
		}
		h, err := l.list.header()
		if err != nil {
			return nil, err
		}
		opts = append(opts, l.with(h))
	}
	if len(f.subprotocols) > 0 {
		opts = append(opts, wsdial.WithSubprotocols(f.subprotocols...))
	}
	if f.origin != "" {
		opts = append(opts, wsdial.WithOrigin(f.origin))
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
				return nil, err
			}
			cfg.RootCAs = pool
		}
		opts = append(opts, wsdial.WithTLSConfig(cfg))
	}
	if f.proxyCACert != "" {
		pool, err := loadPool(f.proxyCACert)
		if err != nil {
			return nil, err
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
		opts = append(opts, wsdial.WithLogger(slog.New(&stageLog{w: stderr, start: time.Now()})))
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

// closeWait bounds how long the client waits, after its input ends, for
// the server's replies and close.
const closeWait = 5 * time.Second

// session dials url, then pipes standard input out as text messages and
// incoming messages to standard output until either side closes.
func session(ctx context.Context, url string, opts []wsdial.Option, raw bool, stdin io.Reader, stdout, stderr io.Writer) int {
	d, err := wsdial.New(opts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitUsage
	}
	c, err := d.DialWebSocket(ctx, url)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitCode(err)
	}

	// An interrupt closes the connection even while a write is blocked on a
	// server that does not read: the close gives up on the writer after a
	// second and ends the stream, which ends the write.
	defer context.AfterFunc(ctx, func() { c.CloseWithStatus(wsdial.StatusGoingAway, "interrupted") })()

	// The reader owns stdout, and ends when the connection does.
	readDone := make(chan int, 1)
	go func() { readDone <- printMessages(c, raw, stdout, stderr) }()

	// A blocked read of stdin cannot be interrupted: when the session ends
	// first, this goroutine is left to the process's exit.
	lines := make(chan string)
	inputDone := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop:
				return
			}
		}
		inputDone <- sc.Err()
	}()

	for {
		select {
		case line := <-lines:
			if err := c.WriteMessage(wsdial.TextMessage, []byte(line)); err != nil {
				fmt.Fprintf(stderr, "wsdial: write: %v\n", err)
				c.Close()
				<-readDone
				return exitFailure
			}
		case err := <-inputDone:
			if err != nil {
				fmt.Fprintf(stderr, "wsdial: reading standard input: %v\n", err)
			}
			// Half-close, so that the replies to what was sent still arrive.
			c.CloseWrite()
			c.SetReadDeadline(time.Now().Add(closeWait))
			code := <-readDone
			c.Close()
			return code
		case code := <-readDone:
			c.Close()
			return code
		case <-ctx.Done():
			<-readDone // the interrupt's close ends the reader
			return exitFailure
		}
	}
}

// printMessages prints every message until the connection ends, and returns
// the exit code that its end calls for.
func printMessages(c *wsdial.Conn, raw bool, stdout, stderr io.Writer) int {
	for {
		typ, msg, err := c.ReadMessage()
		if err != nil {
			var ce *wsdial.CloseError
			if errors.As(err, &ce) {
				if ce.Code == wsdial.StatusNormalClosure {
					return exitOK
				}
				fmt.Fprintf(stderr, "wsdial: closed by the server: %v\n", err)
				return exitFailure
			}
			fmt.Fprintf(stderr, "wsdial: read: %v\n", err)
			return exitFailure
		}
		switch {
		case typ == wsdial.TextMessage:
			fmt.Fprintf(stdout, "%s\n", msg)
		case raw:
			stdout.Write(msg)
		default:
			fmt.Fprintln(stdout, hex.EncodeToString(msg))
		}
	}
}

// exitCode maps a dial error to the exit code of its stage.
func exitCode(err error) int {
	switch {
	case errors.Is(err, wsdial.ErrProxy):
		return exitProxy
	case errors.Is(err, wsdial.ErrTLS):
		return exitTLS
	case errors.Is(err, wsdial.ErrHandshake):
		return exitHandshake
	}
	return exitFailure
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

// stageLog prints the library's debug records as one line each, with the
// time since the command started.
type stageLog struct {
	w     io.Writer
	start time.Time
	attrs []slog.Attr
}

func (s *stageLog) Enabled(context.Context, slog.Level) bool { return true }

func (s *stageLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "[%8.3fms] %s", float64(time.Since(s.start).Microseconds())/1000, strings.TrimPrefix(r.Message, "wsdial: "))
	for _, a := range s.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		v := a.Value.String()
		if a.Key == "why" {
			v = flagReason(v)
		}
		fmt.Fprintf(&b, " %s=%s", a.Key, v)
		return true
	})
	b.WriteByte('\n')
	_, err := io.WriteString(s.w, b.String())
	return err
}

func (s *stageLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &stageLog{w: s.w, start: s.start, attrs: append(append([]slog.Attr(nil), s.attrs...), as...)}
}

func (s *stageLog) WithGroup(string) slog.Handler { return s }

// flagReason names the flag behind the option the library reports as the
// reason for a route: here an option can only have come from a flag.
func flagReason(why string) string {
	switch why {
	case "WithProxy":
		return "the -proxy flag"
	case "WithoutProxy":
		return "the -no-proxy flag"
	}
	return why
}
