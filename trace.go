package wsdial

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"time"
)

// dialTrace reports the stages of one dial to the context's httptrace hooks
// and to the Dialer's logger, whichever are present. Its zero value reports
// nothing. Each method checks for a listener before it builds a log record,
// so a dial that nobody watches allocates nothing for it.
type dialTrace struct {
	ctx    context.Context
	hooks  *httptrace.ClientTrace
	logger *slog.Logger
	// attempt, during one attempt of a WithProxyList list, hears whether
	// the proxy answered; nil otherwise.
	attempt *proxyAttempt
}

func traceFor(ctx context.Context, logger *slog.Logger) dialTrace {
	if dc, ok := ctx.(*dialCtx); ok {
		ctx = dc.parent // the logger's handler is given the caller's own context
	}
	t := dialTrace{ctx: ctx, hooks: httptrace.ContextClientTrace(ctx)}
	if logger != nil && logger.Enabled(ctx, slog.LevelDebug) {
		t.logger = logger
	}
	return t
}

// logOnly is t without its httptrace hooks, for the exchanges that the
// hooks do not describe.
func (t dialTrace) logOnly() dialTrace {
	t.hooks = nil
	return t
}

// route logs the proxy chosen for target, or none, and why.
func (t dialTrace) route(d *Dialer, scheme, target string, px *proxyTarget) {
	if t.logger == nil {
		return
	}
	why := d.proxyReason(scheme, target, px != nil)
	if px == nil {
		t.logger.DebugContext(t.ctx, "wsdial: direct", "target", target, "why", why)
		return
	}
	t.logger.DebugContext(t.ctx, "wsdial: proxy", "proxy", px.redacted, "target", target, "why", why)
}

// connectStart and connectDone log the TCP dial to the proxy or target. The
// httptrace hooks of the same name need no call here: net.Dialer fires them
// itself from the context.
func (t dialTrace) connectStart(network, addr string) {
	if t.logger != nil {
		t.logger.DebugContext(t.ctx, "wsdial: tcp connect", "network", network, "addr", addr)
	}
}

func (t dialTrace) connectDone(addr string, err error) {
	switch {
	case t.logger == nil:
	case err != nil:
		t.logger.DebugContext(t.ctx, "wsdial: tcp connect failed", "addr", addr, "err", err)
	default:
		t.logger.DebugContext(t.ctx, "wsdial: tcp connected", "addr", addr)
	}
}

// proxyReply logs the status line of a proxy's CONNECT reply.
func (t dialTrace) proxyReply(h *responseHead) {
	t.attempt.replied()
	if t.logger != nil {
		t.logger.DebugContext(t.ctx, "wsdial: proxy replied",
			"reply", fmt.Sprintf("HTTP/%d.%d %d %s", h.major, h.minor, h.status, printable(h.reason)))
	}
}

// interim reports an interim (1xx) response that was read past, to the
// Got100Continue and Got1xxResponse hooks and the log. An error from
// Got1xxResponse ends the dial, as httptrace documents.
func (t dialTrace) interim(h *responseHead) error {
	if t.logger != nil {
		t.logger.DebugContext(t.ctx, "wsdial: interim response", "status", h.status)
	}
	if t.hooks == nil {
		return nil
	}
	if h.status == http.StatusContinue && t.hooks.Got100Continue != nil {
		t.hooks.Got100Continue()
	}
	if t.hooks.Got1xxResponse == nil {
		return nil
	}
	header := make(textproto.MIMEHeader, len(h.fields))
	for _, f := range h.fields {
		header.Add(f.name, f.value)
	}
	return t.hooks.Got1xxResponse(h.status, header)
}

// socksReply logs a SOCKS5 proxy's answer to the request for target: its
// grant, or why there was none.
func (t dialTrace) socksReply(target string, err error) {
	switch {
	case t.logger == nil:
	case err == nil:
		t.logger.DebugContext(t.ctx, "wsdial: proxy replied", "target", target, "reply", "SOCKS5 succeeded")
	default:
		var reply SOCKSReply
		if errors.As(err, &reply) {
			t.logger.DebugContext(t.ctx, "wsdial: proxy replied", "target", target, "reply", "SOCKS5 "+reply.Error())
			return
		}
		t.logger.DebugContext(t.ctx, "wsdial: proxy failed", "target", target, "err", err)
	}
}

// tlsStart and tlsDone frame the TLS handshake with the target.
func (t dialTrace) tlsStart() {
	if t.hooks != nil && t.hooks.TLSHandshakeStart != nil {
		t.hooks.TLSHandshakeStart()
	}
}

func (t dialTrace) tlsDone(state tls.ConnectionState, err error) {
	if t.hooks != nil && t.hooks.TLSHandshakeDone != nil {
		t.hooks.TLSHandshakeDone(state, err)
	}
	switch {
	case t.logger == nil:
	case err != nil:
		t.logger.DebugContext(t.ctx, "wsdial: tls failed", "err", err)
	default:
		t.logger.DebugContext(t.ctx, "wsdial: tls done", "version", tls.VersionName(state.Version),
			"cipher", tls.CipherSuiteName(state.CipherSuite), "alpn", state.NegotiatedProtocol)
	}
}

// wroteHeaders reports the upgrade request sent.
func (t dialTrace) wroteHeaders() {
	if t.hooks != nil && t.hooks.WroteHeaders != nil {
		t.hooks.WroteHeaders()
	}
	if t.logger != nil {
		t.logger.DebugContext(t.ctx, "wsdial: upgrade request sent")
	}
}

// upgraded logs the 101 that ended the handshake.
func (t dialTrace) upgraded(status int, subprotocol string) {
	if t.logger != nil {
		t.logger.DebugContext(t.ctx, "wsdial: upgraded", "status", status, "subprotocol", subprotocol)
	}
}

// h2Kept logs a dial that opens a stream on a kept HTTP/2 connection to
// addr, an origin or a proxy, instead of a connection.
func (t dialTrace) h2Kept(addr string) {
	if t.logger != nil {
		t.logger.DebugContext(t.ctx, "wsdial: stream on a kept HTTP/2 connection", "addr", addr)
	}
}

// h2Fallback logs a dial that goes on over HTTP/1.1 because addr declined
// HTTP/2 or its extended CONNECT, and says why.
func (t dialTrace) h2Fallback(addr, why string) {
	if t.logger != nil {
		t.logger.DebugContext(t.ctx, "wsdial: HTTP/1.1 instead of HTTP/2", "addr", addr, "why", why)
	}
}

// gotFirstByte reports the first byte of a response that came on an
// HTTP/2 stream, where no reader can be wrapped: its header block.
func (t dialTrace) gotFirstByte() {
	if t.hooks != nil && t.hooks.GotFirstResponseByte != nil {
		t.hooks.GotFirstResponseByte()
	}
}

// firstByte returns r, wrapped to report the first byte of the upgrade
// response when a hook wants it.
func (t dialTrace) firstByte(r io.Reader) io.Reader {
	if t.hooks == nil || t.hooks.GotFirstResponseByte == nil {
		return r
	}
	return &firstByteReader{r: r, fn: t.hooks.GotFirstResponseByte}
}

type firstByteReader struct {
	r  io.Reader
	fn func()
}

func (f *firstByteReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && f.fn != nil {
		f.fn()
		f.fn = nil
	}
	return n, err
}

// listOrder logs the entries of a WithProxyList list in the order the dial
// tries them, the marked ones last, and each entry it skipped, with why.
func (t dialTrace) listOrder(target string, try []listEntry, skipped []error, dropped int) {
	if t.logger == nil {
		return
	}
	for _, err := range skipped {
		t.logger.DebugContext(t.ctx, "wsdial: proxy list: entry skipped", "err", err)
	}
	var b strings.Builder
	for i, e := range try {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.name)
		if e.marked {
			b.WriteString(" (marked bad)")
		}
	}
	args := []any{"target", target, "order", b.String()}
	if dropped > 0 {
		args = append(args, "dropped", fmt.Sprintf("%d entries past the first %d", dropped, maxListEntries))
	}
	t.logger.DebugContext(t.ctx, "wsdial: proxy list", args...)
}

// listTry logs the attempt through entry n of a list of of, as route logs a
// dial's one proxy, with the attempt's share of the dial's time (0: all
// that is left).
func (t dialTrace) listTry(e *listEntry, target string, n, of int, share time.Duration) {
	if t.logger == nil {
		return
	}
	why := fmt.Sprintf("WithProxyList, entry %d of %d", n, of)
	if e.marked {
		why += ", marked bad"
	}
	limit := "the rest of the dial"
	if share > 0 {
		limit = share.Round(time.Millisecond).String()
	}
	if e.px == nil {
		t.logger.DebugContext(t.ctx, "wsdial: direct", "target", target, "why", why, "share", limit)
		return
	}
	t.logger.DebugContext(t.ctx, "wsdial: proxy", "proxy", e.name, "target", target, "why", why, "share", limit)
}

// listFailed logs why an attempt of a list failed, whether the dial moves
// on to the next entry, and for how long the entry is marked bad.
func (t dialTrace) listFailed(e *listEntry, v verdict, why string, err error, marked time.Duration, next bool) {
	if t.logger == nil {
		return
	}
	msg := "wsdial: proxy list: stop"
	switch {
	case v != stop && next:
		msg = "wsdial: proxy list: next entry"
	case v != stop:
		why += "; no entry is left"
	}
	args := []any{"entry", e.name, "why", why, "err", err}
	if marked > 0 {
		args = append(args, "marked_bad_for", marked)
	}
	t.logger.DebugContext(t.ctx, msg, args...)
}

// listCleared logs the mark taken off a proxy that a dial got through.
func (t dialTrace) listCleared(e *listEntry) {
	if t.logger != nil {
		t.logger.DebugContext(t.ctx, "wsdial: proxy list: mark cleared", "proxy", e.name)
	}
}
