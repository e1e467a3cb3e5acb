// Package examples_test runs each example program that needs no outside
// service, and checks what it prints.
package examples_test

import (
	"os/exec"
	"strings"
	"testing"
)

func TestExamplesRun(t *testing.T) {
	for _, tt := range []struct{ dir, want string }{
		{"./httptransport", "200 OK\nhello through the tunnel\n"},
		{"./proxyauth", "answering with the token\necho: authenticated\n"},
		{"./chat", "< hi all\n< anyone here?\n< bye\n* closed: 1000"},
		{"./corporate", "connected to wss://chat.test/: 101 Switching Protocols through http://127.0.0.1:"},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			out, err := exec.Command("go", "run", tt.dir).CombinedOutput()
			if err != nil {
				t.Fatalf("go run %s: %v\n%s", tt.dir, err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("go run %s printed\n%s\nwant it to hold\n%s", tt.dir, out, tt.want)
			}
		})
	}
}
