package wsdial

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
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
