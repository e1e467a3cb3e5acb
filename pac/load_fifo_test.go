//go:build unix

package pac

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLoadRefusesFIFO: a file URL naming a FIFO, which would block the read
// for ever beyond the context's reach, is refused before any read.
func TestLoadRefusesFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proxy.pac")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), "file://"+path)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Load of a FIFO = %v", err)
	}
}
