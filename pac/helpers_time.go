package pac

import (
	"math"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// The time helpers: weekdayRange, dateRange and timeRange. Each reads the
// clock (WithClock) once a call and works in the clock's zone, or in UTC
// when its last argument is "GMT". Ranges include both ends. A range whose
// start comes after its end wraps around, as in Chromium's and Firefox's
// code: weekdayRange("FRI", "MON") is Friday to Monday, as Netscape's
// specification says, dateRange("DEC", "JAN") December and January, and
// timeRange(22, 0, 6, 0) the night; timeRange of hours alone,
// timeRange(22, 6), never wraps, in any engine. pacparser and pac-resolver
// wrap none of them but pac-resolver's weekdayRange.

// timeArgs returns the call's arguments without a final "GMT", and the
// current time in the zone they ask for.
func (e *env) timeArgs(c goja.FunctionCall) ([]goja.Value, time.Time) {
	args := c.Arguments
	now := e.s.cfg.now()
	if n := len(args); n > 0 && goja.IsString(args[n-1]) && args[n-1].String() == "GMT" {
		return args[:n-1], now.UTC()
	}
	return args, now
}

var weekdays = map[string]time.Weekday{
	"SUN": time.Sunday, "MON": time.Monday, "TUE": time.Tuesday, "WED": time.Wednesday,
	"THU": time.Thursday, "FRI": time.Friday, "SAT": time.Saturday,
}

var months = map[string]time.Month{
	"JAN": time.January, "FEB": time.February, "MAR": time.March, "APR": time.April,
	"MAY": time.May, "JUN": time.June, "JUL": time.July, "AUG": time.August,
	"SEP": time.September, "OCT": time.October, "NOV": time.November, "DEC": time.December,
}

// weekdayRange(wd1 [, wd2] [, "GMT"]) is true on wd1, or from wd1 to wd2,
// days named SUN to SAT in upper case.
func (e *env) weekdayRange(c goja.FunctionCall) goja.Value {
	args, now := e.timeArgs(c)
	if len(args) == 0 || len(args) > 2 {
		return e.vm.ToValue(false)
	}
	first, ok := weekdays[args[0].String()]
	if !ok {
		return e.vm.ToValue(false)
	}
	last := first
	if len(args) == 2 {
		if last, ok = weekdays[args[1].String()]; !ok {
			return e.vm.ToValue(false)
		}
	}
	return e.vm.ToValue(inRange(int(now.Weekday()), int(first), int(last)))
}

// dateField is what one argument of dateRange names: a day of the month
// (1-31), a month (JAN-DEC) or a year (a number from 32 up).
type dateField int

const (
	fieldDay dateField = iota
	fieldMonth
	fieldYear
)

type dateArg struct {
	field dateField
	n     int
}

// parseDateArg reads one dateRange argument as the browsers' code does: a
// number (parseInt of a string) below 32 is a day, above it a year; any
// other argument must be a month's name in upper case.
func parseDateArg(v goja.Value) (dateArg, bool) {
	if n, ok := leadingInt(v); ok {
		if n < 32 {
			return dateArg{fieldDay, n}, n >= 1
		}
		return dateArg{fieldYear, n}, true
	}
	if m, ok := months[v.String()]; ok {
		return dateArg{fieldMonth, int(m)}, true
	}
	return dateArg{}, false
}

// leadingInt is JavaScript's parseInt(v, 10) where it finds a number.
func leadingInt(v goja.Value) (int, bool) {
	if !goja.IsString(v) {
		f := v.ToFloat()
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e9 {
			return 0, false
		}
		return int(f), true
	}
	s := strings.TrimLeft(v.String(), " \t\n\r\v\f")
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	n, digits := 0, 0
	for ; digits < len(s) && digits < 10 && s[digits] >= '0' && s[digits] <= '9'; digits++ {
		n = n*10 + int(s[digits]-'0')
	}
	if digits == 0 {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// dateRange takes, with an optional final "GMT":
//
//	(day), (month), (year)                  that day of every month, month or year
//	(d1, d2), (m1, m2), (y1, y2)            a range of days, months or years
//	(day, month), (month, year)             that one day of every year, or month
//	(d1, m1, d2, m2), (m1, y1, m2, y2)      a range of dates or of months
//	(d1, m1, y1, d2, m2, y2)                a range of dates
//
// and is false for any other arguments. A range whose start comes after
// its end runs round the end of the year (or the month, for days).
func (e *env) dateRange(c goja.FunctionCall) goja.Value {
	args, now := e.timeArgs(c)
	parsed := make([]dateArg, len(args))
	for i, a := range args {
		var ok bool
		if parsed[i], ok = parseDateArg(a); !ok {
			return e.vm.ToValue(false)
		}
	}
	return e.vm.ToValue(dateMatch(parsed, now))
}

// dateMatch is dateRange's test of now against its parsed arguments. Each
// bound is a set of fields in the order day, month, year; a date compares
// with it on those fields alone, the largest first.
func dateMatch(args []dateArg, now time.Time) bool {
	cur := [...]int{fieldDay: now.Day(), fieldMonth: int(now.Month()), fieldYear: now.Year()}
	var lo, hi []dateArg
	switch {
	case len(args) == 1:
		lo, hi = args, args
	case len(args) == 2 && args[0].field != args[1].field:
		lo, hi = args, args // (24, "DEC") is one day, as Netscape's example has it
	case len(args) == 2, len(args) == 4, len(args) == 6:
		lo, hi = args[:len(args)/2], args[len(args)/2:]
	default:
		return false
	}
	if !sameFields(lo, hi) {
		return false
	}
	// Compare field by field from the largest: year, then month, then day.
	key := func(b []dateArg, cur [3]int) (k, c int) {
		for f := fieldYear; f >= fieldDay; f-- {
			for _, a := range b {
				if a.field == f {
					k = k*100 + a.n
					c = c*100 + cur[f]
				}
			}
		}
		return k, c
	}
	loKey, curKey := key(lo, cur)
	hiKey, _ := key(hi, cur)
	return inRange(curKey, loKey, hiKey)
}

// inRange reports whether v is in [lo, hi], or, when lo comes after hi, in
// the range that runs from lo round the cycle's end (of the week, the year,
// the day) to hi.
func inRange[T int | float64](v, lo, hi T) bool {
	if lo <= hi {
		return lo <= v && v <= hi
	}
	return v >= lo || v <= hi
}

// sameFields reports whether two bounds name the same fields, each once and
// in the order day, month, year, as dateRange's forms do.
func sameFields(lo, hi []dateArg) bool {
	if len(lo) != len(hi) {
		return false
	}
	for i := range lo {
		if lo[i].field != hi[i].field || i > 0 && lo[i].field <= lo[i-1].field {
			return false
		}
	}
	return true
}

// timeRange takes, with an optional final "GMT":
//
//	(hour)                          that hour
//	(h1, h2)                        from the start of h1 to the end of h2
//	(h1, m1, h2, m2)                from h1:m1:00 to h2:m2:59
//	(h1, m1, s1, h2, m2, s2)        from h1:m1:s1 to h2:m2:s2
//
// and is false for any other number of arguments. The last two forms run
// past midnight when the start comes after the end; the second does not.
func (e *env) timeRange(c goja.FunctionCall) goja.Value {
	args, now := e.timeArgs(c)
	n := make([]float64, len(args))
	for i, a := range args {
		n[i] = a.ToFloat()
	}
	h, m, s := float64(now.Hour()), float64(now.Minute()), float64(now.Second())
	secs := func(h, m, s float64) float64 { return h*3600 + m*60 + s }
	var ok bool
	switch len(n) {
	case 1:
		ok = h == n[0]
	case 2:
		ok = n[0] <= h && h <= n[1]
	case 4:
		ok = inRange(secs(h, m, s), secs(trunc(n[0]), trunc(n[1]), 0), secs(trunc(n[2]), trunc(n[3]), 59))
	case 6:
		ok = inRange(secs(h, m, s), secs(trunc(n[0]), trunc(n[1]), trunc(n[2])), secs(trunc(n[3]), trunc(n[4]), trunc(n[5])))
	}
	return e.vm.ToValue(ok)
}

func trunc(f float64) float64 { return math.Trunc(f) }
