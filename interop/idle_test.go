package interop

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsdial/wsdial"
)

// idleCutters are the proxies of peers/idle.sh, each cutting a tunnel that
// has carried nothing for 2 s, in front of an echo server that never pings.
var idleCutters = []struct{ name, peer string }{
	{"nginx proxy_read_timeout 2s", "IDLE_NGINX"},
	{"haproxy timeout tunnel 2s", "IDLE_HAPROXY"},
}

// idleCut is the proxies' idle timeout, as their configurations set it.
const idleCut = 2 * time.Second

// TestIdleProxyCuts shows the fault that keepalive exists for: through each
// idle-cutting proxy, a connection that echoes once and then waits for the
// server is cut after about 2 s, by a FIN with no close frame (1006).
func TestIdleProxyCuts(t *testing.T) {
	for _, tc := range idleCutters {
		t.Run(tc.name, func(t *testing.T) {
			record(t, "idle cut, no keepalive", tc.name)
			addr := extraPeer(t, tc.peer)
			ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
			defer cancel()
			c, err := newDialer(t, wsdial.WithoutProxy()).DialWebSocket(ctx, "ws://"+addr+"/")
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.NetConn().Close()
			if err := c.WriteMessage(wsdial.TextMessage, []byte("before the pause")); err != nil {
				t.Fatal(err)
			}
			if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "before the pause" {
				t.Fatalf("echo: %q, %v", msg, err)
			}
			idleSince := time.Now()
			// The read ends when the proxy cuts; the deadline only keeps a
			// broken proxy from holding the test.
			c.SetReadDeadline(time.Now().Add(5 * idleCut))
			_, _, err = c.ReadMessage()
			idle := time.Since(idleSince)
			var ce *wsdial.CloseError
			if !errors.As(err, &ce) || ce.Code != wsdial.StatusAbnormalClosure {
				t.Fatalf("after %v idle: %v, want a *CloseError with 1006 (the proxy's FIN)", idle, err)
			}
			if idle < idleCut*3/4 {
				t.Errorf("cut after %v, before the proxy's %v idle timeout", idle, idleCut)
			}
			t.Logf("cut after %v idle", idle.Round(10*time.Millisecond))
		})
	}
}
