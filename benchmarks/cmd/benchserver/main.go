// Command benchserver is the far side of the wsdial benchmarks: WebSocket
// (ws and wss) and raw-TCP endpoints, an HTTP CONNECT and a SOCKS5 proxy,
// and delay relays in front of them, all on 127.0.0.1. Once every listener
// is up it writes their addresses to the -config file, and serves until
// SIGINT or SIGTERM.
package main

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/wsdial/wsdial/benchmarks/internal/server"
	"github.com/wsdial/wsdial/benchmarks/internal/wire"
)

func main() {
	runWithXConnect() // xconnect.go
	configPath := flag.String("config", "", "write the addresses here (JSON), once listening")
	delayMS := flag.Int("delay", 10, "one-way delay of the relays, in milliseconds")
	shard := flag.String("shard", "", "serve only a CONNECT proxy on this shared address (started by benchserver itself)")
	flag.Parse()
	if *shard != "" {
		if err := runShard(*shard); err != nil {
			log.Fatalf("benchserver shard: %v", err)
		}
		return
	}
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
		{&cfg.H2, func(ln net.Listener) { server.ServeH2(g, ln, tlsCfg) }},
		{&cfg.H2Lean, func(ln net.Listener) { server.ServeH2Lean(g, ln, tlsCfg, server.LeanH2Bench) }},
		{&cfg.H2Connect, func(ln net.Listener) { server.ServeH2Connect(g, ln, tlsCfg) }},
	}
	for _, s := range steps {
		ln, addr, err := listen()
		if err != nil {
			return err
		}
		*s.addr = addr
		s.serve(ln)
	}
	holdAddr, stopShards, err := startShards(holdShards)
	if err != nil {
		return err
	}
	defer stopShards()
	cfg.HoldConnect, cfg.HoldShards = holdAddr, holdShards

	relays := []struct {
		addr     *string
		upstream string
	}{
		{&cfg.RelayWS, cfg.WS},
		{&cfg.RelayWSS, cfg.WSS},
		{&cfg.RelayConnect, cfg.Connect},
		{&cfg.RelaySOCKS5, cfg.SOCKS5},
		{&cfg.RelayH2, cfg.H2},
		{&cfg.RelayH2Connect, cfg.H2Connect},
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

// holdShards is how many processes serve the hold proxy. With a limit of
// 20,000 descriptors a process, 10,000 tunnels need at least two; three
// leave room for the kernel's uneven spread.
const holdShards = 3

// startShards starts n copies of this program serving a CONNECT proxy on
// one shared loopback address, and returns that address and the function
// that stops them and waits for them to exit.
func startShards(n int) (string, func(), error) {
	// Holding a shared listener while the shards start keeps the port ours.
	reserve, err := server.ListenShared("127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("hold proxy: %w", err)
	}
	defer reserve.Close()
	addr := reserve.Addr().String()
	self, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("hold proxy: %w", err)
	}
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			c.Process.Signal(syscall.SIGTERM)
		}
		for _, c := range cmds {
			c.Wait()
		}
	}
	for range n {
		cmd := exec.Command(self, "-shard", addr)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			stop()
			return "", nil, fmt.Errorf("hold proxy: %w", err)
		}
		if err := cmd.Start(); err != nil {
			stop()
			return "", nil, fmt.Errorf("hold proxy: %w", err)
		}
		cmds = append(cmds, cmd)
		// The shard says "ready" once it listens; until then, connections
		// would land on the reserving listener and never be served.
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "ready\n" {
			stop()
			return "", nil, fmt.Errorf("hold proxy shard did not start: %q %w", line, err)
		}
	}
	return addr, stop, nil
}

// runShard serves a CONNECT proxy on the shared address addr until SIGTERM.
func runShard(addr string) error {
	ln, err := server.ListenShared(addr)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	g := server.NewGroup()
	defer g.Close()
	server.ServeConnect(g, ln)
	fmt.Println("ready")
	<-sig
	return nil
}
