package wsdial

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http/httptrace"
)

// dialTrace reports the stages of one dial to the context's httptrace hooks
// and to the Dialer's logger, whichever are present. Its zero value reports
// nothing, at no cost.
type dialTrace struct {
	ctx    context.Context
	hooks  *httptrace.ClientTrace
	logger *slog.Logger
}

func traceFor(ctx context.Context, logger *slog.Logger) dialTrace {
	t := dialTrace{ctx: ctx, hooks: httptrace.ContextClientTrace(ctx)}
	if logger != nil && logger.Enabled(ctx, slog.LevelDebug) {
		t.logger = logger
	}
	return t
}

func (t dialTrace) log(msg string, args ...any) {
	if t.logger != nil {
		t.logger.DebugContext(t.ctx, msg, args...)
	}
}

// connectStart and connectDone log the TCP dial to the proxy or target. The
// httptrace hooks of the same name need no call here: net.Dialer fires them
// itself from the context.
func (t dialTrace) connectStart(network, addr string) {
	t.log("wsdial: tcp connect", "network", network, "addr", addr)
}

func (t dialTrace) connectDone(addr string, err error) {
	if err != nil {
		t.log("wsdial: tcp connect failed", "addr", addr, "err", err)
	} else {
		t.log("wsdial: tcp connected", "addr", addr)
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
	if err != nil {
		t.log("wsdial: tls failed", "err", err)
		return
	}
	t.log("wsdial: tls done", "version", tls.VersionName(state.Version),
		"cipher", tls.CipherSuiteName(state.CipherSuite), "alpn", state.NegotiatedProtocol)
}

// wroteHeaders reports the upgrade request sent.
func (t dialTrace) wroteHeaders() {
	if t.hooks != nil && t.hooks.WroteHeaders != nil {
		t.hooks.WroteHeaders()
	}
	t.log("wsdial: upgrade request sent")
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
