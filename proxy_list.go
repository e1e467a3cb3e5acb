package wsdial

import (
	"context"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Failover through a list of proxies (WithProxyList), the way browsers work
// through the answer of a PAC script. WithProxyList's documentation states
// the rules; this file holds the Dialer's memory of bad proxies, the order
// and the time share of each attempt, and the line between a proxy that
// could not be used, which moves the dial on, and one that answered, which
// ends it.

const (
	// defaultProxyRetryDelay is how long a proxy stays marked bad, as in
	// Chromium.
	defaultProxyRetryDelay = 5 * time.Minute
	// minAttemptShare is the least time an attempt is given while that
	// leaves as much for the rest: a list of many entries must not cut each
	// one too short to reach a proxy across a slow network.
	minAttemptShare = 2 * time.Second
	// maxListEntries bounds the entries a dial looks at, and with them the
	// attempts, time and memory that a runaway list can cost.
	maxListEntries = 32
	// maxBadProxies bounds the marks a Dialer keeps, however many distinct
	// proxies its lists name.
	maxBadProxies = 1024
)

// proxyList is a Dialer's WithProxyList: the function that names the
// proxies of each target, and the marks of the proxies that could not be
// used, shared by all the Dialer's dials.
type proxyList struct {
	f     func(context.Context, *url.URL) ([]*url.URL, error)
	delay time.Duration    // how long a mark lasts; zero or less: none is made
	now   func() time.Time // the clock of the marks, which tests set

	mu  sync.Mutex
	bad map[proxyKey]time.Time // a proxy to the end of its mark
}

func newProxyList(f func(context.Context, *url.URL) ([]*url.URL, error), delay time.Duration) *proxyList {
	return &proxyList{f: f, delay: delay, now: time.Now, bad: make(map[proxyKey]time.Time)}
}

// listEntry is one entry of a list, checked.
type listEntry struct {
	px     *proxyTarget // nil for DIRECT
	key    proxyKey     // what the marks know the proxy by
	name   string       // for errors and the log: the redacted URL, or DIRECT
	marked bool         // marked bad when the dial began: tried after the rest
}

// proxyKey names an entry's proxy as the marks know it, and as repeats are
// found: its scheme, and its host and port, in lower case. socks5:// and
// socks5h:// stay apart, since they differ in who resolves the target: a
// target that only the proxy can resolve needs socks5h://.
type proxyKey struct{ scheme, address string }

// directName names DIRECT in the log and errors; its key is the zero
// proxyKey, which drops repeats of it. DIRECT is never marked.
const directName = "DIRECT"

// keyOf is the key of px: a scheme left out is http, as checkProxy has it.
func keyOf(px *proxyTarget) proxyKey {
	scheme := strings.ToLower(px.url.Scheme)
	if scheme == "" {
		scheme = "http"
	}
	return proxyKey{scheme, strings.ToLower(px.address)}
}

// entries checks urls and appends them to try in the order to try them:
// first the entries not marked bad, then the marked ones, each group in the
// list's order. An empty list is DIRECT. Only the first maxListEntries
// entries are looked at; dropped counts the rest. A repeat of an entry is
// left out, and so is an entry that is not a usable proxy URL, with the
// error that says why in skipped.
func (l *proxyList) entries(try []listEntry, urls []*url.URL) (_ []listEntry, skipped []error, dropped int) {
	if len(urls) == 0 {
		return append(try, listEntry{name: directName}), nil, 0
	}
	if len(urls) > maxListEntries {
		urls, dropped = urls[:maxListEntries], len(urls)-maxListEntries
	}
	for _, u := range urls {
		e := listEntry{name: directName}
		if u != nil {
			px, err := checkProxy(u)
			if err != nil {
				skipped = append(skipped, &ProxyError{Proxy: px.redacted, Stage: "resolve", Err: err})
				continue
			}
			e = listEntry{px: px, key: keyOf(px), name: px.redacted}
		}
		if !slices.ContainsFunc(try, func(o listEntry) bool { return o.key == e.key }) {
			try = append(try, e)
		}
	}
	if l.delay > 0 {
		now := l.now()
		l.mu.Lock()
		for i := range try {
			if until, ok := l.bad[try[i].key]; ok {
				if now.Before(until) {
					try[i].marked = true
				} else {
					delete(l.bad, try[i].key)
				}
			}
		}
		l.mu.Unlock()
		slices.SortStableFunc(try, func(a, b listEntry) int {
			switch {
			case a.marked == b.marked:
				return 0
			case a.marked:
				return 1
			}
			return -1
		})
	}
	return try, skipped, dropped
}

// mark marks the proxy of key bad for l.delay from now, and returns how
// long, or 0 when marks are off.
func (l *proxyList) mark(key proxyKey) time.Duration {
	if l.delay <= 0 {
		return 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.bad[key]; !ok && len(l.bad) >= maxBadProxies {
		l.evict(now)
	}
	l.bad[key] = now.Add(l.delay)
	return l.delay
}

// evict makes room for one more mark: it drops the marks that have ended,
// and if none has, the one that ends first. l.mu is held.
func (l *proxyList) evict(now time.Time) {
	for k, until := range l.bad {
		if !now.Before(until) {
			delete(l.bad, k)
		}
	}
	for len(l.bad) >= maxBadProxies {
		var first proxyKey
		var end time.Time
		for k, until := range l.bad {
			if end.IsZero() || until.Before(end) {
				first, end = k, until
			}
		}
		delete(l.bad, first)
	}
}

// clear removes the mark of the proxy of key, which a dial just got
// through, and reports whether there was one.
func (l *proxyList) clear(key proxyKey) bool {
	if l.delay <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.bad[key]
	delete(l.bad, key)
	return ok
}

// reachList connects to address through the first entry of the list for
// the target that can be used, as WithProxyList describes.
func (d *Dialer) reachList(ctx context.Context, tr dialTrace, network, address, scheme string) (net.Conn, error) {
	l := d.list
	urls, err := l.f(ctx, &url.URL{Scheme: scheme, Host: address})
	if err != nil {
		return nil, &ProxyError{Stage: "resolve", Err: err}
	}
	var buf [8]listEntry // enough for most lists, without an allocation
	try, failed, dropped := l.entries(buf[:0], urls)
	tr.listOrder(address, try, failed, dropped)
	var a proxyAttempt
	for i, e := range try {
		actx, cancel, share := attemptContext(ctx, len(try)-i)
		tr.listTry(&e, address, i+1, len(try), share)
		a = proxyAttempt{socks: strings.HasPrefix(e.key.scheme, "socks")}
		atr := tr
		if e.px != nil {
			atr.attempt = &a
		}
		c, err := d.via(actx, atr, e.px, network, address)
		cancel()
		if err == nil {
			if e.px != nil && l.clear(e.key) {
				tr.listCleared(&e)
			}
			return a.unwrap(c), nil
		}
		failed = append(failed, err)
		v, why := judge(ctx, &e, &a, err)
		var marked time.Duration
		if v == moveOnMarked {
			marked = l.mark(e.key)
		}
		tr.listFailed(&e, v, why, err, marked, i+1 < len(try))
		if v == stop {
			break
		}
	}
	if len(failed) == 1 {
		return nil, failed[0]
	}
	return nil, &listError{errs: failed}
}

// verdict is what the failure of one attempt means for the rest of the dial.
type verdict int

const (
	// moveOnMarked: the proxy could not be used; mark it and try the next.
	moveOnMarked verdict = iota
	// moveOn: this entry could not reach the target, through no fault
	// that a mark would remember: try the next.
	moveOn
	// stop: end the dial with this error.
	stop
)

// judge draws the line of WithProxyList between an entry that could not be
// used and one that answered, or a failure no other entry would change. It
// reads the stage of the error and what the attempt heard, never the
// error's text.
func judge(ctx context.Context, e *listEntry, a *proxyAttempt, err error) (verdict, string) {
	if ctxErr(ctx) != nil {
		return stop, "the dial's context ended"
	}
	if e.px == nil {
		// A direct dial fails only in its connect, name lookup included.
		return moveOn, "the target could not be reached directly (DIRECT is never marked)"
	}
	if a.answered {
		return stop, "the proxy answered; no failover (crbug 680837)"
	}
	var pe *ProxyError
	if errors.As(err, &pe) {
		switch pe.Stage {
		case "dial":
			return moveOnMarked, "the proxy could not be reached"
		case "tls":
			return moveOnMarked, "TLS with the proxy failed"
		case "connect":
			if pe.StatusCode == 0 && (errors.Is(err, errNoResponse) || failedWrite(err)) {
				return moveOnMarked, "the proxy sent no reply"
			}
		case "socks":
			var dnsErr *net.DNSError
			switch {
			case a.connected:
				// Nothing came from the proxy, so only the connection can
				// have failed: closed, reset or out of time.
				return moveOnMarked, "the proxy sent no reply"
			case errors.As(err, &dnsErr):
				return moveOn, "the target's name did not resolve here, as socks5:// asks; the proxy is not marked"
			}
		}
	}
	if a.connected {
		return stop, "the proxy answered; no failover (crbug 680837)"
	}
	return stop, "the dial failed on this side"
}

// failedWrite reports whether err is the failure of a write on the
// connection: the CONNECT request could not be sent, so no reply can have
// come.
func failedWrite(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "write"
}

// attemptContext bounds an attempt that has left entries to go, itself
// included, by its share of the time ctx has left. share is 0 when ctx has
// no deadline or the attempt has all that is left.
func attemptContext(ctx context.Context, left int) (actx context.Context, cancel context.CancelFunc, share time.Duration) {
	dl, ok := ctx.Deadline()
	if !ok {
		return ctx, func() {}, 0
	}
	share = attemptShare(time.Until(dl), left)
	actx, cancel = bound(ctx, share)
	if actx == ctx {
		return ctx, cancel, 0
	}
	if ac, ok := actx.(*dialCtx); ok {
		if dc, ok := ctx.(*dialCtx); ok {
			// The attempt's deadline comes before the dial's, and the
			// attempt is over before the dial cancels its context, so the
			// caller's context is the one left for its I/O to watch.
			ac.parent = dc.parent
		}
	}
	return actx, cancel, share
}

// attemptShare is the time an attempt is given when remaining is left and
// left entries are to be tried, itself included: an even share, raised to
// minAttemptShare, but never more than half of what is left while another
// entry waits, so that a short bound is split too rather than given whole
// to a first entry that may never answer.
func attemptShare(remaining time.Duration, left int) time.Duration {
	if left <= 1 {
		return remaining
	}
	return min(max(remaining/time.Duration(left), minAttemptShare), remaining/2)
}

// proxyAttempt hears, through the dial's trace, what happened on one
// attempt through a proxy: whether a connection to the proxy opened, and
// whether the proxy sent any byte of a reply.
type proxyAttempt struct {
	socks     bool // watch the bytes a SOCKS proxy sends: a read's error does not say whether any came
	connected bool
	answered  bool
}

// replied notes a reply from the proxy; a is nil outside a proxy list.
func (a *proxyAttempt) replied() {
	if a != nil {
		a.answered = true
	}
}

// opened notes a connection to the proxy and, for SOCKS, returns it
// wrapped to hear the proxy's first byte; a is nil outside a proxy list.
func (a *proxyAttempt) opened(c net.Conn) net.Conn {
	if a == nil {
		return c
	}
	a.connected = true
	if a.socks {
		return &socksWatch{Conn: c, a: a}
	}
	return c
}

// unwrap takes the watch off the stream that a SOCKS proxy granted, so
// that it costs nothing past the dial.
func (a *proxyAttempt) unwrap(c net.Conn) net.Conn {
	if w, ok := c.(*socksWatch); ok {
		return w.Conn
	}
	return c
}

// socksWatch is a connection to a SOCKS proxy that tells its attempt when
// the first byte arrives. Only the dial's goroutine reads it.
type socksWatch struct {
	net.Conn
	a *proxyAttempt
}

func (w *socksWatch) Read(p []byte) (int, error) {
	n, err := w.Conn.Read(p)
	if n > 0 {
		w.a.answered = true
	}
	return n, err
}

// listError is the failure of a dial that went through more than one entry
// of a proxy list. Its text says what each entry got, in order; errors.Is
// and errors.As see only the error that ended the dial, the last. An
// earlier entry's cause stays out of their reach on purpose: a proxy that
// timed out within its share, and that the dial moved past, must not make
// the dial's error match context.DeadlineExceeded, nor a refused one make a
// 407 behind it match syscall.ECONNREFUSED.
type listError struct {
	errs []error // each entry's error; the last ended the dial
}

func (e *listError) Error() string {
	var b strings.Builder
	b.WriteString("wsdial: proxy list: ")
	for i, err := range e.errs {
		if i > 0 {
			b.WriteString("; then ")
		}
		// A proxy's error names the proxy; a direct dial's says only "dial".
		if se, ok := err.(*stageError); ok && se.class == ErrDial {
			b.WriteString("DIRECT: ")
		}
		b.WriteString(strings.TrimPrefix(err.Error(), "wsdial: "))
	}
	return b.String()
}

// Unwrap returns the last entry's error, which ended the dial.
func (e *listError) Unwrap() error { return e.errs[len(e.errs)-1] }
