// Command chat is a chat-style client: one goroutine reads and prints every
// message while the main goroutine sends each line typed. Writes need no
// lock of the program's own; a Conn's writes are safe from many goroutines.
//
//	go run ./examples/chat [ws://URL]
//
// With no URL it talks to an echo server it starts on loopback, and types
// three lines itself.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/wsdialtest"
)

func main() {
	target := ""
	var input io.Reader = os.Stdin
	if len(os.Args) > 1 {
		target = os.Args[1]
	} else {
		echo := wsdialtest.NewEchoServer()
		defer echo.Close()
		target = echo.URL + "room/1"
		input = strings.NewReader("hi all\nanyone here?\nbye\n")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	c, err := new(wsdial.Dialer).DialWebSocket(ctx, target)
	cancel()
	if err != nil {
		log.Fatal(err)
	}

	// The reader: prints until the connection ends.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, msg, err := c.ReadMessage()
			var ce *wsdial.CloseError
			switch {
			case errors.As(err, &ce):
				fmt.Printf("* closed: %d %s\n", ce.Code, ce.Text)
				return
			case err != nil:
				fmt.Println("* read:", err)
				return
			}
			fmt.Printf("< %s\n", msg)
		}
	}()

	// A heartbeat from a second goroutine, to show that concurrent writes
	// are safe.
	stop := make(chan struct{})
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		t := time.NewTicker(20 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				c.Ping([]byte("heartbeat"))
			case <-stop:
				return
			}
		}
	}()

	sc := bufio.NewScanner(input)
	for sc.Scan() {
		if err := c.WriteMessage(wsdial.TextMessage, sc.Bytes()); err != nil {
			log.Print(err)
			break
		}
	}
	close(stop)
	<-beat
	// Half-close: the replies still in flight reach the reader, then the
	// server's close ends it.
	c.CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	<-done
	c.Close()
}
