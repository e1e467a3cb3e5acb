// Package wire holds what the bench server and client agree on: the
// addresses file, the endpoint paths and the raw-TCP baseline's framing.
package wire

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Endpoint paths of the WebSocket servers. The raw-TCP server takes the same
// names as its first frame.
const (
	PathEcho   = "/echo"   // echoes every message with its type
	PathSink   = "/sink"   // reads messages, acks every N with a 1-byte text message
	PathSource = "/source" // on a text message "count size", sends count binary messages of size bytes
)

// Config is what the server writes once every listener is up, and the client
// reads before its first dial. Addresses are host:port on loopback.
type Config struct {
	PID int `json:"pid"`

	WS  string `json:"ws"`  // ws:// echo, sink and source
	WSS string `json:"wss"` // the same behind TLS

	RawTCP string `json:"raw_tcp"` // the length-prefixed baseline
	RawTLS string `json:"raw_tls"` // the same behind TLS

	Connect string `json:"connect"` // HTTP CONNECT proxy
	SOCKS5  string `json:"socks5"`  // SOCKS5 proxy, no authentication
	// HoldConnect is a CONNECT proxy for the many-connections case: one
	// address, served by several processes, since each process may open
	// only so many descriptors and every tunnel takes two.
	HoldConnect string `json:"hold_connect"`
	HoldShards  int    `json:"hold_shards"` // how many processes serve HoldConnect

	// Delay relays, each forwarding to one of the above with DelayMS of
	// latency in each direction.
	DelayMS      int    `json:"delay_ms"`
	RelayWS      string `json:"relay_ws"`
	RelayWSS     string `json:"relay_wss"`
	RelayConnect string `json:"relay_connect"`
	RelaySOCKS5  string `json:"relay_socks5"`

	// HTTP/2 (issue 16): the WebSocket endpoints over TLS, as RFC 8441
	// streams or HTTP/1.1 upgrades by ALPN; an HTTP/2 CONNECT proxy over
	// TLS; and delay relays in front of both.
	H2 string `json:"h2"`
	// H2Lean is the same endpoints with HTTP/2 served by the benchmarks'
	// own lean server instead of x/net/http2's, whose goroutine hand-offs
	// otherwise weigh on every HTTP/2 echo.
	H2Lean         string `json:"h2_lean"`
	H2Connect      string `json:"h2_connect"`
	RelayH2        string `json:"relay_h2"`
	RelayH2Connect string `json:"relay_h2_connect"`

	CAFile string `json:"ca_file"` // PEM of the CA that signed every TLS listener's certificate
}

// WriteConfig writes c to path atomically, so a reader polling for the file
// never sees half of it.
func WriteConfig(path string, c *Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// ReadConfig reads the file WriteConfig wrote.
func ReadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode config %s: %w", path, err)
	}
	return &c, nil
}

// SourceRequest is the text of the message that asks /source for count
// messages of size bytes.
func SourceRequest(count, size int) string {
	return strconv.Itoa(count) + " " + strconv.Itoa(size)
}

// ParseSourceRequest is the inverse of SourceRequest.
func ParseSourceRequest(s string) (count, size int, err error) {
	a, b, ok := strings.Cut(s, " ")
	if !ok {
		return 0, 0, fmt.Errorf("source request %q: want \"count size\"", s)
	}
	if count, err = strconv.Atoi(a); err != nil {
		return 0, 0, fmt.Errorf("source request count: %w", err)
	}
	if size, err = strconv.Atoi(b); err != nil {
		return 0, 0, fmt.Errorf("source request size: %w", err)
	}
	if count < 0 || size < 0 || size > MaxFrame {
		return 0, 0, fmt.Errorf("source request %q out of range", s)
	}
	return count, size, nil
}

// MaxFrame bounds a raw frame's payload, and so what either side allocates
// on the word of a header.
const MaxFrame = 16 << 20

// RawHeaderLen is the size of a raw frame's header: a big-endian uint32
// payload length.
const RawHeaderLen = 4

// PutRawHeader writes the header of a frame of n bytes into h.
func PutRawHeader(h []byte, n int) { binary.BigEndian.PutUint32(h, uint32(n)) }

// ReadRawFrame reads one frame's payload into buf, growing it when the
// payload does not fit, and returns the payload.
func ReadRawFrame(r io.Reader, hdr *[RawHeaderLen]byte, buf []byte) ([]byte, error) {
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n > MaxFrame {
		return nil, fmt.Errorf("raw frame of %d bytes exceeds %d", n, MaxFrame)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("raw frame payload: %w", err)
	}
	return buf, nil
}
