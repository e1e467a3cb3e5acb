package wsdial_test

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/wsdial/wsdial"
)

// A client that reads in one goroutine and writes from others. Writes need
// no lock of the application's: the Conn serialises them.
func ExampleConn() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := new(wsdial.Dialer).DialWebSocket(ctx, "wss://echo.example/chat")
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
				log.Printf("server closed: %d %s", ce.Code, ce.Text)
				return
			}
			if err != nil {
				log.Print(err)
				return
			}
			log.Printf("got %s", msg)
		}
	}()

	if err := conn.WriteMessage(wsdial.TextMessage, []byte("hello")); err != nil {
		log.Print(err)
	}
	// Close sends 1000, lets the reader above receive the server's answer,
	// and closes the stream.
	conn.Close()
	<-done
}

// Streaming a message out in fragments, without holding it in memory whole.
func ExampleConn_NextWriter() {
	var conn *wsdial.Conn // from DialWebSocket
	w, err := conn.NextWriter(wsdial.BinaryMessage)
	if err != nil {
		log.Fatal(err)
	}
	for range 10 {
		w.Write(make([]byte, 1<<20))
	}
	// Close sends the last frame and lets other writers go.
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
}
