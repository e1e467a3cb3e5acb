// Command benchserver is the far side of the wsdial benchmarks: WebSocket
// (ws and wss) and raw-TCP endpoints, an HTTP CONNECT and a SOCKS5 proxy,
// and delay relays in front of them, all on 127.0.0.1. Once every listener
// is up it writes their addresses to the -config file, and serves until
// SIGINT or SIGTERM.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/wsdial/wsdial/benchmarks/internal/server"
	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

func main() {
	configPath := flag.String("config", "", "write the addresses here (JSON), once listening")
	delayMS := flag.Int("delay", 10, "one-way delay of the relays, in milliseconds")
	flag.Parse()
	if *configPath == "" {
		log.Fatal("benchserver: -config is required")
	}
	if err := run(*configPath, time.Duration(*delayMS)*time.Millisecond); err != nil {
		log.Fatalf("benchserver: %v", err)
	}
}

func run(configPath string, delay time.Duration) error {
	// 10,000 connections through the proxy hold three descriptors each here.
	if _, err := wire.RaiseFileLimit(200_000); err != nil {
		return err
	}
	tlsCfg, caPEM, err := server.NewTestPKI()
	if err != nil {
		return err
	}
	// The CA goes to a temporary file, never into the tree.
	caFile, err := os.CreateTemp("", "wsdial-bench-ca-*.pem")
	if err != nil {
		return fmt.Errorf("CA file: %w", err)
	}
	defer os.Remove(caFile.Name())
	if _, err := caFile.Write(caPEM); err != nil {
		return fmt.Errorf("CA file: %w", err)
	}
	if err := caFile.Close(); err != nil {
		return fmt.Errorf("CA file: %w", err)
	}

	g := server.NewGroup()
	defer g.Close()
	listen := func() (net.Listener, string, error) {
		ln, err := server.Listen()
		if err != nil {
			return nil, "", fmt.Errorf("listen: %w", err)
		}
		return ln, ln.Addr().String(), nil
	}
	cfg := &wire.Config{PID: os.Getpid(), DelayMS: int(delay / time.Millisecond), CAFile: caFile.Name()}

	steps := []struct {
		addr  *string
		serve func(net.Listener)
	}{
		{&cfg.WS, func(ln net.Listener) { server.ServeWS(g, ln) }},
		{&cfg.WSS, func(ln net.Listener) { server.ServeWS(g, tls.NewListener(ln, tlsCfg)) }},
		{&cfg.RawTCP, func(ln net.Listener) { server.ServeRaw(g, ln) }},
		{&cfg.RawTLS, func(ln net.Listener) { server.ServeRaw(g, tls.NewListener(ln, tlsCfg)) }},
		{&cfg.Connect, func(ln net.Listener) { server.ServeConnect(g, ln) }},
		{&cfg.SOCKS5, func(ln net.Listener) { server.ServeSOCKS5(g, ln) }},
	}
	for _, s := range steps {
		ln, addr, err := listen()
		if err != nil {
			return err
		}
		*s.addr = addr
		s.serve(ln)
	}
	relays := []struct {
		addr     *string
		upstream string
	}{
		{&cfg.RelayWS, cfg.WS},
		{&cfg.RelayWSS, cfg.WSS},
		{&cfg.RelayConnect, cfg.Connect},
		{&cfg.RelaySOCKS5, cfg.SOCKS5},
	}
	for _, r := range relays {
		ln, addr, err := listen()
		if err != nil {
			return err
		}
		*r.addr = addr
		server.ServeRelay(g, ln, r.upstream, delay)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	if err := wire.WriteConfig(configPath, cfg); err != nil {
		return err
	}
	defer os.Remove(configPath)
	<-sig
	return nil
}
