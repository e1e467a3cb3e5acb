package wsdial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// dialCtx is the context of one dial, bounded by WithHandshakeTimeout.
//
// When the caller's context can be cancelled, the stages get a timer context
// derived from it, and dialCtx only remembers the parent and the deadline for
// watchContext. When it cannot (context.Background, the common case), nothing
// but the deadline can end the dial, and the dial pays for no timer and no
// watcher: every stage puts the deadline on its connection itself. net.Dialer
// does so for the connect whenever the context has a Done channel, so such a
// dialCtx has one that never closes, and answers context.AfterFunc (which
// net.Dialer calls to watch for cancellation) without a watcher, since no
// cancellation can come. It never leaves the package: dialTCP gives a name
// lookup a timer context, startTLS and watchContext apply the deadline
// themselves, and the SOCKS exchange is given no context.
type dialCtx struct {
	context.Context
	parent    context.Context
	deadline  time.Time
	timerless bool // the parent cannot be cancelled, and no timer runs
}

// neverDone is the Done channel of every timerless dialCtx.
var neverDone = make(chan struct{})

func (c *dialCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *dialCtx) Done() <-chan struct{} {
	if c.timerless {
		return neverDone
	}
	return c.Context.Done()
}

func (c *dialCtx) Err() error {
	if !c.timerless {
		return c.Context.Err()
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// AfterFunc is what context.AfterFunc calls on a context that has it. A
// timerless dialCtx is never cancelled, so f never runs.
func (c *dialCtx) AfterFunc(f func()) (stop func() bool) {
	if c.timerless {
		return stopped
	}
	return context.AfterFunc(c.Context, f)
}

func stopped() bool { return true }

// outside returns the context to hand to code that may watch only its Done
// channel: ctx itself, or for a timerless dialCtx a timer context with its
// deadline.
func outside(ctx context.Context) (context.Context, context.CancelFunc) {
	if dc, ok := ctx.(*dialCtx); ok && dc.timerless {
		return context.WithDeadline(dc.parent, dc.deadline)
	}
	return ctx, func() {}
}

// timerlessDial reports whether ctx is a dial's context that nothing but its
// deadline can end, which the stage must then apply to its connection.
func timerlessDial(ctx context.Context) bool {
	dc, ok := ctx.(*dialCtx)
	return ok && dc.timerless
}

// bound gives ctx the deadline timeout from now, unless it already has an
// earlier one or timeout is not positive.
func bound(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if timeout <= 0 {
		return ctx, func() {}
	}
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && !dl.After(deadline) {
		return ctx, func() {}
	}
	if ctx.Done() == nil {
		return &dialCtx{Context: ctx, parent: ctx, deadline: deadline, timerless: true}, func() {}
	}
	tctx, cancel := context.WithDeadline(ctx, deadline)
	return &dialCtx{Context: tctx, parent: ctx, deadline: deadline}, cancel
}

// dialTCP opens the TCP connection of a dial, to the proxy or the target,
// under ctx. A name to resolve gets a timer context in place of a timerless
// one, since a resolver (cgo's) may watch only cancellation.
func (d *Dialer) dialTCP(ctx context.Context, tr dialTrace, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if _, perr := netip.ParseAddr(host); err != nil || perr != nil {
		var cancel context.CancelFunc
		ctx, cancel = outside(ctx)
		defer cancel()
	}
	tr.connectStart(network, address)
	c, err := d.netDialer.DialContext(ctx, network, address)
	tr.connectDone(address, err)
	return c, err
}

// aLongTimeAgo is a deadline in the past, which makes blocked I/O on a
// net.Conn return at once.
var aLongTimeAgo = time.Unix(1, 0)

// connWatch bounds I/O on a connection by a context until release.
type connWatch struct {
	c        net.Conn
	parent   context.Context // watched for cancellation, if it can be cancelled
	deadline time.Time
	stop     func() bool
	done     chan struct{}
}

// watchContext makes ctx bound I/O on c until release is called: c takes
// ctx's deadline, and cancelling ctx interrupts any blocked read or write at
// once.
func watchContext(ctx context.Context, c net.Conn) connWatch {
	w := connWatch{c: c, parent: ctx}
	if dc, ok := ctx.(*dialCtx); ok {
		w.parent, w.deadline = dc.parent, dc.deadline
	} else {
		w.deadline, _ = ctx.Deadline()
	}
	if !w.deadline.IsZero() {
		c.SetDeadline(w.deadline)
	}
	if w.parent.Done() != nil {
		done := make(chan struct{})
		w.done = done
		w.stop = context.AfterFunc(w.parent, func() {
			c.SetDeadline(aLongTimeAgo)
			close(done)
		})
	}
	return w
}

// release ends the watch and clears c's deadline. It returns the context's
// error if the context ended first, by cancellation or by its deadline, so
// that the caller reports context.DeadlineExceeded rather than the bare i/o
// timeout that the deadline left behind. It waits for any interruption
// under way, so that nothing touches c afterwards.
func (w *connWatch) release() error {
	var err error
	if w.stop != nil && !w.stop() {
		<-w.done
		err = w.parent.Err()
	}
	if !w.deadline.IsZero() || err != nil {
		w.c.SetDeadline(time.Time{})
	}
	if err == nil && !w.deadline.IsZero() && !time.Now().Before(w.deadline) {
		err = context.DeadlineExceeded
	}
	return err
}

// withCause joins cerr, the error of a context that ended, and err, the
// failure its ending caused, so that errors.Is finds both; either may be nil.
func withCause(cerr, err error) error {
	switch {
	case cerr == nil:
		return err
	case err == nil || errors.Is(err, cerr):
		return cerr
	}
	return fmt.Errorf("%w: %w", cerr, err)
}
