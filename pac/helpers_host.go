package pac

import (
	"net/netip"
	"strings"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// The helpers that look at a host name's text alone. They compare case
// sensitively, as every browser's do: the host a script is given is in
// lower case already.

// isPlainHostName(host) is true when host has no dot. An IPv6 address has
// none either but is no host name; Chromium says false for it, and so does
// this one (pacparser says true).
func (e *env) isPlainHostName(c goja.FunctionCall) goja.Value {
	h := arg(c, 0)
	if strings.Contains(h, ".") {
		return e.vm.ToValue(false)
	}
	_, err := netip.ParseAddr(h)
	return e.vm.ToValue(err != nil)
}

// dnsDomainIs(host, domain) is true when host ends with domain.
func (e *env) dnsDomainIs(c goja.FunctionCall) goja.Value {
	return e.vm.ToValue(strings.HasSuffix(arg(c, 0), arg(c, 1)))
}

// localHostOrDomainIs(host, hostdom) is true when host is hostdom, or is
// its first labels: "www" and "www.example" both match "www.example.com".
func (e *env) localHostOrDomainIs(c goja.FunctionCall) goja.Value {
	h, dom := arg(c, 0), arg(c, 1)
	return e.vm.ToValue(h == dom || strings.HasPrefix(dom, h+"."))
}

// dnsDomainLevels(host) is the number of dots in host.
func (e *env) dnsDomainLevels(c goja.FunctionCall) goja.Value {
	return e.vm.ToValue(strings.Count(arg(c, 0), "."))
}

// shExpMatch(str, shexp) matches str against a shell pattern as every
// browser does, pacparser and pac-resolver too: the pattern becomes the
// regular expression ^shexp$ with '.' escaped, '*' turned into '.*' and '?'
// into '.', and nothing else touched. So '*' and '?' stop at a line break,
// and the rest of the regular expression syntax works as scripts written
// against browsers expect: "(*.corp.example|corp.example)" alternates,
// "web[0-9]" is a class, '+' repeats, and a pattern that is no regular
// expression ("c++") throws. A pattern of literal characters, '*' and '?'
// alone, the common case, is matched without building the expression.
func (e *env) shExpMatch(c goja.FunctionCall) goja.Value {
	s, pattern := arg(c, 0), arg(c, 1)
	if isPlainGlob(pattern) && !strings.ContainsAny(s, "\n\r") {
		matched, finished := globMatch(s, pattern, e.ctx.Done())
		if !finished {
			return goja.Undefined() // the call is over; the interrupt is on its way
		}
		return e.vm.ToValue(matched)
	}
	re, err := e.s.globs.get(pattern, e.s.cfg.timeout)
	if err != nil {
		e.throw("shExpMatch: " + err.Error())
	}
	matched, err := re.MatchString(s)
	if err != nil {
		if e.ctx.Err() != nil {
			return goja.Undefined() // out of time, as the call is
		}
		e.throw("shExpMatch: " + err.Error())
	}
	return e.vm.ToValue(matched)
}

// isPlainGlob reports whether pattern holds no character that is special
// in the regular expression shExpMatch builds from it, other than the '.',
// '*' and '?' it rewrites: then globMatch gives the same answer.
func isPlainGlob(pattern string) bool {
	return !strings.ContainsAny(pattern, `\^$+()[]{}|`)
}

// globMatch reports whether s matches pattern, '*' and '?' being the only
// wildcards and each matching line breaks too. It backtracks to the last '*' only, so it runs in time
// proportional to len(s)*len(pattern) at worst; since a hostile script can
// make that hours, and no interrupt reaches Go code, it gives up (finished
// false) once done is closed.
func globMatch(s, pattern string, done <-chan struct{}) (matched, finished bool) {
	var si, pi, steps int
	star, starS := -1, 0 // where the last '*' was in pattern, and in s when it was met
	for si < len(s) {
		if pi < len(pattern) {
			switch pc := pattern[pi]; {
			case pc == '*':
				star, starS = pi, si
				pi++
				continue
			case pc == '?':
				_, n := utf8.DecodeRuneInString(s[si:])
				si += n
				pi++
				continue
			case pc == s[si]:
				si++
				pi++
				continue
			}
		}
		if star < 0 {
			return false, true
		}
		if steps++; steps%4096 == 0 {
			select {
			case <-done:
				return false, false
			default:
			}
		}
		// Let the last '*' take one more character of s, and retry from there.
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		si, pi = starS, star+1
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern), true
}

// alert(message) logs message at info level (see WithLogger), at most
// maxAlerts times a call, each clipped to 1 KiB.
func (e *env) alert(c goja.FunctionCall) goja.Value {
	e.alerts++
	switch {
	case e.alerts <= maxAlerts:
		e.s.cfg.logger.InfoContext(e.ctx, "pac: alert", "message", clip(arg(c, 0), 1024))
	case e.alerts == maxAlerts+1:
		e.s.cfg.logger.InfoContext(e.ctx, "pac: alert", "message", "(further alerts of this call are not logged)")
	}
	return goja.Undefined()
}
