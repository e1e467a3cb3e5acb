package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// stageLog prints the library's debug records as one line each, with the
// time since the command started. Values may come from the network (a
// proxy's reason phrase), so their control characters are escaped.
type stageLog struct {
	w     io.Writer
	start time.Time
	demo  bool // the demo chose the proxy, not a flag
	attrs []slog.Attr
}

func (s *stageLog) Enabled(context.Context, slog.Level) bool { return true }

func (s *stageLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "[%8.3fms] %s", float64(time.Since(s.start).Microseconds())/1000, strings.TrimPrefix(r.Message, "wsdial: "))
	attr := func(a slog.Attr) bool {
		v := a.Value.String()
		if a.Key == "why" {
			v = s.flagReason(v)
		}
		fmt.Fprintf(&b, " %s=%s", a.Key, escapeControl(v, false))
		return true
	}
	for _, a := range s.attrs {
		attr(a)
	}
	r.Attrs(attr)
	b.WriteByte('\n')
	_, err := io.WriteString(s.w, b.String())
	return err
}

func (s *stageLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &stageLog{w: s.w, start: s.start, demo: s.demo, attrs: append(append([]slog.Attr(nil), s.attrs...), as...)}
}

func (s *stageLog) WithGroup(string) slog.Handler { return s }

// flagReason names the flag behind the option the library reports as the
// reason for a route: here an option can only have come from a flag, or,
// in the demo, from the demo itself.
func (s *stageLog) flagReason(why string) string {
	switch {
	case why == "WithProxy" && s.demo:
		return "the demo's own proxy"
	case why == "WithProxy":
		return "the -proxy flag"
	case why == "WithoutProxy":
		return "the -no-proxy flag"
	}
	return why
}
