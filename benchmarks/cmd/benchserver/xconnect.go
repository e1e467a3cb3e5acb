package main

import (
	"log"
	"os"
	"strings"
	"syscall"
)

// runWithXConnect makes this process one that started with
// GODEBUG=http2xconnect=1, without which x/net/http2's server does not
// advertise extended CONNECT (RFC 8441): the package reads the setting in
// its init, before main, so the process replaces itself with a copy that has
// it. It returns only in a process that has it.
func runWithXConnect() {
	godebug := os.Getenv("GODEBUG")
	for _, kv := range strings.Split(godebug, ",") {
		if strings.TrimSpace(kv) == "http2xconnect=1" {
			return
		}
	}
	if godebug != "" {
		godebug += ","
	}
	self, err := os.Executable()
	if err != nil {
		log.Fatalf("benchserver: %v", err)
	}
	env := []string{"GODEBUG=" + godebug + "http2xconnect=1"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	// exec keeps the process ID, which run.sh waits on and signals.
	log.Fatalf("benchserver: exec with GODEBUG=http2xconnect=1: %v", syscall.Exec(self, os.Args, env))
}
