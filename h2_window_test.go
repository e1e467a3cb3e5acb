package wsdial

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http2"
)

// TestH2WindowChangesApplied has the server shrink SETTINGS_INITIAL_WINDOW_SIZE
// while a stream's window is spent, then open it by WINDOW_UPDATE: RFC 9113
// §6.9.2 has the change apply to open streams, even below zero, so that the
// client may send exactly what the sum allows, from the 64 KiB that its Write
// has left waiting. Two PINGs mark when the client has sent all it could: the
// first's answer goes out with any DATA that the new window lets out, the
// second's after it. Every frame the client sends must also stay within the
// server's SETTINGS_MAX_FRAME_SIZE, the default here, the CONTINUATION frames
// of a header block of 40 KiB included (RFC 9113 §4.2).
func TestH2WindowChangesApplied(t *testing.T) {
	checkGoroutines(t)
	const initial, shrunk, opened = 1000, 500, 100
	result := make(chan error, 1)
	addr, pool := serveH2Script(t, func(s *h2Script) {
		result <- func() error {
			s.settings(xconnectOn, http2.Setting{ID: http2.SettingInitialWindowSize, Val: initial})
			s.fr.WriteWindowUpdate(0, 1<<24)
			// A frame beyond the default SETTINGS_MAX_FRAME_SIZE, CONTINUATION
			// included, fails the read.
			s.fr.SetMaxReadFrameSize(16 << 10)
			var id uint32
			sent := 0 // DATA bytes since the last mark
			pings := 0
			for {
				f, err := s.fr.ReadFrame()
				if err != nil {
					return err
				}
				switch f := f.(type) {
				case *http2.SettingsFrame:
					if !f.IsAck() {
						s.fr.WriteSettingsAck()
					}
				case *http2.MetaHeadersFrame:
					id = f.StreamID
					s.respond(id, "200", false)
				case *http2.DataFrame:
					if f.StreamID != id {
						return fmt.Errorf("DATA on stream %d", f.StreamID)
					}
					sent += len(f.Data())
					if pings == 0 && sent > initial {
						return fmt.Errorf("%d bytes sent in a window of %d", sent, initial)
					}
					if pings == 0 && sent == initial {
						// The window is spent: shrink the initial size, which
						// takes it below zero, then open it by opened bytes.
						sent = 0
						s.settings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: shrunk})
						s.fr.WriteWindowUpdate(id, initial-shrunk+opened)
						s.fr.WritePing(false, [8]byte{1})
						pings = 1
					}
				case *http2.PingFrame:
					switch {
					case !f.IsAck():
						s.fr.WritePing(true, f.Data)
					case pings == 1:
						s.fr.WritePing(false, [8]byte{2})
						pings = 2
					case pings == 2:
						if sent != opened {
							return fmt.Errorf("%d bytes sent once the window was %d", sent, opened)
						}
						return nil
					}
				}
			}
		}()
	})
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}),
		WithHeader(http.Header{"X-Big": {strings.Repeat("b", 40<<10)}}))
	defer d.CloseIdleConnections()
	c, err := d.DialWebSocket(testCtx(t), "wss://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() { wrote <- c.WriteMessage(BinaryMessage, make([]byte, 200<<10)) }()
	if err := <-result; err != nil {
		t.Error(err)
	}
	c.closeStream()
	<-wrote
}

// TestH2PaddingCredited has the server send a message one byte a DATA frame,
// each padded with 255 bytes, twice the stream's receive window in all: the
// padding counts against the window (RFC 9113 §6.1), and the client must give
// it back, or the server, which keeps to the window it is granted, stalls.
func TestH2PaddingCredited(t *testing.T) {
	checkGoroutines(t)
	msg := bytes.Repeat([]byte("p"), 2*h2StreamWindow/257)
	wire := frame(fin|opBin, msg)
	result := make(chan error, 1)
	addr, pool := serveH2Script(t, func(s *h2Script) {
		result <- func() error {
			s.settings(xconnectOn)
			h, err := s.request()
			if err != nil {
				return err
			}
			s.respond(h.StreamID, "200", false)
			// The reader below takes the client's frames, and with them the
			// window it grants, while this goroutine sends.
			var mu sync.Mutex
			more := sync.NewCond(&mu)
			window, readErr := int64(h2StreamWindow), error(nil)
			go func() {
				for {
					f, err := s.fr.ReadFrame()
					mu.Lock()
					if err != nil {
						readErr = err
						more.Broadcast()
						mu.Unlock()
						return
					}
					if wu, ok := f.(*http2.WindowUpdateFrame); ok && wu.StreamID == h.StreamID {
						window += int64(wu.Increment)
						more.Broadcast()
					}
					mu.Unlock()
				}
			}()
			pad := make([]byte, 255)
			for i := range wire {
				mu.Lock()
				for window < 257 && readErr == nil {
					more.Wait()
				}
				err := readErr
				window -= 257
				mu.Unlock()
				if err != nil {
					return fmt.Errorf("the window stayed shut after %d of %d bytes: %w", i, len(wire), err)
				}
				if err := s.fr.WriteDataPadded(h.StreamID, false, wire[i:i+1], pad); err != nil {
					return err
				}
			}
			// Closing now could reset what the client has yet to read.
			mu.Lock()
			for readErr == nil {
				more.Wait()
			}
			mu.Unlock()
			return nil
		}()
	})
	d := mustNew(t, WithoutProxy(), WithHTTP2(), WithTLSConfig(&tls.Config{RootCAs: pool}))
	defer d.CloseIdleConnections()
	c := dialOK(t, d, "wss://"+addr+"/")
	_, got, err := c.ReadMessage()
	if err != nil || !bytes.Equal(got, msg) {
		t.Errorf("read %d bytes, %v; want %d", len(got), err, len(msg))
	}
	c.closeStream()
	d.CloseIdleConnections()
	if err := <-result; err != nil {
		t.Error(err)
	}
}
