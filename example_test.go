package wsdial_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/wsdialtest"
)

// The zero Dialer needs no setup: it dials as New() does, with the proxy
// from the environment, the system roots and a 30-second bound.
func ExampleDialer() {
	srv := wsdialtest.NewEchoServer() // stands for your server
	defer srv.Close()

	var d wsdial.Dialer
	c, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.Response().Status)
	// Output: 101 Switching Protocols
}

// A client that reads in one goroutine and writes from others. Writes need
// no lock of the application's: the Conn serialises them.
func ExampleConn() {
	srv := wsdialtest.NewEchoServer() // stands for your server
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := new(wsdial.Dialer).DialWebSocket(ctx, srv.URL+"chat")
	if err != nil {
		log.Fatal(err)
	}

	// Keep reading: reads answer the server's pings and take its close.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, msg, err := conn.ReadMessage()
			var ce *wsdial.CloseError
			if errors.As(err, &ce) {
				fmt.Println("closed:", ce.Code)
				return
			}
			if err != nil {
				fmt.Println("read:", err)
				return
			}
			fmt.Printf("got %s\n", msg)
		}
	}()

	if err := conn.WriteMessage(wsdial.TextMessage, []byte("hello")); err != nil {
		log.Print(err)
	}
	// CloseWrite sends the close (1000) and lets the reader above take the
	// echo still in flight, then the server's answering close.
	conn.CloseWrite()
	<-done
	conn.Close()
	// Output:
	// got hello
	// closed: 1000 (normal closure)
}

// Streaming a message out in fragments, without holding it in memory whole,
// and reading one in as it arrives.
func ExampleConn_NextWriter() {
	srv := wsdialtest.NewEchoServer() // stands for your server
	defer srv.Close()
	conn, err := new(wsdial.Dialer).DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	w, err := conn.NextWriter(wsdial.BinaryMessage)
	if err != nil {
		log.Fatal(err)
	}
	for range 10 {
		w.Write(make([]byte, 64<<10))
	}
	// Close sends the last frame and lets other writers go.
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	typ, r, err := conn.NextReader()
	if err != nil {
		log.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(typ, n, "bytes")
	// Output: binary 655360 bytes
}

// A pong handler sees the answers to pings, for a liveness check of your own.
func ExampleConn_SetPongHandler() {
	srv := wsdialtest.NewEchoServer() // stands for your server
	defer srv.Close()
	conn, err := new(wsdial.Dialer).DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	pongs := make(chan string, 1)
	conn.SetPongHandler(func(p []byte) { pongs <- string(p) })
	conn.Ping([]byte("are you there?"))
	// Pongs arrive during reads: this one reads the echo that follows.
	conn.WriteMessage(wsdial.TextMessage, []byte("after the ping"))
	if _, _, err := conn.ReadMessage(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("pong:", <-pongs)
	// Output: pong: are you there?
}

// The handshake's results: the subprotocol the server chose and the 101
// response, headers intact.
func ExampleConn_Subprotocol() {
	srv := wsdialtest.NewEchoServer() // it takes the first subprotocol offered
	defer srv.Close()
	d, err := wsdial.New(wsdial.WithSubprotocols("chat.v2", "chat.v1"))
	if err != nil {
		log.Fatal(err)
	}
	conn, err := d.DialWebSocket(context.Background(), srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	fmt.Println(conn.Subprotocol(), strings.ToLower(conn.Response().Header.Get("Upgrade")))
	// Output: chat.v2 websocket
}
