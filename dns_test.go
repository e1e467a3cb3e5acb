package wsdial

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
)

// fakeDNS answers the Go resolver's queries in memory, so that a test can
// give a made-up name several loopback addresses, and see the names asked
// for exactly as they went on the wire. No query leaves the process.
type fakeDNS struct {
	hosts map[string][]netip.Addr // name, without the final dot, to its addresses

	mu    sync.Mutex
	asked []string
	wg    sync.WaitGroup
}

// resolver returns a net.Resolver that asks f alone.
func (f *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: f.dial}
}

// names returns the names asked for so far, in order.
func (f *fakeDNS) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.asked...)
}

// wait returns once every exchange has ended.
func (f *fakeDNS) wait() { f.wg.Wait() }

// dial hands the resolver one end of a pipe, which it speaks DNS over TCP
// on since a pipe is not a PacketConn, and answers on the other end. The
// exchange ends when the resolver closes its end.
func (f *fakeDNS) dial(context.Context, string, string) (net.Conn, error) {
	client, server := net.Pipe()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer server.Close()
		for {
			var n [2]byte
			if _, err := io.ReadFull(server, n[:]); err != nil {
				return
			}
			msg := make([]byte, binary.BigEndian.Uint16(n[:]))
			if _, err := io.ReadFull(server, msg); err != nil {
				return
			}
			answer, err := f.answer(msg)
			if err != nil {
				return
			}
			if _, err := server.Write(binary.BigEndian.AppendUint16(nil, uint16(len(answer)))); err != nil {
				return
			}
			if _, err := server.Write(answer); err != nil {
				return
			}
		}
	}()
	return client, nil
}

func (f *fakeDNS) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(q.Name.String(), ".")
	f.mu.Lock()
	f.asked = append(f.asked, name)
	f.mu.Unlock()
	addrs, known := f.hosts[name]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	for _, a := range addrs {
		res := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
		switch {
		case a.Is4() && q.Type == dnsmessage.TypeA:
			res.Type = dnsmessage.TypeA
			err = b.AResource(res, dnsmessage.AResource{A: a.As4()})
		case a.Is6() && q.Type == dnsmessage.TypeAAAA:
			res.Type = dnsmessage.TypeAAAA
			err = b.AAAAResource(res, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, err
		}
	}
	return b.Finish()
}
