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
// derived from it. When it cannot (context.Background, the common case),
// nothing but the deadline can end the dial, and each stage applies that to
// its connection itself: net.Dialer to the connect, watchContext to every
// other exchange. Such a dialCtx has a deadline but no Done channel, so that
// no timer, watcher or goroutine is paid for; it never leaves the package,
// and dialTCP gives the resolver a real timer context before any name is
// looked up.
type dialCtx struct {
	context.Context
	parent   context.Context // the caller's: watched for cancellation, if it can be cancelled
	deadline time.Time
}

func (c *dialCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *dialCtx) Err() error {
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
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
		return &dialCtx{Context: ctx, parent: ctx, deadline: deadline}, func() {}
	}
	tctx, cancel := context.WithDeadline(ctx, deadline)
	return &dialCtx{Context: tctx, parent: ctx, deadline: deadline}, cancel
}

// dialTCP opens the TCP connection of a dial, to the proxy or the target,
// under ctx. A deadline-only dialCtx bounds the connect through its deadline;
// a name to resolve gets a timer context, since a resolver (cgo's) may watch
// only cancellation.
func (d *Dialer) dialTCP(ctx context.Context, tr dialTrace, network, address string) (net.Conn, error) {
	if dc, ok := ctx.(*dialCtx); ok && dc.Done() == nil {
		host, _, err := net.SplitHostPort(address)
		if _, perr := netip.ParseAddr(host); err != nil || perr != nil {
			tctx, cancel := context.WithDeadline(ctx, dc.deadline)
			defer cancel()
			ctx = tctx
		}
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
