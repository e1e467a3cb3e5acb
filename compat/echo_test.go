// Package compat checks wsdial against other WebSocket implementations. It
// is a module of its own, so that wsdial's users never download them.
package compat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
	"github.com/wsdial/wsdial"
)

// gorillaEcho echoes every message back, and reports the client's close code.
func gorillaEcho(closed chan<- int) http.HandlerFunc {
	up := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(64 << 20)
		for {
			t, msg, err := c.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					closed <- ce.Code
				} else {
					closed <- -1
				}
				return
			}
			if err := c.WriteMessage(t, msg); err != nil {
				closed <- -2
				return
			}
		}
	}
}

// coderEcho is the same echo on coder/websocket.
func coderEcho(closed chan<- int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: coder.CompressionDisabled})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(64 << 20)
		ctx := r.Context()
		for {
			t, msg, err := c.Read(ctx)
			if err != nil {
				closed <- int(coder.CloseStatus(err))
				return
			}
			if err := c.Write(ctx, t, msg); err != nil {
				closed <- -2
				return
			}
		}
	}
}

func TestEcho(t *testing.T) {
	servers := map[string]func(chan<- int) http.HandlerFunc{"gorilla": gorillaEcho, "coder": coderEcho}
	for name, handler := range servers {
		t.Run(name, func(t *testing.T) {
			closed := make(chan int, 1)
			srv := httptest.NewServer(handler(closed)) // listens on 127.0.0.1
			defer srv.Close()

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, err := new(wsdial.Dialer).DialWebSocket(ctx, "ws"+srv.URL[len("http"):]+"/echo")
			if err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))

			pongs := make(chan string, 1)
			conn.SetPongHandler(func(p []byte) { pongs <- string(p) })

			for _, n := range []int{0, 1, 125, 126, 65535, 65536, 3 << 20} {
				for _, mt := range []wsdial.MessageType{wsdial.TextMessage, wsdial.BinaryMessage} {
					want := bytes.Repeat([]byte("é"), n/2)
					if mt == wsdial.BinaryMessage {
						want = make([]byte, n)
						for i := range want {
							want[i] = byte(i * 31)
						}
					}
					if err := conn.WriteMessage(mt, want); err != nil {
						t.Fatal(err)
					}
					gt, got, err := conn.ReadMessage()
					if err != nil || gt != mt || !bytes.Equal(got, want) {
						t.Fatalf("%v of %d bytes: got %v of %d bytes, %v", mt, len(want), gt, len(got), err)
					}
				}
			}

			// A message streamed in fragments comes back whole.
			w, err := conn.NextWriter(wsdial.TextMessage)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			for i := range 5000 {
				fmt.Fprintf(w, "line %d κόσμε\n", i)
				fmt.Fprintf(&want, "line %d κόσμε\n", i)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if _, got, err := conn.ReadMessage(); err != nil || !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("streamed message: %d bytes back, want %d: %v", len(got), want.Len(), err)
			}

			// The server answers a ping while its read loop runs; the pong
			// reaches the handler during our next read.
			if err := conn.Ping([]byte("hello?")); err != nil {
				t.Fatal(err)
			}
			if err := conn.WriteMessage(wsdial.TextMessage, []byte("after ping")); err != nil {
				t.Fatal(err)
			}
			if _, got, err := conn.ReadMessage(); err != nil || string(got) != "after ping" {
				t.Fatalf("after ping: %q, %v", got, err)
			}
			if p := <-pongs; p != "hello?" {
				t.Fatalf("pong %q", p)
			}

			if err := conn.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if code := <-closed; code != 1000 {
				t.Fatalf("server saw close code %d, want 1000", code)
			}
		})
	}
}
