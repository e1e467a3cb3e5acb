package wire

import (
	"fmt"
	"syscall"
)

// RaiseFileLimit raises RLIMIT_NOFILE to at least n, the hard limit too
// when the process may (root may, up to fs.nr_open). It returns the soft
// limit in force afterwards.
func RaiseFileLimit(n uint64) (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if l.Cur >= n {
		return l.Cur, nil
	}
	want := syscall.Rlimit{Cur: n, Max: max(l.Max, n)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		// Not allowed past the hard limit: take what there is.
		want = syscall.Rlimit{Cur: l.Max, Max: l.Max}
		if err2 := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err2 != nil {
			return l.Cur, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return want.Cur, nil
}
