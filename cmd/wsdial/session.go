package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wsdial/wsdial"
)

// ioMode says how a session sends its input and prints what arrives.
type ioMode struct {
	raw    bool // print binary raw rather than in hex, and text unescaped
	binary bool // send binary messages rather than text
	rawIn  bool // with binary: send input as it comes rather than by line
	escape bool // escape the control characters of text (stdout is a terminal)
}

// closeWait bounds how long the client waits, after its input ends, for
// the server's replies and close.
const closeWait = 5 * time.Second

// maxLine is the longest line of input that goes out as one message.
const maxLine = 16 << 20

// chunkSize is the most that one message carries with -raw-in.
const chunkSize = 32 << 10

// session dials url, then sends standard input out as messages and prints
// the incoming ones on standard output until either side closes, and
// returns the exit code.
func session(ctx context.Context, url string, opts []wsdial.Option, m ioMode, stdin io.Reader, stdout, stderr io.Writer) int {
	d, err := wsdial.New(opts...)
	if err != nil {
		// Each flag's option has been checked: what is left is the
		// environment's, such as a proxy variable that does not parse.
		fmt.Fprintf(stderr, "wsdial: usage: %s\n", escapeControl(strings.TrimPrefix(err.Error(), "wsdial: "), false))
		return exitUsage
	}
	c, err := d.DialWebSocket(ctx, url)
	if err != nil {
		if i, ok := interruption(ctx); ok {
			fmt.Fprintln(stderr, "wsdial: interrupted")
			return i.exitCode()
		}
		return dialFailed(stderr, err)
	}

	// An interrupt closes the connection even while a write is blocked on a
	// server that does not read: the close gives up on the writer after a
	// second and ends the stream, which ends the write.
	defer context.AfterFunc(ctx, func() { c.CloseWithStatus(wsdial.StatusGoingAway, "interrupted") })()

	// The reader owns stdout, and ends when the connection does.
	readDone := make(chan readEnd, 1)
	go func() { readDone <- printMessages(c, m, stdout) }()

	// A blocked read of stdin cannot be interrupted: when the session ends
	// first, this goroutine is left to the process's exit.
	inputs := make(chan []byte)
	inputDone := make(chan error, 1)
	stop := make(chan struct{})
	defer close(stop)
	go func() { inputDone <- readInput(stdin, m, inputs, stop) }()

	typ := wsdial.TextMessage
	if m.binary {
		typ = wsdial.BinaryMessage
	}
	for {
		select {
		case msg := <-inputs:
			if err := c.WriteMessage(typ, msg); err != nil {
				if ctx.Err() != nil {
					continue // the interrupt's close failed the write; its case follows
				}
				c.Close()
				end := <-readDone
				if end.msg == "" { // the reader may know better why, such as the server's close
					end.msg = named("write", err)
				}
				return finish(ctx, stderr, end, exitFailure)
			}
		case err := <-inputDone:
			code := exitOK
			if err != nil {
				fmt.Fprintf(stderr, "wsdial: standard input: %v\n", err)
				code = exitFailure
			}
			// Half-close, so that the replies to what was sent still arrive.
			c.CloseWrite()
			c.SetReadDeadline(time.Now().Add(closeWait))
			end := <-readDone
			c.Close()
			return finish(ctx, stderr, end, code)
		case end := <-readDone:
			c.Close()
			return finish(ctx, stderr, end, exitOK)
		case <-ctx.Done():
			return finish(ctx, stderr, <-readDone, exitOK) // the interrupt's close ends the reader
		}
	}
}

// named is err's text, which says what failed when it comes from the
// library ("wsdial: ..."), or else is given the name of what failed.
func named(what string, err error) string {
	if s := err.Error(); strings.HasPrefix(s, "wsdial: ") {
		return s
	}
	return "wsdial: " + what + ": " + err.Error()
}

// readEnd is how reading ended: the exit code it calls for, and what to say.
type readEnd struct {
	code int
	msg  string
}

// finish reports the end of a session and returns its exit code: an
// interrupt's, whatever else happened, or else the reader's if it failed,
// or else code.
func finish(ctx context.Context, stderr io.Writer, end readEnd, code int) int {
	if i, ok := interruption(ctx); ok {
		fmt.Fprintln(stderr, "wsdial: interrupted")
		return i.exitCode()
	}
	if end.msg != "" {
		fmt.Fprintln(stderr, escapeControl(end.msg, false))
	}
	if end.code != exitOK {
		return end.code
	}
	return code
}

// printMessages prints every message until the connection ends.
func printMessages(c *wsdial.Conn, m ioMode, stdout io.Writer) readEnd {
	for {
		typ, msg, err := c.ReadMessage()
		if err != nil {
			var ce *wsdial.CloseError
			if errors.As(err, &ce) {
				if ce.Code == wsdial.StatusNormalClosure {
					return readEnd{code: exitOK}
				}
				return readEnd{exitFailure, "wsdial: closed by the server: " + strings.TrimPrefix(err.Error(), "wsdial: ")}
			}
			return readEnd{exitFailure, named("read", err)}
		}
		switch {
		case typ == wsdial.TextMessage && m.escape:
			io.WriteString(stdout, escapeControl(string(msg), true)+"\n")
		case typ == wsdial.TextMessage:
			stdout.Write(append(msg, '\n'))
		case m.raw:
			stdout.Write(msg)
		default:
			io.WriteString(stdout, hex.EncodeToString(msg)+"\n")
		}
	}
}

// readInput hands each message's worth of input to out: each line, without
// its ending, or with rawIn whatever each read returns. It stops at the end
// of input, at stop, or at the first line it cannot send whole and intact:
// one longer than maxLine, or, for text, one that is not UTF-8.
func readInput(stdin io.Reader, m ioMode, out chan<- []byte, stop <-chan struct{}) error {
	send := func(b []byte) bool {
		select {
		case out <- b:
			return true
		case <-stop:
			return false
		}
	}
	if m.rawIn {
		buf := make([]byte, chunkSize)
		for {
			n, err := stdin.Read(buf)
			if n > 0 && !send(bytes.Clone(buf[:n])) {
				return nil
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	tooLong := func(line int) error {
		return fmt.Errorf("line %d is longer than %d MiB, the most one message takes, so it was not sent", line, maxLine>>20)
	}
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 64<<10), maxLine+len("\r\n"))
	line := 1
	for ; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(b) > maxLine { // the buffer leaves room for the line's ending
			return tooLong(line)
		}
		if !m.binary && !utf8.Valid(b) {
			return fmt.Errorf("line %d is not UTF-8, as a text message must be (RFC 6455 §8.1), so it was not sent; -binary sends lines as bytes", line)
		}
		if !send(bytes.Clone(b)) {
			return nil
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return tooLong(line)
	}
	return sc.Err()
}

// dialFailed reports a failed dial, and the first lines of the body when
// the server declined the upgrade, and returns the exit code of its stage.
func dialFailed(stderr io.Writer, err error) int {
	if errors.Is(err, wsdial.ErrInvalid) {
		fmt.Fprintf(stderr, "wsdial: usage: %s\n", escapeControl(strings.TrimPrefix(err.Error(), "wsdial: "), false))
		return exitUsage
	}
	fmt.Fprintln(stderr, escapeControl(err.Error(), false))
	var he *wsdial.HandshakeError
	if errors.As(err, &he) && he.Response != nil && he.Response.Body != nil {
		printBody(stderr, he.Response.Body)
	}
	switch {
	case errors.Is(err, wsdial.ErrProxy):
		return exitProxy
	case errors.Is(err, wsdial.ErrTLS):
		return exitTLS
	case errors.Is(err, wsdial.ErrHandshake):
		return exitHandshake
	}
	return exitFailure
}

// bodyLines is how many lines of a refusing server's body are shown.
const bodyLines = 5

// printBody prints the first lines of body, which the library holds to its
// first KiB, escaped.
func printBody(w io.Writer, body io.Reader) {
	b, _ := io.ReadAll(io.LimitReader(body, 1<<10))
	text := strings.TrimSpace(string(b))
	if text == "" {
		return
	}
	fmt.Fprintln(w, "wsdial: the server's response body began:")
	for i, l := range strings.Split(text, "\n") {
		if i == bodyLines {
			fmt.Fprintln(w, "  ...")
			break
		}
		fmt.Fprintln(w, "  "+escapeControl(strings.TrimRight(l, "\r"), false))
	}
}
