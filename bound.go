package wsdial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// dialCtx is the context of one dial, bounded by WithHandshakeTimeout: a
// timer context derived from the caller's, for the stages that take a
// context, which also remembers the caller's context and the deadline. With
// those, watchContext bounds I/O on a connection by the deadline directly and
// watches the caller's context only when it can be cancelled, instead of
// arming a watcher on the timer context for every exchange of the dial.
type dialCtx struct {
	context.Context
	parent   context.Context // the caller's
	deadline time.Time
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
	tctx, cancel := context.WithDeadline(ctx, deadline)
	return &dialCtx{Context: tctx, parent: ctx, deadline: deadline}, cancel
}

// dialTCP opens the TCP connection of a dial, to the proxy or the target.
func (d *Dialer) dialTCP(ctx context.Context, tr dialTrace, network, address string) (net.Conn, error) {
	tr.connectStart(network, address)
	c, err := d.netDialer.DialContext(ctx, network, address)
	tr.connectDone(address, err)
	if err != nil {
		return nil, err
	}
	return tr.attempt.opened(c), nil
}

// refusalBodyWait bounds the wait for the body of a refusal, once its head
// has come. A peer sends the two together, or nearly so.
const refusalBodyWait = time.Second

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

// hurry shortens the time left for reading c to at most refusalBodyWait,
// for the body of a refusal: what matters of a refusal is its head, which
// has come, and a peer that promises a body and then holds the connection
// without sending it must not keep the dial to its bound and turn the
// refusal into a timeout. The read that runs out of time ends the body
// short, so the connection is not kept. A cancellation of the watched
// context still ends the read at once. A dial with no deadline leaves c's
// as it is: Handshake's caller may have set one, which stays in force.
func (w *connWatch) hurry() {
	dl := time.Now().Add(refusalBodyWait)
	if w.deadline.IsZero() || w.deadline.Before(dl) {
		return
	}
	w.c.SetReadDeadline(dl)
	if w.parent.Err() != nil {
		// The cancellation's interruption may have come just before.
		w.c.SetDeadline(aLongTimeAgo)
	}
}

// release ends the watch and clears c's deadline, whether the watch set it
// or not. It returns the context's error if the context ended first, by
// cancellation or by its deadline, so that the caller reports
// context.DeadlineExceeded rather than the bare i/o timeout that the
// deadline left behind. It waits for any interruption under way, so that
// nothing touches c afterwards.
func (w *connWatch) release() error {
	var err error
	if w.stop != nil && !w.stop() {
		<-w.done
		err = w.parent.Err()
	}
	w.c.SetDeadline(time.Time{})
	if err == nil && !w.deadline.IsZero() && !time.Now().Before(w.deadline) {
		err = context.DeadlineExceeded
	}
	return err
}

// ctxErr is ctx's error, or context.DeadlineExceeded once ctx's deadline has
// passed: I/O that ctx's deadline ended may return before ctx's own timer has
// fired, and the caller looks for the context's error.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// withCause joins cerr, the error of a context that ended, and err, the
// failure its ending caused, so that errors.Is finds both; either may be nil.
func withCause(cerr, err error) error {
	switch {
	case cerr == nil || errors.Is(err, cerr):
		return err
	case err == nil:
		return cerr
	}
	return fmt.Errorf("%w: %w", cerr, err)
}
