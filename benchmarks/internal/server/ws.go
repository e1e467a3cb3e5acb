package server

import (
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/gorilla/websocket"

	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

// WSHandler serves the WebSocket endpoints: echo, sink and source. Each
// upgraded connection is tracked by g, so g.Close ends it.
func WSHandler(g *Group) http.Handler {
	up := &websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		// Every client here is the benchmark's own; Origin is not checked.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	mux := http.NewServeMux()
	serve := func(f func(*websocket.Conn, *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				return // Upgrade has answered the client already
			}
			nc := c.NetConn()
			if !g.Enter(nc) {
				nc.Close()
				return
			}
			defer g.Leave(nc)
			defer nc.Close()
			f(c, r)
		}
	}
	mux.HandleFunc(wire.PathEcho, serve(echo))
	mux.HandleFunc(wire.PathSink, serve(sink))
	mux.HandleFunc(wire.PathSource, serve(source))
	return mux
}

// ServeWS serves WSHandler on ln until g closes.
func ServeWS(g *Group, ln net.Listener) {
	srv := &http.Server{Handler: WSHandler(g)}
	g.Run(func() { srv.Serve(ln) }, func() { srv.Close() })
}

func echo(c *websocket.Conn, _ *http.Request) {
	buf := make([]byte, 64<<10)
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return
		}
		w, err := c.NextWriter(mt)
		if err != nil {
			return
		}
		if _, err := io.CopyBuffer(w, onlyReader{r}, buf); err != nil {
			return
		}
		if err := w.Close(); err != nil {
			return
		}
	}
}

func sink(c *websocket.Conn, r *http.Request) {
	every := 1
	if s := r.URL.Query().Get("every"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			every = n
		}
	}
	buf := make([]byte, 64<<10)
	ack := []byte{'a'}
	for n := 1; ; n++ {
		_, r, err := c.NextReader()
		if err != nil {
			return
		}
		if err := discard(r, buf); err != nil {
			return
		}
		if n%every == 0 {
			if err := c.WriteMessage(websocket.TextMessage, ack); err != nil {
				return
			}
		}
	}
}

func source(c *websocket.Conn, _ *http.Request) {
	for {
		_, req, err := c.ReadMessage()
		if err != nil {
			return
		}
		count, size, err := wire.ParseSourceRequest(string(req))
		if err != nil {
			c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseUnsupportedData, err.Error()))
			return
		}
		payload := make([]byte, size)
		for range count {
			if err := c.WriteMessage(websocket.BinaryMessage, payload); err != nil {
				return
			}
		}
	}
}

// discard reads r to its end through buf. io.Discard's own ReadFrom would
// take a small pooled buffer instead, and so more reads per message.
func discard(r io.Reader, buf []byte) error {
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// onlyReader hides a reader's WriterTo, so io.CopyBuffer uses the buffer.
type onlyReader struct{ io.Reader }
