package main

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// escapeControl returns s with its control characters written as escapes
// (\x1b, \r, \u009b), so that nothing the network sends can move the cursor,
// retitle the window or clear the screen of the terminal it is printed to.
// Tab stays as it is, and so does newline when keepNewlines is set. Bytes
// that are not UTF-8 are escaped too, since a terminal may take some as C1
// controls.
func escapeControl(s string, keepNewlines bool) string {
	clean := utf8.ValidString(s)
	for _, r := range s {
		if needsEscape(r, keepNewlines) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !needsEscape(r, keepNewlines):
			b.WriteString(s[i : i+n])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += n
	}
	return b.String()
}

// needsEscape reports whether r is a C0 or C1 control or DEL, other than
// tab (and newline when it is kept).
func needsEscape(r rune, keepNewlines bool) bool {
	switch {
	case r == '\t', r == '\n' && keepNewlines:
		return false
	case r < 0x20, r == 0x7f, 0x80 <= r && r <= 0x9f:
		return true
	}
	return false
}

// isTerminal reports whether w is a terminal (a character device; /dev/null
// counts too, which does no harm).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
