package pac

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// Script is a compiled PAC script. It is safe for concurrent use: each call
// runs in a JavaScript runtime of its own, made for that call and dropped
// after it, so calls run in parallel and nothing one call leaves in the
// script's globals (or in Object.prototype) is seen by the next.
type Script struct {
	prog *goja.Program
	cfg  config

	// stuck counts runtimes that went on running, a grace period after
	// their call returned at its deadline: stuck inside one long built-in
	// function (a huge Array.join, say), which goja cannot interrupt. Each
	// ends when its built-in returns; until then it holds memory and a CPU,
	// so past maxStuck a new call fails at once rather than add another.
	stuck atomic.Int32
	// running tracks every call's runtime goroutine, so that tests can
	// wait for the stuck ones to end.
	running sync.WaitGroup
	// globs are the regular expressions of shExpMatch's patterns.
	globs globRegexps
}

// maxStuck bounds the runtimes left running past their deadline.
const maxStuck = 4

// stuckGrace is how long an interrupted runtime may take to stop before it
// counts as stuck: one in JavaScript stops within microseconds, one in a
// built-in when the built-in returns. At least a second, so that a loaded
// machine's slow scheduling of an interrupted runtime is not mistaken for it.
func stuckGrace(timeout time.Duration) time.Duration {
	return max(timeout, time.Second)
}

// maxSkipLogs bounds the log lines of one answer's skipped entries, so that
// an answer of thousands of bad entries cannot flood the log.
const maxSkipLogs = 8

// maxDepth bounds the script's call depth. Browsers allow some ten thousand
// frames; no PAC script needs a hundredth of that, and each frame costs
// memory that a runaway recursion would otherwise take until its timeout.
const maxDepth = 2000

// The names of the entry points. FindProxyForURLEx, Microsoft's IPv6-aware
// one, is called when the script defines it.
const (
	entryName   = "FindProxyForURL"
	entryNameEx = "FindProxyForURLEx"
)

// ErrNoFindProxyForURL means a script defines neither FindProxyForURL nor
// FindProxyForURLEx as a function.
var ErrNoFindProxyForURL = errors.New("pac: the script defines no FindProxyForURL function")

var utf8BOM = []byte("\xEF\xBB\xBF")

// Parse compiles a PAC script and runs its top level once, under the
// timeout, to check that it defines FindProxyForURL (or FindProxyForURLEx).
// A script that does not compile, throws at its top level, or defines
// neither function is refused with an error that says which.
//
// The source is read as UTF-8 (a leading byte-order mark is dropped); a
// script that is not valid UTF-8 is read as ISO-8859-1, the encoding of
// older PAC files, whose non-ASCII bytes sit in comments.
func Parse(src []byte, opts ...Option) (*Script, error) {
	return parse(context.Background(), src, newConfig(opts))
}

func parse(ctx context.Context, src []byte, cfg config) (*Script, error) {
	prog, err := goja.Compile("pac", decodeSource(src), false)
	if err != nil {
		return nil, fmt.Errorf("pac: the script does not compile: %w", err)
	}
	s := &Script{prog: prog, cfg: cfg}
	if _, err := s.run(ctx, "", ""); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeSource turns the bytes of a script into the string goja compiles.
func decodeSource(src []byte) string {
	src = bytes.TrimPrefix(src, utf8BOM)
	if utf8.Valid(src) {
		return string(src)
	}
	var b strings.Builder
	b.Grow(len(src) + len(src)/8)
	for _, c := range src {
		b.WriteRune(rune(c)) // ISO-8859-1 is the first 256 code points
	}
	return b.String()
}

// FindProxyForURL returns the script's answer for rawURL as the script
// gave it, such as "PROXY a.corp:8080; DIRECT". The script sees rawURL as
// Chromium would show it (see Proxies). An answer of null or undefined is
// returned as "", which Proxies reads as DIRECT; any other answer that is not
// a string, or one longer than 64 KiB, is an error, as is a script that throws
// or runs past its timeout.
func (s *Script) FindProxyForURL(ctx context.Context, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("pac: %w", err)
	}
	urlArg, host, err := scriptArgs(u)
	if err != nil {
		return "", err
	}
	return s.run(ctx, urlArg, host)
}

// Proxies returns the proxies the script names for target, in order, with a
// nil entry for DIRECT: the shape of wsdial.WithProxyList's function, and of
// each step of a browser's failover.
//
// The script is called as FindProxyForURL(url, host) where url is target
// with ws:// seen as http:// and wss:// as https:// (the schemes wsdial
// resolves every proxy of a WebSocket by), stripped of credentials and
// fragment, and, for https, of path and query too, as Chromium strips them;
// host is target's host, in lower case, without brackets.
//
// The answer is read in every browser's grammar: entries separated by ';',
// each DIRECT or one of PROXY, HTTP, HTTPS, SOCKS, SOCKS4, SOCKS5 followed by
// host[:port], in any case and with any spacing. PROXY and HTTP become
// http://host:port (port 80 by default) and HTTPS https://host:port (443).
// SOCKS, SOCKS4 and SOCKS5 all become socks5h://host:port (1080): wsdial
// speaks SOCKS5 alone, and the SOCKS4 servers still in use speak SOCKS5 too,
// while the bare SOCKS means version 4 to Chromium and 5 to Firefox; the h
// has the proxy resolve the target's name, as Chromium has SOCKS5 proxies do.
//
// An IPv6 address is written in brackets, "[fd00::5]:3128", or bare with
// the default port, "fd00::5"; a bare one that may end in a port
// ("fd00::5:3128") is refused rather than guessed at. An entry that cannot
// be used (an unknown type, a malformed host or port) is skipped and logged
// with its reason (see WithLogger). An empty answer,
// or null, means DIRECT. An answer with entries of which none is usable is an
// error matching ErrNoUsableProxy rather than DIRECT, since going direct
// where a network named only proxies may be what it forbids.
func (s *Script) Proxies(ctx context.Context, target *url.URL) ([]*url.URL, error) {
	urlArg, host, err := scriptArgs(target)
	if err != nil {
		return nil, err
	}
	answer, err := s.run(ctx, urlArg, host)
	if err != nil {
		return nil, err
	}
	proxies, skipped, err := parseAnswer(answer)
	for i, sk := range skipped {
		// The host alone: an http URL's path and query may hold a token.
		if i == maxSkipLogs {
			s.cfg.logger.WarnContext(ctx, "pac: skipped more entries of the answer", "host", host, "count", len(skipped)-i)
			break
		}
		s.cfg.logger.WarnContext(ctx, "pac: skipped an entry of the answer",
			"host", host, "entry", clip(sk.entry, 200), "reason", sk.reason)
	}
	return proxies, err
}

// run evaluates the script for one call in a fresh runtime: its top level,
// then the entry point with urlArg and host. With urlArg empty it stops after
// checking that an entry point exists, which is how Parse checks a script.
//
// The runtime runs on a goroutine of its own so that the call returns at its
// deadline even when the runtime cannot be stopped then: goja interrupts
// JavaScript between instructions, never inside a built-in function.
func (s *Script) run(ctx context.Context, urlArg, host string) (string, error) {
	if n := s.stuck.Load(); n >= maxStuck {
		return "", fmt.Errorf("pac: %d earlier calls are still inside a built-in function past their timeout", n)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, s.cfg.timeout,
		fmt.Errorf("pac: the script ran past its %v timeout: %w", s.cfg.timeout, context.DeadlineExceeded))
	defer cancel()

	e := newEnv(ctx, s)
	c := &call{s: s}
	done := make(chan evalResult, 1)
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		r := e.eval(urlArg, host)
		c.finish()
		done <- r
	}()

	select {
	case r := <-done:
		return r.answer, r.err
	case <-ctx.Done():
	}
	e.vm.Interrupt(context.Cause(ctx))
	if c.state.CompareAndSwap(callRunning, callAbandoned) {
		s.cfg.afterFunc(stuckGrace(s.cfg.timeout), c.markStuck)
		return "", context.Cause(ctx)
	}
	// The runtime finished as the deadline came; its result stands.
	r := <-done
	return r.answer, r.err
}

// call is the state of one call's runtime, shared by the caller, the
// runtime's goroutine and the grace timer: running, then done, or abandoned
// by a caller that returned at its deadline, then stuck if it is still
// running after the grace period, then done.
type call struct {
	s     *Script
	state atomic.Int32
}

const (
	callRunning int32 = iota
	callDone
	callAbandoned
	callStuck
)

// markStuck runs when the grace period of an abandoned runtime ends.
func (c *call) markStuck() {
	if c.state.CompareAndSwap(callAbandoned, callStuck) {
		c.s.stuck.Add(1)
	}
}

// finish runs when the runtime's evaluation ends, whatever became of its
// caller.
func (c *call) finish() {
	for {
		switch st := c.state.Load(); st {
		case callStuck:
			// Only finish leaves callStuck, so this cannot race.
			c.state.Store(callDone)
			c.s.stuck.Add(-1)
			return
		case callDone:
			return
		default:
			if c.state.CompareAndSwap(st, callDone) {
				return
			}
		}
	}
}

type evalResult struct {
	answer string
	err    error
}

// eval runs the script in e's runtime. It never panics: a panic from goja or
// a helper becomes an error, so that a hostile script cannot take down the
// process that asked it for a proxy.
func (e *env) eval(urlArg, host string) (r evalResult) {
	defer func() {
		if p := recover(); p != nil {
			r = evalResult{err: e.panicError(p)}
		}
	}()
	if _, err := e.vm.RunProgram(e.s.prog); err != nil {
		return evalResult{err: e.scriptError("the script's top level", err)}
	}
	name := entryNameEx
	fn, ok := goja.AssertFunction(e.vm.Get(name))
	if !ok {
		name = entryName
		if fn, ok = goja.AssertFunction(e.vm.Get(name)); !ok {
			return evalResult{err: ErrNoFindProxyForURL}
		}
	}
	if urlArg == "" {
		return evalResult{}
	}
	v, err := fn(goja.Undefined(), e.vm.ToValue(urlArg), e.vm.ToValue(host))
	if err != nil {
		return evalResult{err: e.scriptError(name, err)}
	}
	if e.ctx.Err() != nil {
		// A helper saw the end of the call (a lookup cut short) and the
		// script returned before the interrupt could stop it.
		return evalResult{err: context.Cause(e.ctx)}
	}
	switch {
	case v == nil || goja.IsUndefined(v) || goja.IsNull(v):
		return evalResult{}
	case !goja.IsString(v):
		return evalResult{err: fmt.Errorf("pac: %s returned a %s, not a string", name, jsType(v))}
	case v.(goja.String).Length() > maxAnswer:
		return evalResult{err: fmt.Errorf("pac: %s returned %d characters; the limit is %d", name, v.(goja.String).Length(), maxAnswer)}
	}
	return evalResult{answer: v.String()}
}

// scriptError says what went wrong in part of a script: a throw, too deep a
// recursion, or the timeout (whose error, the context's cause, matches
// context.DeadlineExceeded or the caller's own context error).
func (e *env) scriptError(part string, err error) error {
	var interrupted *goja.InterruptedError
	var overflow *goja.StackOverflowError
	var thrown *goja.Exception
	switch {
	case errors.As(err, &interrupted):
		if cause := context.Cause(e.ctx); cause != nil {
			return cause
		}
		return fmt.Errorf("pac: %s was interrupted: %w", part, err)
	case errors.As(err, &overflow):
		return fmt.Errorf("pac: %s recursed deeper than %d calls", part, maxDepth)
	case errors.As(err, &thrown):
		// Not wrapped: the exception's Error method calls the thrown
		// value's toString, which a hostile script can make loop or throw.
		return fmt.Errorf("pac: %s threw %s", part, clip(thrownText(thrown), 300))
	}
	return fmt.Errorf("pac: %s failed: %w", part, err)
}

// panicError turns what eval recovered into an error without formatting
// it with fmt: a goja exception's Error method runs the thrown value's
// toString, which a hostile script makes loop, so that a throw would be
// reported as a timeout, and only after a runtime spun until its deadline.
// goja panics with an exception when the script throws from a place it does
// not catch itself (a getter read by Runtime.Get, say).
func (e *env) panicError(p any) error {
	switch p := p.(type) {
	case *goja.Exception:
		return e.scriptError("the script", p)
	case *goja.InterruptedError:
		return e.scriptError("the script", p)
	case *goja.StackOverflowError:
		return e.scriptError("the script", p)
	case runtime.Error:
		return fmt.Errorf("pac: the JavaScript engine failed: %s", p.Error())
	case string:
		return fmt.Errorf("pac: the JavaScript engine failed: %s", clip(p, 300))
	}
	return fmt.Errorf("pac: the JavaScript engine failed with a %T", p)
}

// thrownText is what a script threw, as text, without calling back into
// the script: toString on a hostile thrown object could throw or loop.
func thrownText(ex *goja.Exception) string {
	v := ex.Value()
	if o, ok := v.(*goja.Object); ok {
		if m, ok := o.Get("message").(goja.String); ok {
			name := "Error"
			if n, ok := o.Get("name").(goja.String); ok {
				name = n.String()
			}
			return name + ": " + m.String()
		}
		return "an object"
	}
	if v == nil || !goja.IsString(v) && v.ExportType() == nil {
		return "undefined"
	}
	return v.String()
}

// jsType names a value's JavaScript type for an error.
func jsType(v goja.Value) string {
	switch v := v.(type) {
	case *goja.Symbol:
		return "symbol"
	case *goja.Object:
		if _, ok := goja.AssertFunction(v); ok {
			return "function"
		}
		return "object"
	}
	if goja.IsBigInt(v) {
		return "bigint"
	}
	if t := v.ExportType(); t != nil {
		switch t.Kind().String() {
		case "bool":
			return "boolean"
		case "int64", "float64":
			return "number"
		}
	}
	return "value"
}
