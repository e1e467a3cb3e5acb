package wsdial

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"
)

// keepAlive is a Conn's keepalive (WithKeepAlive): a timer that wakes at
// each of its turns, looks at the stream when no read is under way, pings
// when the peer has been silent for an interval, and fails the connection
// when nothing came within the timeout of a ping. It is a timer, not a
// goroutine: a turn runs on a goroutine of its own only while it works.
//
// Turns never overlap, since each re-arms the timer as its last act, so the
// fields at the end are theirs alone. Times are nanoseconds of monoNow's
// clock.
type keepAlive struct {
	c                 *Conn
	t                 *time.Timer
	interval, timeout int64
	lag               int64 // how long after interval its pings go out, drawn for it at random

	recv atomic.Int64 // when a read last took bytes from the stream
	sent atomic.Int64 // when a data frame last put bytes on the stream
	dead atomic.Bool  // the keepalive failed the connection

	// Guarded by Conn.deadlineMu: a look reads under a deadline of its own,
	// and puts the application's back when it is done.
	want         int32 // reads waiting for the read side, which a look gives way to
	readDeadline int64 // the application's, as it set it last, in Unix nanoseconds; 0 for none
	peeking      bool  // a look is reading under its own deadline
	kicked       bool  // a read that wants the side has cut the look short
	waiting      bool  // a turn's own: a ping waits for an answer

	// The turns' own.
	seen       int64 // when bytes that a look found came, at the earliest
	lastLook   int64 // when the last look began
	lastPing   int64 // when the last ping went out
	awaitSince int64 // when the first ping still unanswered was begun, if waiting
	verdict    int64 // when it is due: the timeout after that ping went out
}

// How long a look waits. An ordinary look only takes in what has arrived
// already: one that misses it costs an extra ping, nothing more. The look
// that decides whether the connection is dead starts up to judgeWindow
// before the verdict is due and waits until then, so that whatever arrives
// before the verdict is seen, and waits at least judgeMin, so that a turn
// that runs late still reads the stream before its deadline passes.
const (
	lookBrief   = 2 * time.Millisecond
	judgeWindow = 100 * time.Millisecond
	judgeMin    = 20 * time.Millisecond
	minTurn     = time.Millisecond // the shortest wait between turns
)

// monoBase is the start of monoNow's clock.
var monoBase = time.Now()

// monoNow reads the monotonic clock, in nanoseconds since monoBase: cheaper
// than a time.Time, and immune to changes of the wall clock.
func monoNow() int64 { return int64(time.Since(monoBase)) }

func monoTime(t int64) time.Time { return monoBase.Add(time.Duration(t)) }

// startKeepAlive starts c's keepalive, as cfg sets it, if it does, once its
// handshake has succeeded.
func (c *Conn) startKeepAlive(cfg *config) {
	interval, timeout := cfg.keepAliveInterval, cfg.keepAliveTimeout
	if interval <= 0 {
		return
	}
	// Connections dialled together would otherwise all ping together, and
	// go on doing so: a burst of turns at once costs every connection the
	// goroutines that ran them, which the runtime keeps for reuse.
	k := &keepAlive{c: c, interval: int64(interval), timeout: int64(timeout), lag: rand.Int64N(int64(interval)/8 + 1)}
	now := monoNow()
	k.recv.Store(now) // the 101 response has just come
	k.lastLook, k.lastPing = now, now
	c.ka = k
	// Armed only once k.t is set, which the turns read: a Reset happens
	// before the turn it arms, and an AfterFunc that fired at once would not.
	k.t = time.AfterFunc(time.Duration(math.MaxInt64), k.turn)
	k.t.Reset(time.Duration(k.interval + k.lag))
}

// stopKeepAlive stops the timer of a connection whose stream has closed. A
// turn under way sees the stream closed after it re-arms the timer, and
// stops it again.
func (c *Conn) stopKeepAlive() {
	if k := c.ka; k != nil {
		k.t.Stop()
	}
}

// noteSent records that a data frame put bytes on the stream.
func (c *Conn) noteSent() {
	if k := c.ka; k != nil {
		k.sent.Store(monoNow())
	}
}

// noteRecv records that a read took bytes from the stream.
func (c *Conn) noteRecv() {
	if k := c.ka; k != nil {
		k.recv.Store(monoNow())
	}
}

// What a turn learnt from its look at the stream.
type lookResult uint8

const (
	lookBusy    lookResult = iota // a read holds the read side: it sees what arrives, and recv says when
	lookNothing                   // the stream gave nothing before the look's deadline
	lookFound                     // bytes came, or wait unread in a full buffer
	lookYield                     // a read wants the side, or the look learnt nothing: no verdict now
	lookOver                      // reads have ended, for good
)

// turn is one turn of the keepalive: look, judge, ping, re-arm.
func (k *keepAlive) turn() {
	c := k.c
	if c.closed.Load() {
		return
	}
	start := monoNow()
	verdict := k.verdict
	res := lookBusy
	judging := false // the look waits until the verdict is due
	if c.tryLockRead() {
		until := start + int64(lookBrief)
		if k.waiting && verdict-start <= k.window() {
			until, judging = max(verdict, start+int64(judgeMin)), true
		}
		res = k.look(until)
		c.unlockRead()
	}
	if res == lookOver {
		return // nothing more to judge, and nobody to hear a pong
	}
	now := monoNow()
	last := max(k.recv.Load(), k.seen)
	if res == lookFound {
		// The bytes came after the look before, at the earliest.
		k.seen = max(last, k.lastLook)
		last, k.waiting = k.seen, false
	}
	if res == lookFound || res == lookNothing {
		k.lastLook = start
	}
	if k.waiting && last >= k.awaitSince {
		k.waiting = false // a read took bytes since the ping
	}
	if k.waiting && now >= verdict && (res == lookBusy || res == lookNothing && judging) {
		k.expire()
		return
	}

	if now-max(last, k.lastPing) >= k.interval {
		// Whatever a read takes once the ping is begun answers it, since
		// the answer may be read before the write returns; the timeout runs
		// from its end. The ping waits for the lock, and goes out, under
		// the timeout: a write that times out can end every later write
		// (over TLS, or when part of the frame went out), and a peer that
		// takes nothing of a ping within the timeout is one the verdict
		// would fail.
		begun := now
		tried, err := c.sendControl(opPing, nil, time.Now().Add(time.Duration(k.timeout)))
		switch {
		case !tried:
			return // writes have ended: the close frame went out, or the stream failed
		case errors.Is(err, errFramesBusy) && k.sent.Load() >= begun:
			// One long frame held the ping up, and no ping may go inside
			// it; but the peer took its bytes meanwhile, which is as good
			// an answer. The next ping waits an interval.
			now = monoNow()
			k.lastPing = now
		case errors.Is(err, errFramesBusy) || errors.Is(err, os.ErrDeadlineExceeded):
			k.expire()
			return
		default:
			now = monoNow()
			k.lastPing = now
			if !k.waiting {
				k.waiting, k.awaitSince, k.verdict = true, begun, now+k.timeout
			}
		}
	}

	next := max(last, k.lastPing) + k.interval + k.lag
	if k.waiting {
		v := k.verdict
		switch {
		case now < v-k.window():
			next = min(next, v-k.window())
		case now < v:
			next = min(next, v)
		default:
			next = min(next, now+int64(judgeMin)) // the verdict is due, but the look learnt nothing: again
		}
		if res == lookYield {
			// A read has taken the side: give it time to read what waits
			// before judging by what it saw.
			next = max(next, now+int64(judgeMin))
		}
	}
	k.t.Reset(time.Duration(max(next-now, int64(minTurn))))
	if c.closed.Load() {
		k.t.Stop()
	}
}

// window is how long before its verdict the deciding look starts.
func (k *keepAlive) window() int64 { return min(k.timeout/2, int64(judgeWindow)) }

// look takes in what the stream has for the connection, waiting no later
// than until, and acts on the control frames that came whole, as a read
// would; data frames wait in the buffer for the next read. It gives way to a
// read that wants the side. The caller holds the read side.
func (k *keepAlive) look(until int64) lookResult {
	c := k.c
	r := &c.rd
	switch {
	case c.readFailed():
		return lookOver
	case r.buf != nil && r.end-r.pos == readBufSize:
		return lookFound // full of what no read has taken: nothing behind it can be seen
	}
	c.deadlineMu.Lock()
	if k.want > 0 || c.closeReading {
		c.deadlineMu.Unlock()
		return lookYield
	}
	k.peeking, k.kicked = true, false
	c.s.SetReadDeadline(monoTime(until))
	c.deadlineMu.Unlock()

	n, err := c.readAhead()
	// Control frames that came together can be more than the buffer a
	// parked read waits in holds: the look reads on, under its deadline,
	// for the rest of the last, so that they are all taken now, not the
	// last an interval on, when the peer may have given up on its ping.
	for n > 0 && err == nil && c.controlCut() && r.end-r.pos < readBufSize {
		var m int
		if m, err = c.readAhead(); m == 0 {
			break
		}
	}

	c.deadlineMu.Lock()
	k.peeking = false
	kicked := k.kicked
	var d time.Time
	if k.readDeadline != 0 {
		d = time.Unix(0, k.readDeadline)
	}
	c.s.SetReadDeadline(d)
	c.deadlineMu.Unlock()
	switch {
	case n > 0:
		c.takeControl() // a failure it meets ends reads, as it would a read's
		return lookFound
	case err == nil:
		return lookYield
	case errors.Is(err, os.ErrDeadlineExceeded):
		if kicked {
			return lookYield
		}
		return lookNothing
	}
	c.ioFailed(err)
	return lookOver
}

// wantRead tells the keepalive that a read waits for the read side: a look
// that holds it stops reading at once, and one about to start does not.
func (k *keepAlive) wantRead() {
	c := k.c
	c.deadlineMu.Lock()
	k.want++
	if k.peeking && !k.kicked {
		k.kicked = true
		c.s.SetReadDeadline(aLongTimeAgo)
	}
	c.deadlineMu.Unlock()
}

// gotRead undoes wantRead once the read has the side, or stopped waiting.
func (k *keepAlive) gotRead() {
	k.c.deadlineMu.Lock()
	k.want--
	k.c.deadlineMu.Unlock()
}

// expire fails the connection, whose peer said nothing within the timeout of
// a ping: it closes the stream, which ends any read or write under way, and
// every later call returns k.failure(). The path is taken for dead, so the
// stream beneath any TLS is closed, not the TLS, whose close_notify would
// wait five seconds on a peer that does not read.
func (k *keepAlive) expire() {
	c := k.c
	if c.closed.Load() {
		return
	}
	k.dead.Store(true)
	c.endStream(ErrKeepAliveTimeout)
}

// closedErr is what calls return once the stream has closed: the
// keepalive's failure if it closed the stream, unless the application has
// closed the connection since, and otherwise errClosed.
func (c *Conn) closedErr() error {
	if k := c.ka; k != nil && k.dead.Load() && !c.appClosed.Load() {
		return k.failure()
	}
	return errClosed
}

// failure is the error of a connection that the keepalive failed.
func (k *keepAlive) failure() error {
	return fmt.Errorf("%w: nothing came from the peer within %v of a ping", ErrKeepAliveTimeout, time.Duration(k.timeout))
}
