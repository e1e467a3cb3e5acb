package server

import (
	"context"
	"net"
	"syscall"
)

// soReusePort is SO_REUSEPORT on Linux, which the syscall package does not
// name.
const soReusePort = 0xf

// ListenShared listens on addr with SO_REUSEPORT, so that several processes
// can accept on one address and the kernel spreads connections over them.
// It lets one proxy address hold more tunnels than one process has
// descriptors for: each tunnel takes two.
func ListenShared(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}
