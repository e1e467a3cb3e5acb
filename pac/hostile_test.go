package pac

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dop251/goja"
)

// withHook runs f on every runtime a script makes, for tests that need a
// global of their own.
func withHook(f func(*goja.Runtime)) Option {
	return func(c *config) { c.testHook = f }
}

// TestLoopingScriptsTimeOut: whatever a script loops in, the call ends with
// an error that matches context.DeadlineExceeded, and a try, catch or
// finally in the script cannot stop that.
func TestLoopingScriptsTimeOut(t *testing.T) {
	for _, body := range []string{
		`while (true) {}`,
		`for (;;) { try { while (true) {} } catch (e) {} }`,
		`try { while (true) {} } finally { return "DIRECT"; }`,
		`try { while (true) {} } catch (e) { return "DIRECT"; }`,
		`return dnsDomainIs({toString: function() { for (;;) {} }}, "x") ? "A" : "B"`,
		`var a = []; while (true) a.push(a.length)`,
		`return "x".replace(/x/, function() { while (true) {} })`,
	} {
		s := mustParse(t, `function FindProxyForURL(u, h) { `+body+`; }`, WithTimeout(50*time.Millisecond))
		got, err := s.FindProxyForURL(context.Background(), "http://a/")
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ran past its 50ms timeout") {
			t.Errorf("%s: %q, %v; want the timeout", body, got, err)
		}
	}
}

func TestLoopingTopLevelTimesOut(t *testing.T) {
	_, err := Parse([]byte(`while (true) {} function FindProxyForURL() {}`), WithTimeout(50*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Parse = %v, want the timeout", err)
	}
	// A top level that loops only when called (with a URL) fails each call.
	s := mustParse(t, `if (typeof calledWith === "undefined") {} function FindProxyForURL(u, h) { for (;;) {} }`,
		WithTimeout(50*time.Millisecond))
	if _, err := s.FindProxyForURL(context.Background(), "http://a/"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call = %v, want the timeout", err)
	}
}

// TestCallerContextEndsCall: the caller's own cancellation or earlier
// deadline ends a looping script, with the caller's error.
func TestCallerContextEndsCall(t *testing.T) {
	s := mustParse(t, `function FindProxyForURL(u, h) { while (true) {} }`, WithTimeout(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel once the call is under way: the loop never ends by itself.
	timer := time.AfterFunc(10*time.Millisecond, cancel)
	defer timer.Stop()
	if _, err := s.FindProxyForURL(ctx, "http://a/"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call = %v", err)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	_, err := s.FindProxyForURL(ctx, "http://a/")
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "ran past") {
		t.Errorf("call under the caller's deadline = %v, want the caller's own deadline", err)
	}
}

// TestStuckBuiltinsAreBounded: a runtime stuck in a function that no
// interrupt reaches (here a Go global that waits; in the wild a huge
// Array.join) does not hold the call past its deadline, and past maxStuck
// such runtimes a new call fails at once instead of starting another.
func TestStuckBuiltinsAreBounded(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	var graceEnds []func() // the grace timers, fired by the test
	s := mustParse(t, `function FindProxyForURL(u, h) { if (h == "stuck") block(); return "DIRECT"; }`,
		WithTimeout(20*time.Millisecond),
		withHook(func(vm *goja.Runtime) {
			vm.Set("block", func(goja.FunctionCall) goja.Value { <-release; return goja.Undefined() })
		}),
		func(c *config) { c.afterFunc = func(_ time.Duration, f func()) { graceEnds = append(graceEnds, f) } })
	for i := range maxStuck {
		// Each call returns while its block() still waits: release is not
		// closed yet, so returning at all proves it returned at the deadline.
		if _, err := s.FindProxyForURL(context.Background(), "http://stuck/"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stuck call %d = %v", i, err)
		}
		// Until its grace period ends, a runtime is not counted stuck.
		if got := mustFind(t, s, "http://fine/"); got != "DIRECT" {
			t.Fatalf("call in the grace period: %q", got)
		}
	}
	for _, f := range graceEnds {
		f()
	}
	if _, err := s.FindProxyForURL(context.Background(), "http://fine/"); err == nil || !strings.Contains(err.Error(), "still inside a built-in") {
		t.Fatalf("call past %d stuck runtimes = %v, want a refusal", maxStuck, err)
	}
	unblock()
	s.running.Wait()
	if n := s.stuck.Load(); n != 0 {
		t.Fatalf("%d runtimes still counted stuck after all ended", n)
	}
	if got := mustFind(t, s, "http://fine/"); got != "DIRECT" {
		t.Fatalf("after the stuck runtimes ended: %q", got)
	}
}

// TestHostileGlobals: a script that hides its entry point behind a getter,
// or replaces it while running, is handled like any other script.
func TestHostileGlobals(t *testing.T) {
	s := mustParse(t, `
		Object.defineProperty(this, "FindProxyForURL", {get: function() {
			return function(u, h) { FindProxyForURL = null; return "PROXY got:1"; };
		}});`)
	for range 2 {
		if got := mustFind(t, s, "http://a/"); got != "PROXY got:1" {
			t.Fatalf("answer %q", got)
		}
	}
	s = mustParse(t, `
		var n = 0;
		Object.defineProperty(this, "FindProxyForURL", {get: function() { if (n++) { for (;;) {} } return function() {}; }});`,
		WithTimeout(50*time.Millisecond))
	// Parse read the getter once; the call reads it in a runtime of its
	// own, where the counter starts again at 0.
	if _, err := s.FindProxyForURL(context.Background(), "http://a/"); err != nil {
		t.Fatalf("a getter that loops on its second read in one runtime: %v", err)
	}
}

// TestQuadraticGlobStopsAtDeadline: shExpMatch, Go code that no interrupt
// reaches, gives up when the call's time is over, so that a pattern built
// to take hours neither holds the call nor leaves its runtime spinning.
func TestQuadraticGlobStopsAtDeadline(t *testing.T) {
	s := mustParse(t, `function FindProxyForURL(u, h) {
			// One star and a long literal: each of the ten million places the
			// star may end is tried against a hundred thousand bytes, which
			// would take a quarter of an hour.
			return shExpMatch("a".repeat(10000000), "*" + "a".repeat(100000) + "b") ? "A" : "B";
		}`, WithTimeout(50*time.Millisecond))
	if _, err := s.FindProxyForURL(context.Background(), "http://a/"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call = %v, want the timeout", err)
	}
	s.running.Wait() // would block for hours if the match ran on
	if n := s.stuck.Load(); n != 0 {
		t.Fatalf("%d runtimes counted stuck", n)
	}
}

// TestCatastrophicShExpMatchStopsAtDeadline: a pattern that shExpMatch
// builds into a regular expression runs in a backtracking engine, as in
// browsers, where one built to backtrack for ever would hold the call and
// its runtime; here it gives up when the call's time is over.
func TestCatastrophicShExpMatchStopsAtDeadline(t *testing.T) {
	s := mustParse(t, `function FindProxyForURL(u, h) {
			// (a+a+)+b against forty a's and no b tries some 2^40 ways.
			return shExpMatch("a".repeat(40) + "!", "(a+a+)+b") ? "A" : "B";
		}`, WithTimeout(50*time.Millisecond))
	if _, err := s.FindProxyForURL(context.Background(), "http://a/"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call = %v, want the timeout", err)
	}
	s.running.Wait() // would block for days if the match ran on
	if n := s.stuck.Load(); n != 0 {
		t.Fatalf("%d runtimes counted stuck", n)
	}
}

// TestHostileThrows: what a script throws, or a getter it hides behind,
// is reported without running the script's own toString, which may loop
// until the deadline and turn the throw into a timeout.
func TestHostileThrows(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`function FindProxyForURL() { throw {get message() { for (;;) {} }}; }`, "ran past"},
		{`Object.defineProperty(this, "FindProxyForURLEx", {get: function() {
			throw {toString: function() { for (;;) {} }}; }});
		  function FindProxyForURL() { return "DIRECT"; }`, "threw an object"},
		{`Object.defineProperty(this, "FindProxyForURLEx", {get: function() { for (;;) {} }});
		  function FindProxyForURL() { return "DIRECT"; }`, "ran past"},
		{`function FindProxyForURL() { throw new Proxy({}, {get: function() { throw "trap"; }}); }`, "threw trap"},
	} {
		_, err := Parse([]byte(tc.src), WithTimeout(50*time.Millisecond))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			// Parse runs only the top level; ask a call too.
			s, perr := Parse([]byte(tc.src), WithTimeout(50*time.Millisecond), WithMyIPAddress(fixedIP))
			if perr == nil {
				_, err = s.FindProxyForURL(context.Background(), "http://a/")
			}
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:\nerror %v, want one saying %q", tc.src, err, tc.want)
		}
	}
}

// TestSkippedEntriesLogBounded: an answer of many bad entries logs a few
// and a count, not one line each.
func TestSkippedEntriesLogBounded(t *testing.T) {
	var lines record
	s := mustParse(t, `function FindProxyForURL() { return "BOGUS a; ".repeat(1000) + "DIRECT"; }`,
		WithLogger(slog.New(slog.NewTextHandler(writerFunc(func(p []byte) { lines.add(string(p)) }), nil))))
	got, err := s.Proxies(context.Background(), mustURL(t, "ws://a/"))
	if err != nil || urls(got) != "DIRECT" {
		t.Fatalf("Proxies = %q, %v", urls(got), err)
	}
	if n := len(lines.items); n != maxSkipLogs+1 || !strings.Contains(lines.items[n-1], "count=992") {
		t.Fatalf("%d log lines, last %q", n, lines.items[n-1])
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// TestAlertsBounded: alert logs its message, at most maxAlerts times a
// call, then says once that it stopped.
func TestAlertsBounded(t *testing.T) {
	var lines record
	s := mustParse(t, `function FindProxyForURL() { for (var i = 0; i < 100; i++) alert("n" + i + " " + "x".repeat(2000)); return "DIRECT"; }`,
		WithLogger(slog.New(slog.NewTextHandler(writerFunc(func(p []byte) { lines.add(string(p)) }), nil))),
		WithTimeout(time.Minute))
	mustFind(t, s, "http://a/")
	n := len(lines.items)
	if n != maxAlerts+1 || !strings.Contains(lines.items[0], "message=\"n0 xxx") || !strings.Contains(lines.items[n-1], "further alerts") {
		t.Fatalf("%d log lines; first %.80q, last %q", n, lines.items[0], lines.items[n-1])
	}
	if len(lines.items[0]) > 1200 {
		t.Errorf("an alert line of %d bytes: the message is not clipped", len(lines.items[0]))
	}
}

// TestParallelCallsWithTimeouts mixes calls that loop until their deadline
// with calls that answer, in parallel (under -race in CI): each gets its
// own outcome, and every runtime ends.
func TestParallelCallsWithTimeouts(t *testing.T) {
	// The looping calls end by their caller's deadline; the others have a
	// minute, so that a loaded machine cannot make them time out too.
	s := mustParse(t, `function FindProxyForURL(u, h) { if (h == "loop") { for (;;) {} } return "PROXY " + h + ":1"; }`,
		WithTimeout(time.Minute))
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 8 {
		wg.Go(func() {
			for i := range 6 {
				host := "h" + string(rune('a'+g)) + string(rune('a'+i))
				if (g+i)%3 == 0 {
					host = "loop"
				}
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if host == "loop" {
					ctx, cancel = context.WithTimeout(ctx, 20*time.Millisecond)
				}
				got, err := s.FindProxyForURL(ctx, "http://"+host+"/")
				cancel()
				switch {
				case host == "loop" && !errors.Is(err, context.DeadlineExceeded):
					errs <- errors.New(host + ": " + got + ", " + errString(err))
				case host != "loop" && (err != nil || got != "PROXY "+host+":1"):
					errs <- errors.New(host + ": " + got + ", " + errString(err))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s.running.Wait()
	if n := s.stuck.Load(); n != 0 {
		t.Errorf("%d runtimes counted stuck after all ended", n)
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
