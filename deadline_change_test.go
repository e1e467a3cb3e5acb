package wsdial

import (
	"runtime"
	"testing"
	"time"
)

// waitQueued returns once a goroutine waits in the queue of s.
func waitQueued(s *sem) {
	q := s.queue()
	for {
		q.mu.Lock()
		w := q.find(s)
		q.mu.Unlock()
		if w != nil {
			return
		}
		runtime.Gosched()
	}
}

// TestWriteDeadlineSetWhileWaitingBehindPong: a write already waiting for
// the frame lock, behind a pong that a peer which stopped reading leaves
// unsent, keeps to a write deadline set while it waits, as a net.Conn's
// pending writes do: an application unblocks a stuck writer by setting a
// deadline in the past, from another goroutine. It waited for the deadline
// it saw when it began, or without end when there was none.
func TestWriteDeadlineSetWhileWaitingBehindPong(t *testing.T) {
	for _, c := range []struct {
		name  string
		first time.Duration // the deadline when the write begins; 0 for none
	}{
		{"none before", 0},
		{"a later one before", time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, p, readDone := stuckPong(t)
			if c.first != 0 {
				conn.SetWriteDeadline(time.Now().Add(c.first))
			}
			written := make(chan error, 1)
			go func() { written <- conn.WriteMessage(TextMessage, []byte("late")) }()
			waitQueued(&conn.frameSem)
			conn.SetWriteDeadline(time.Now())
			wantTimeout(t, "write", "a pong the peer does not read", written)

			expectFrame(t, p, opPong, "p")
			writeAfterPong(t, conn, p, readDone)
		})
	}
}

// TestWriteDeadlineSetWhileWaitingForWriter is
// TestWriteDeadlineSetWhileWaitingBehindPong for msgSem: a WriteMessage
// that waits for another goroutine's open writer keeps to a deadline set
// while it waits.
func TestWriteDeadlineSetWhileWaitingForWriter(t *testing.T) {
	conn, p := newPair(t)
	mw, err := conn.NextWriter(TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() { written <- conn.WriteMessage(TextMessage, []byte("late")) }()
	waitQueued(&conn.msgSem)
	conn.SetWriteDeadline(time.Now())
	wantTimeout(t, "write", "an open writer", written)

	conn.SetWriteDeadline(time.Time{})
	mw.Write([]byte("held"))
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	expectFrame(t, p, opText, "held")
}
