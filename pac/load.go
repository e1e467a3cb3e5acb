package pac

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// Load fetches a PAC script from rawURL and parses it as Parse does. It
// takes http and https URLs, fetched with WithHTTPClient's client (by
// default one that uses no proxy and follows up to ten redirects) and
// refused unless the status is 200, and file URLs (file:///etc/proxy.pac).
// A script larger than WithMaxScriptSize (1 MiB by default) is refused. The
// fetch is bounded by ctx, and by 30 seconds, as in Chromium, when ctx has
// no deadline.
func Load(ctx context.Context, rawURL string, opts ...Option) (*Script, error) {
	return load(ctx, rawURL, newConfig(opts))
}

func load(ctx context.Context, rawURL string, cfg config) (*Script, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("pac: script URL: %w", err)
	}
	var src []byte
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		src, err = fetchHTTP(ctx, u, cfg)
	case "file":
		src, err = readFile(u, cfg.maxSize)
	default:
		return nil, fmt.Errorf("pac: script URL %q: scheme %q is not supported; use http, https or file", u.Redacted(), u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	s, err := parse(ctx, src, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (script from %s)", err, u.Redacted())
	}
	return s, nil
}

// defaultClient fetches scripts when WithHTTPClient is not given. It uses
// no proxy: the script may be what chooses one, and a proxy from the
// environment may not reach the network's own PAC server.
var defaultClient = &http.Client{Transport: &http.Transport{
	Proxy:               nil,
	ForceAttemptHTTP2:   true,
	MaxIdleConnsPerHost: 1,
	IdleConnTimeout:     defaultFetchTime,
}}

func fetchHTTP(ctx context.Context, u *url.URL, cfg config) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultFetchTime)
		defer cancel()
	}
	hc := cfg.httpClient
	if hc == nil {
		hc = defaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("pac: fetching the script: %w", err)
	}
	req.Header.Set("Accept", "application/x-ns-proxy-autoconfig, */*")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("pac: fetching the script: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("pac: fetching the script from %s: status %s", u.Redacted(), resp.Status)
	}
	if resp.ContentLength > cfg.maxSize {
		return nil, fmt.Errorf("pac: the script at %s is %d bytes; the limit is %d", u.Redacted(), resp.ContentLength, cfg.maxSize)
	}
	return readCapped(resp.Body, cfg.maxSize, u.Redacted())
}

func readFile(u *url.URL, max int64) ([]byte, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("pac: file URL %q names host %q; only local files can be read", u.Redacted(), u.Host)
	}
	if u.Path == "" {
		return nil, fmt.Errorf("pac: file URL %q names no path", u.Redacted())
	}
	// A FIFO or a device could block the open or the read for ever, out of
	// ctx's reach: only a regular file is opened.
	if fi, err := os.Stat(u.Path); err != nil {
		return nil, fmt.Errorf("pac: reading the script: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("pac: %s is not a regular file", u.Path)
	}
	f, err := os.Open(u.Path)
	if err != nil {
		return nil, fmt.Errorf("pac: reading the script: %w", err)
	}
	defer f.Close()
	return readCapped(f, max, u.Path)
}

// readCapped reads r whole, failing once it passes max bytes, so that an
// endless or oversized response costs at most max+1 bytes of memory.
func readCapped(r io.Reader, max int64, from string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("pac: reading the script from %s: %w", from, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("pac: the script at %s is larger than the limit of %d bytes", from, max)
	}
	if len(b) == 0 {
		return nil, errors.New("pac: the script at " + from + " is empty")
	}
	return b, nil
}

// wpadURL is where Discover looks: the host "wpad", completed by the
// resolver's search domains, and never the parents of those domains.
const wpadURL = "http://wpad/wpad.dat"

// Discover finds the network's PAC script the way Chromium does over DNS:
// it loads http://wpad/wpad.dat, as Load would, and returns the script or
// the error. The name "wpad" is completed by the resolver's search domains
// (/etc/resolv.conf), so on a network whose search domain is corp.example
// the script comes from wpad.corp.example. It never walks up to
// wpad.example or wpad.com, as early browsers did: whoever registers that
// name outside the company would choose every client's proxy (crbug
// 18575). DHCP's option 252, the other way to announce a script, is not
// asked.
//
// Discovery is opt-in, and nothing in wsdial calls it: any host on a network
// that can answer for "wpad" picks the proxy of whoever asks, so use it only
// where the network is trusted to do so, and prefer a script URL the
// administrator names.
func Discover(ctx context.Context, opts ...Option) (*Script, error) {
	return load(ctx, wpadURL, newConfig(opts))
}
