// Package authchallenge reads the challenges of Proxy-Authenticate (and
// WWW-Authenticate) fields, RFC 9110 §11.6.1, for the main module's choice
// of scheme and for the ntlm and negotiate modules, which each need their
// scheme's token out of a list that may hold several challenges.
package authchallenge

import "strings"

// maxElements bounds the list elements read from one field value, so that a
// hostile value of commas costs a bounded amount of work per call.
const maxElements = 64

// Challenge is one challenge: its scheme as sent, and the token68 or the
// auth-params that follow it, unparsed ("" when there are none).
type Challenge struct {
	Scheme string
	Rest   string
}

// Parse returns the challenges of the given field values, in order. A value
// may hold several, separated by commas, with auth-params that hold commas
// of their own inside quoted strings; an element of the form name=value
// continues the challenge before it. Elements that fit no challenge are
// skipped: a client picks among what it understands.
func Parse(values []string) []Challenge {
	var out []Challenge
	for _, v := range values {
		for i, e := range splitList(v) {
			if i == maxElements {
				break
			}
			name, after := token(e)
			if name == "" {
				continue
			}
			rest := strings.TrimLeft(after, " \t")
			if strings.HasPrefix(rest, "=") && !isToken68(e) {
				// An auth-param of the challenge before it.
				if n := len(out); n > 0 {
					out[n-1].Rest = strings.TrimPrefix(out[n-1].Rest+", "+e, ", ")
				}
				continue
			}
			if after != "" && after[0] != ' ' && after[0] != '\t' {
				continue // a scheme runs into something that is not a token
			}
			out = append(out, Challenge{Scheme: name, Rest: rest})
		}
	}
	return out
}

// Find returns the first challenge whose scheme is scheme, ignoring case.
func Find(values []string, scheme string) (Challenge, bool) {
	for _, c := range Parse(values) {
		if strings.EqualFold(c.Scheme, scheme) {
			return c, true
		}
	}
	return Challenge{}, false
}

// Token68 returns the challenge's token68, the base64 blob that NTLM and
// Negotiate carry, or "" when what follows the scheme is not one.
func (c Challenge) Token68() string {
	if isToken68(c.Rest) {
		return c.Rest
	}
	return ""
}

// splitList splits a field value at the commas that are not inside a
// quoted string, trimming each element of spaces and tabs.
func splitList(v string) []string {
	var out []string
	start, quoted, escaped := 0, false, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = appendElement(out, v[start:i])
			start = i + 1
			if len(out) > maxElements {
				return out
			}
		}
	}
	return appendElement(out, v[start:])
}

func appendElement(out []string, e string) []string {
	if e = strings.Trim(e, " \t"); e != "" {
		out = append(out, e)
	}
	return out
}

// token splits a leading RFC 9110 token off s.
func token(s string) (tok, rest string) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

// isToken68 reports whether s is a token68 (RFC 9110 §11.2): the characters
// of base64 and its URL-safe form, then any '=' padding.
func isToken68(s string) bool {
	i := 0
	for i < len(s) && isToken68Char(s[i]) {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(s) && s[i] == '=' {
		i++
	}
	return i == len(s)
}

func isToken68Char(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("-._~+/", c) >= 0
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
