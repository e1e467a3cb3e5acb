package pac

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// TestMain makes the default resolver fail without sending anything, so
// that a test that forgets WithResolver cannot send a query to the
// machine's name server, which is not on loopback.
func TestMain(m *testing.M) {
	net.DefaultResolver = &net.Resolver{
		PreferGo: true,
		Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("test: the default resolver is not to be used; pass WithResolver")
		},
	}
	os.Exit(m.Run())
}

// dnsServer is a name server on 127.0.0.1 answering A and AAAA queries from
// a fixed table, and NXDOMAIN for every other name, so that the DNS helpers
// are tested through Go's real resolver and real sockets.
type dnsServer struct {
	conn    net.PacketConn
	records map[string][]netip.Addr // lower-case names without the final dot
	queries atomic.Int64
	names   sync.Map // every name asked, for tests that check what was asked
	// hold, when set, is waited on before each answer, and arrived is sent
	// a value (without blocking) when a query comes.
	hold, arrived chan struct{}
}

// newDNSServer serves records until the test ends. Each value is a list of
// addresses.
func newDNSServer(t testing.TB, records map[string][]string) *dnsServer {
	t.Helper()
	return startDNSServer(t, records, nil)
}

// newHeldDNSServer is a server that answers nothing until the test ends,
// and says on arrived when a query has come.
func newHeldDNSServer(t testing.TB, records map[string][]string) *dnsServer {
	t.Helper()
	return startDNSServer(t, records, make(chan struct{}))
}

func startDNSServer(t testing.TB, records map[string][]string, hold chan struct{}) *dnsServer {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dnsServer{conn: conn, records: map[string][]netip.Addr{}, hold: hold, arrived: make(chan struct{}, 1)}
	for name, addrs := range records {
		for _, a := range addrs {
			d.records[strings.ToLower(name)] = append(d.records[strings.ToLower(name)], netip.MustParseAddr(a))
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.serve()
	}()
	t.Cleanup(func() {
		if hold != nil {
			close(hold)
		}
		conn.Close()
		<-done
	})
	return d
}

func (d *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		if d.hold != nil {
			select {
			case d.arrived <- struct{}{}:
			default:
			}
			<-d.hold
		}
		if reply, ok := d.answer(buf[:n]); ok {
			d.conn.WriteTo(reply, from)
		}
	}
}

func (d *dnsServer) answer(query []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	d.queries.Add(1)
	name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
	d.names.Store(name, true)
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired})
	b.EnableCompression()
	addrs, known := d.records[name]
	if !known {
		b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: dnsmessage.RCodeNameError})
	}
	if err := b.StartQuestions(); err != nil {
		return nil, false
	}
	b.Question(q)
	if err := b.StartAnswers(); err != nil {
		return nil, false
	}
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	for _, a := range addrs {
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			b.AResource(rh, dnsmessage.AResource{A: a.As4()})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
	}
	out, err := b.Finish()
	return out, err == nil
}

// asked reports whether name was queried.
func (d *dnsServer) asked(name string) bool {
	_, ok := d.names.Load(name)
	return ok
}

// resolver returns a resolver that sends every query to d.
func (d *dnsServer) resolver() *net.Resolver {
	addr := d.conn.LocalAddr().String()
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "udp", addr)
		},
	}
}

// corpDNS is the table most tests resolve with: a company with IPv4 and
// IPv6 networks, and one name of the outside world.
var corpDNS = map[string][]string{
	"intranet.corp.example": {"10.20.1.5"},
	"git.corp.example":      {"10.20.3.7", "fd00:20::7"},
	"v6only.corp.example":   {"fd00:30::1"},
	"lab.corp.example":      {"172.16.4.2"},
	"www.example.com":       {"198.51.100.20", "2001:db8:100::20"},
	"printer":               {"10.20.9.9"},
}
