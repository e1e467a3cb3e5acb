package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/pac"
)

// pacUsage is the help of -pac.
const pacUsage = "take the proxies from the PAC script at `URL` (http, https or file, or a file's path), " +
	"trying each entry it answers in turn"

// addPACFlag defines -pac on fs.
func addPACFlag(fs *flag.FlagSet, f *flags) {
	fs.StringVar(&f.pac, "pac", "", pacUsage)
}

// pacOptions loads the -pac script, within the -timeout that bounds the
// dial, and returns the option that routes every dial through its answer.
// A script that cannot be loaded is the proxy's failure, not a usage error:
// the flag was well formed.
func (f *flags) pacOptions(ctx context.Context, stderr io.Writer) ([]wsdial.Option, error) {
	if f.pac == "" {
		return nil, nil
	}
	src := f.pac
	if !strings.Contains(src, "://") {
		abs, err := filepath.Abs(src)
		if err != nil {
			return nil, fmt.Errorf("-pac: %w", err)
		}
		src = (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String()
	}
	if f.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
		defer cancel()
	}
	var opts []pac.Option
	if f.verbose {
		opts = append(opts, pac.WithLogger(slog.New(&stageLog{w: stderr, start: time.Now()})))
	}
	script, err := pac.Load(ctx, src, opts...)
	if err != nil {
		return nil, fmt.Errorf("-pac: %w", err)
	}
	return []wsdial.Option{wsdial.WithProxyList(script.Proxies)}, nil
}
