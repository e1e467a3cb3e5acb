package wsdial

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// expectFrame reads the client's next frame and wants it to be op with
// payload.
func expectFrame(t *testing.T, p *peer, op byte, payload string) {
	t.Helper()
	// A guard against hanging, not a bound the test measures.
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := p.readFrame()
	if err != nil {
		t.Fatalf("server, waiting for opcode %#x %q: %v", op, payload, err)
	}
	if f.op != op || string(f.payload) != payload {
		t.Fatalf("server read opcode %#x %q, want %#x %q", f.op, f.payload, op, payload)
	}
}

// TestGorillaDeadlinePattern follows gorilla/websocket's examples: a write
// deadline set before each write, which then passes while the connection
// idles and the server pings. The pong that a read sends goes out under a
// deadline of its own, and the next write, under a fresh deadline, works.
func TestGorillaDeadlinePattern(t *testing.T) {
	conn, p := newPair(t)
	for round := range 3 {
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := conn.WriteMessage(TextMessage, []byte("tick")); err != nil {
			t.Fatalf("round %d: write under a fresh deadline: %v", round, err)
		}
		expectFrame(t, p, opText, "tick")

		// The deadline has passed by the time the server pings: a deadline
		// already in the past stands for that, without waiting for one.
		conn.SetWriteDeadline(time.Now().Add(-time.Second))
		go p.c.Write(join(frame(fin|opPng, []byte("are you there")), frame(fin|opTxt, []byte("m"))))
		if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "m" {
			t.Fatalf("round %d: ReadMessage = %q, %v", round, msg, err)
		}
		expectFrame(t, p, opPong, "are you there")
	}
}

// TestPingUnderApplicationDeadline: Ping is the application's own write, so
// an expired write deadline stops it; since nothing of it went out, the
// connection's next write, under a fresh deadline, still works.
func TestPingUnderApplicationDeadline(t *testing.T) {
	conn, p := newPair(t)
	conn.SetWriteDeadline(time.Now().Add(-time.Second))
	if err := conn.Ping([]byte("late")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Ping past the write deadline: %v, want a timeout", err)
	}
	conn.SetWriteDeadline(time.Time{})
	if err := conn.WriteMessage(BinaryMessage, []byte("after")); err != nil {
		t.Fatalf("write after the failed ping: %v", err)
	}
	expectFrame(t, p, opBinary, "after")
}

// TestWriteDeadlineRestoredUnderRace has the application change its write
// deadline over and over while pongs go out under deadlines of their own:
// whatever the interleaving, the deadline the application set last is the
// one in force once they are done. Run with -race.
func TestWriteDeadlineRestoredUnderRace(t *testing.T) {
	const pings = 300
	conn, p := newPair(t)
	readDone := readUntilError(conn)
	pongs := make(chan error, 1)
	go func() {
		p.c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a guard against hanging
		for range pings {
			f, err := p.readFrame()
			if err == nil && f.op != opPong {
				err = errors.New("server read something other than a pong")
			}
			if err != nil {
				pongs <- err
				return
			}
		}
		pongs <- nil
	}()
	stop := make(chan struct{})
	setting := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			if i%2 == 0 {
				conn.SetWriteDeadline(time.Now().Add(-time.Second))
			} else {
				conn.SetWriteDeadline(time.Now().Add(time.Hour))
			}
			if i == 0 {
				close(setting)
			}
			select {
			case <-stop:
				return
			default:
			}
		}
	})
	<-setting
	for range pings {
		// Each ping finds a deadline of the past set, unless the
		// goroutine above moved it on meanwhile.
		conn.SetWriteDeadline(time.Now().Add(-time.Second))
		p.c.Write(frame(fin|opPng, []byte("p")))
	}
	err := <-pongs
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("pongs: %v", err)
	}

	conn.SetWriteDeadline(time.Time{})
	if err := conn.WriteMessage(TextMessage, []byte("no deadline")); err != nil {
		t.Fatalf("write with the deadline cleared: %v", err)
	}
	expectFrame(t, p, opText, "no deadline")
	conn.SetWriteDeadline(time.Now().Add(-time.Second))
	if err := conn.WriteMessage(TextMessage, []byte("late")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past the deadline set last: %v, want a timeout", err)
	}
	p.c.Write(normalClose)
	if err := <-readDone; !errors.As(err, new(*CloseError)) {
		t.Fatalf("reader ended with %v", err)
	}
}

// TestReadLoopWithPongHandler is the keepalive loop of gorilla's examples:
// a goroutine reads, and a pong handler pushes the read deadline on, while
// the application pings under write deadlines that then pass and the
// server pings back.
func TestReadLoopWithPongHandler(t *testing.T) {
	conn, p := newPair(t)
	pongs := make(chan string, 1)
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	conn.SetPongHandler(func(b []byte) {
		conn.SetReadDeadline(time.Now().Add(time.Minute))
		pongs <- string(b)
	})
	readDone := readUntilError(conn)
	for i := range 3 {
		payload := string(rune('a' + i))
		conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := conn.Ping([]byte(payload)); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		expectFrame(t, p, opPing, payload)
		conn.SetWriteDeadline(time.Now().Add(-time.Second)) // and then it passed
		p.c.Write(join(frame(fin|opPog, []byte(payload)), frame(fin|opPng, []byte("s"+payload))))
		if got := <-pongs; got != payload {
			t.Fatalf("pong handler got %q, want %q", got, payload)
		}
		expectFrame(t, p, opPong, "s"+payload)
	}
	p.c.Write(normalClose)
	if err := <-readDone; !errors.As(err, new(*CloseError)) {
		t.Fatalf("read loop ended with %v", err)
	}
	if end := p.readUntilClose(); end.closeCode != StatusNormalClosure {
		t.Errorf("client answered the close with %d", end.closeCode)
	}
}

// TestPongBetweenFrames: a pong does not wait for a message that NextWriter
// is streaming, which may never end while the same goroutine reads. It goes
// out whole between the message's frames, as RFC 6455 §5.4 allows, and the
// message arrives intact.
func TestPongBetweenFrames(t *testing.T) {
	for _, compressed := range []bool{false, true} {
		name := "plain"
		if compressed {
			name = "compressed"
		}
		t.Run(name, func(t *testing.T) {
			// Enough that frames go out before the writer closes, even compressed:
			// compress/flate holds up to 64 KiB before it writes a block.
			data := noise(200<<10, 1)
			first := 150 << 10
			conn, p := newPairCompressedIf(t, compressed, "", Compression{})
			w, err := conn.NextWriter(BinaryMessage)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(data[:first]); err != nil {
				t.Fatal(err)
			}
			// The ping comes before the message, so once the reader has the
			// message it has handled the ping, with the writer still open.
			go p.c.Write(join(frame(fin|opPng, []byte("p")), frame(fin|opTxt, []byte("m"))))
			if _, msg, err := conn.ReadMessage(); err != nil || string(msg) != "m" {
				t.Fatalf("ReadMessage with a writer open: %q, %v", msg, err)
			}
			p.c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a guard against hanging
			var frames []clientFrame
			for {
				f, err := p.readFrame()
				if err != nil {
					t.Fatalf("server, waiting for the pong: %v", err)
				}
				if f.op == opPong {
					if string(f.payload) != "p" || !f.fin {
						t.Fatalf("pong %q fin=%v", f.payload, f.fin)
					}
					break
				}
				if f.fin {
					t.Fatal("the message ended before the writer was closed")
				}
				frames = append(frames, f)
			}
			if len(frames) == 0 {
				t.Fatal("no frame of the message went out before the pong")
			}
			if _, err := w.Write(data[first:]); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			for !frames[len(frames)-1].fin {
				f, err := p.readFrame()
				if err != nil {
					t.Fatal(err)
				}
				frames = append(frames, f)
			}
			var payload []byte
			for i, f := range frames {
				if want := byte(opCont); i == 0 && f.op != opBin || i > 0 && f.op != want {
					t.Fatalf("frame %d has opcode %#x", i, f.op)
				}
				payload = append(payload, f.payload...)
			}
			checkSent(t, payload, frames[0].rsv, compressed, data)
		})
	}
}

// TestPongWaitsForAPeerThatStopsReading: a peer that pings, then reads
// nothing for longer than the bound the connection puts on its close frames,
// gets its pong once it reads again, and the application's next write, under
// a fresh deadline, goes out after it. Over TLS a write that times out fails
// every later one, so the pong must not go out under a deadline that can
// pass; over a plain stream a pong that timed out would be lost.
func TestPongWaitsForAPeerThatStopsReading(t *testing.T) {
	for _, overTLS := range []bool{false, true} {
		name := "plain"
		if overTLS {
			name = "TLS"
		}
		t.Run(name, func(t *testing.T) {
			var conn *Conn
			var p *peer
			if overTLS {
				conn, p = tlsPipePair(t)
			} else {
				c, server := pipePair(t)
				conn, p = c, &peer{c: server, br: bufio.NewReader(server)}
			}
			readDone := readUntilError(conn)
			conn.SetWriteDeadline(time.Now().Add(10 * time.Second)) // gorilla's pattern, before each write
			if _, err := p.c.Write(frame(fin|opPng, []byte("still there?"))); err != nil {
				t.Fatal(err)
			}
			// The silence of the peer is the case under test, not a wait for
			// something to happen: the pong is stuck in the pipe meanwhile.
			time.Sleep(controlTimeout + controlTimeout/2)
			expectFrame(t, p, opPong, "still there?")

			writeAfterPong(t, conn, p, readDone)
		})
	}
}

// writeAfterPong has conn write a message under a fresh deadline once its
// pong is out, and wants it to reach p; then p closes, and the read that
// readDone waits for must end with p's close.
func writeAfterPong(t *testing.T, conn *Conn, p *peer, readDone <-chan error) {
	t.Helper()
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	written := make(chan error, 1)
	go func() { written <- conn.WriteMessage(TextMessage, []byte("after")) }()
	expectFrame(t, p, opText, "after")
	if err := <-written; err != nil {
		t.Fatalf("the write after the pong: %v", err)
	}
	p.c.Write(normalClose)
	if err := <-readDone; !errors.As(err, new(*CloseError)) {
		t.Fatalf("reader ended with %v", err)
	}
}

// wantTimeout wants what, which done reports the end of, to fail on its
// write deadline, behind what holds it up.
func wantTimeout(t *testing.T, what, behind string, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%s past its deadline, behind %s: %v, want a timeout", what, behind, err)
		}
	case <-time.After(10 * time.Second): // a guard against hanging, far above the deadline
		t.Fatalf("%s waited on past its deadline, behind %s", what, behind)
	}
}

// stuckPong is a connection over a pipe whose peer has pinged and reads
// nothing: its pong is under way, and holds the frame lock. A read runs on
// it until an error, which readDone delivers.
func stuckPong(t *testing.T) (conn *Conn, p *peer, readDone <-chan error) {
	t.Helper()
	w := &pongWatch{pong: make(chan struct{})}
	conn, server := pipePairOver(t, func(c net.Conn) net.Conn { w.Conn = c; return w })
	p = &peer{c: server, br: bufio.NewReader(server)}
	readDone = readUntilError(conn)
	go p.c.Write(frame(fin|opPng, []byte("p")))
	<-w.pong
	return conn, p, readDone
}

// TestPingFloodFromAPeerThatDoesNotRead: a peer that sends a thousand pings
// without reading holds the connection to a bounded number of pongs and
// goroutines: once a batch of pongs waits full, the read waits for it as a
// write would. When the peer reads again, every pong comes, in order.
func TestPingFloodFromAPeerThatDoesNotRead(t *testing.T) {
	const pings = 1000
	checkGoroutines(t)
	conn, server := pipePair(t)
	p := &peer{c: server, br: bufio.NewReader(server)}
	readDone := readUntilError(conn)
	var flood []byte
	for i := range pings {
		flood = append(flood, frame(fin|opPng, fmt.Appendf(nil, "%d", i))...)
	}
	sent := make(chan error, 1)
	go func() { _, err := p.c.Write(flood); sent <- err }()
	// The peer reads nothing for a while: that is the case under test.
	time.Sleep(300 * time.Millisecond)
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if n := strings.Count(stacks, "wsdial.(*Conn).sendPongs("); n > 3 {
		t.Errorf("%d goroutines send pongs to a peer that does not read", n)
	}
	for i := range pings {
		expectFrame(t, p, opPong, fmt.Sprint(i))
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	p.c.Write(normalClose)
	if err := <-readDone; !errors.As(err, new(*CloseError)) {
		t.Fatalf("reader ended with %v", err)
	}
	conn.Close()
}

// pongWatch is a stream that tells, on pong, when the connection begins to
// write a pong: from then on the pong holds the frame lock until the peer
// reads it.
type pongWatch struct {
	net.Conn
	once sync.Once
	pong chan struct{}
}

func (w *pongWatch) Write(b []byte) (int, error) {
	if len(b) > 0 && b[0] == fin|opPog {
		w.once.Do(func() { close(w.pong) })
	}
	return w.Conn.Write(b)
}

// TestWriteDeadlineWhilePongWaits: a pong waits without a deadline for a
// peer that stops reading, but the application's write, under a deadline
// of its own as gorilla's pattern sets before each write, still fails on
// that deadline rather than waiting for the pong without end; a dead peer
// is how such applications find out. Nothing of the message went out, so
// once the peer reads again it gets the pong, and the next write works.
func TestWriteDeadlineWhilePongWaits(t *testing.T) {
	conn, p, readDone := stuckPong(t)

	conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	written := make(chan error, 1)
	go func() { written <- conn.WriteMessage(TextMessage, []byte("late")) }()
	wantTimeout(t, "write", "a pong the peer does not read", written)

	expectFrame(t, p, opPong, "p")
	writeAfterPong(t, conn, p, readDone)
}

// TestWriteDeadlineWhilePongWaitsMidMessage is TestWriteDeadlineWhilePongWaits
// with a message under way from NextWriter: its next frame fails on the
// deadline, and since the peer has part of the message, no later data
// frame may go out, only the close frame.
func TestWriteDeadlineWhilePongWaitsMidMessage(t *testing.T) {
	w := &pongWatch{pong: make(chan struct{})}
	conn, server := pipePairOver(t, func(c net.Conn) net.Conn { w.Conn = c; return w })
	p := &peer{c: server, br: bufio.NewReader(server)}
	readDone := readUntilError(conn)
	data := noise(3*frameRoom, 1)
	mw, err := conn.NextWriter(BinaryMessage)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		// The message's first frame, then a ping, whose pong the peer leaves unread.
		p.c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a guard against hanging
		if f, err := p.readFrame(); err == nil && f.op == opBin && !f.fin {
			p.c.Write(frame(fin|opPng, []byte("p")))
		}
	}()
	if _, err := mw.Write(data[:frameRoom+1]); err != nil {
		t.Fatal(err)
	}
	<-w.pong

	conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	written := make(chan error, 1)
	go func() {
		_, err := mw.Write(data[frameRoom+1:])
		mw.Close()
		written <- err
	}()
	wantTimeout(t, "write", "a pong the peer does not read", written)

	expectFrame(t, p, opPong, "p")
	conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := conn.WriteMessage(TextMessage, []byte("after")); err == nil {
		t.Fatal("a message went out behind one cut short")
	}
	end := make(chan clientEnd, 1)
	go func() {
		e := p.readUntilClose()
		p.c.Write(normalClose)
		end <- e
	}()
	conn.Close()
	if e := <-end; e.closeCode != StatusNormalClosure || e.err != nil {
		t.Fatalf("after the cut message the server read %+v, want a close alone", e)
	}
	<-readDone
}

// TestReadDeadlineDuringPingFlood: a peer that sends more pings than a
// batch of pongs holds, and reads none of their pongs, holds a read up for
// a bounded time, not past its read deadline without end, as a read that
// waited for a full batch to go out did.
func TestReadDeadlineDuringPingFlood(t *testing.T) {
	conn, server := pipePair(t)
	var flood []byte
	for range 3 * pongBatchLen {
		flood = append(flood, frame(fin|opPng, []byte("x"))...)
	}
	go server.Write(flood)
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	done := make(chan error, 1)
	go func() { _, _, err := conn.ReadMessage(); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("ReadMessage succeeded with nothing to read")
		}
	case <-time.After(10 * time.Second): // a guard against hanging
		t.Fatal("the read waited on past its deadline, for pongs the peer does not read")
	}
}

// TestNextWriterDeadlineWhilePongWaits is TestWriteDeadlineWhilePongWaits
// for NextWriter, which checks that writes have not ended before it hands
// out a writer.
func TestNextWriterDeadlineWhilePongWaits(t *testing.T) {
	conn, p, readDone := stuckPong(t)

	conn.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	begun := make(chan error, 1)
	go func() {
		_, err := conn.NextWriter(TextMessage)
		begun <- err
	}()
	wantTimeout(t, "NextWriter", "a pong the peer does not read", begun)
	expectFrame(t, p, opPong, "p")
	p.c.Write(normalClose)
	if err := <-readDone; !errors.As(err, new(*CloseError)) {
		t.Fatalf("reader ended with %v", err)
	}
}
