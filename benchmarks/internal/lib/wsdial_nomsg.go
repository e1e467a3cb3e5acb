//go:build !wsdialmsg

package lib

import (
	"errors"

	"github.com/wsdial/wsdial"
)

// errNoMessages stands in for wsdial's message layer until it is merged.
var errNoMessages = errors.New("wsdial: message layer not on this branch yet")

type wsdialConn struct{ c *wsdial.Conn }

func (w wsdialConn) Write(MsgType, []byte) error { return errNoMessages }

func (w wsdialConn) Read(buf []byte) ([]byte, error) { return buf[:0], errNoMessages }
