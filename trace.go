package wsdial

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptrace"
)

// dialTrace reports the stages of one dial to the context's httptrace hooks
// and to the Dialer's logger, whichever are present. Its zero value reports
// nothing. Each method checks for a listener before it builds a log record,
// so a dial that nobody watches allocates nothing for it.
type dialTrace struct {
	ctx    context.Context
	hooks  *httptrace.ClientTrace
	logger *slog.Logger
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

// route logs the proxy chosen for target, or none, and why.
func (t dialTrace) route(d *Dialer, scheme, target string, px *proxyTarget) {
	if t.logger == nil {
		return
	}
	why := d.proxyReason(scheme, px != nil)
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
	if t.logger != nil {
		t.logger.DebugContext(t.ctx, "wsdial: proxy replied",
			"reply", fmt.Sprintf("HTTP/%d.%d %d %s", h.major, h.minor, h.status, h.reason))
	}
}

// socksGranted logs a SOCKS5 proxy's grant of the connection.
func (t dialTrace) socksGranted() {
	if t.logger != nil {
		t.logger.DebugContext(t.ctx, "wsdial: proxy replied", "reply", "SOCKS5 succeeded")
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
