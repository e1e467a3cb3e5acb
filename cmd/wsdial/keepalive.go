package main

import (
	"flag"

	"github.com/wsdial/wsdial"
)

// keepAliveUsage is the help of -keepalive.
const keepAliveUsage = "ping after `duration` with nothing from the server, and give the connection up " +
	"when nothing comes within the same again (0: off)"

// addKeepAliveFlag defines -keepalive on fs.
func addKeepAliveFlag(fs *flag.FlagSet, f *flags) {
	fs.DurationVar(&f.keepAlive, "keepalive", 0, keepAliveUsage)
}

// keepAliveOption is the option of -keepalive: its duration is the interval
// and the timeout both, which keeps a proxy's idle cut away when it is
// longer than the duration, and finds a dead path within twice it.
func (f *flags) keepAliveOption() wsdial.Option {
	return wsdial.WithKeepAlive(f.keepAlive, f.keepAlive)
}
