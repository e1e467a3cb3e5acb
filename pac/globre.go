package pac

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dlclark/regexp2/v2"
)

// maxGlobRegexps and maxCachedGlob bound the regular expressions a Script
// keeps for shExpMatch, which live as long as the Script. A script names a
// handful of short patterns, as literals; one that builds patterns without
// end, or long ones, compiles the rest on each use.
const (
	maxGlobRegexps = 256
	maxCachedGlob  = 1 << 10
)

// globRegexps holds the regular expressions that shExpMatch built from a
// script's patterns, shared by the script's calls, so that each pattern is
// compiled once. The zero value is ready.
type globRegexps struct {
	mu sync.Mutex
	m  map[string]globRegexp
}

type globRegexp struct {
	re  *regexp2.Regexp
	err error
}

// get returns the regular expression of pattern, or why it has none.
// Matches give up after timeout, the length of a whole call: the engine
// backtracks, as browsers' do, and no interrupt reaches inside it.
func (g *globRegexps) get(pattern string, timeout time.Duration) (*regexp2.Regexp, error) {
	g.mu.Lock()
	r, ok := g.m[pattern]
	g.mu.Unlock()
	if ok {
		return r.re, r.err
	}
	r = compileGlob(pattern, timeout)
	g.mu.Lock()
	if g.m == nil {
		g.m = make(map[string]globRegexp)
	}
	if len(g.m) < maxGlobRegexps && len(pattern) <= maxCachedGlob {
		g.m[pattern] = r
	}
	g.mu.Unlock()
	return r.re, r.err
}

// compileGlob builds the regular expression of a shExpMatch pattern as the
// browsers' shExpMatch builds it, and compiles it with ECMAScript's rules.
func compileGlob(pattern string, timeout time.Duration) globRegexp {
	var b strings.Builder
	b.Grow(len(pattern) + 8)
	b.WriteByte('^')
	for _, r := range pattern {
		switch r {
		case '.':
			b.WriteString(`\.`)
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteByte('.')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('$')
	re, err := regexp2.Compile(b.String(), regexp2.ECMAScript)
	if err != nil {
		return globRegexp{err: fmt.Errorf("pattern %q is no regular expression: %w", clip(pattern, 100), err)}
	}
	re.MatchTimeout = timeout
	return globRegexp{re: re}
}
