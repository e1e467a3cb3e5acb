package wsdial_test

import (
	"context"
	"fmt"
	"log"

	"github.com/wsdial/wsdial"
	"github.com/wsdial/wsdial/wsdialtest"
)

// WithHTTP2 lets the wss:// WebSockets of a Dialer share an HTTP/2
// connection with each origin that speaks RFC 8441: Response().ProtoMajor
// is 2 for those, and every WebSocket after the first costs one round trip.
// With any other server they go as ever; wsdialtest's echo server speaks
// HTTP/1.1 only, so both WebSockets here do too. CloseIdleConnections ends
// the kept connections once the program is done with them.
func ExampleWithHTTP2() {
	srv := wsdialtest.NewTLSEchoServer() // stands for your server
	defer srv.Close()

	d, err := wsdial.New(wsdial.WithHTTP2(), wsdial.WithTLSConfig(srv.TLSConfig()))
	if err != nil {
		log.Fatal(err)
	}
	defer d.CloseIdleConnections()
	for range 2 {
		c, err := d.DialWebSocket(context.Background(), srv.URL)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(c.Response().Proto)
		c.Close()
	}
	// Output:
	// HTTP/1.1
	// HTTP/1.1
}
