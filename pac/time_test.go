package pac

import (
	"testing"
	"time"
)

// ist is India's zone, +05:30 with no summer time: far enough from UTC
// that the local and GMT forms of each helper disagree on the hour, and at
// the instant below, on the day, the weekday and the month too.
var ist = time.FixedZone("IST", 5*3600+30*60)

// sundayMorning is Sunday 1 March 2026, 02:00:00 in IST: Saturday 28
// February, 20:30:00 in UTC.
var sundayMorning = time.Date(2026, time.March, 1, 2, 0, 0, 0, ist)

func atClock(t time.Time) Option { return WithClock(func() time.Time { return t }) }

func TestWeekdayRange(t *testing.T) {
	checkExprs(t, []exprCase{
		{`weekdayRange("SUN")`, "true"},
		{`weekdayRange("SUN", "GMT")`, "false"},
		{`weekdayRange("SAT", "GMT")`, "true"},
		{`weekdayRange("MON", "FRI")`, "false"},
		{`weekdayRange("MON", "FRI", "GMT")`, "false"},
		{`weekdayRange("SAT", "SUN")`, "true"},
		{`weekdayRange("FRI", "MON")`, "true"}, // wraps, as Netscape's example says
		{`weekdayRange("MON", "SAT")`, "false"},
		{`weekdayRange("TUE", "SAT", "GMT")`, "true"},
		{`weekdayRange("sun")`, "false"},
		{`weekdayRange("SUNDAY")`, "false"},
		{`weekdayRange()`, "false"},
		{`weekdayRange("GMT")`, "false"},
		{`weekdayRange("SUN", "MON", "TUE")`, "false"},
	}, atClock(sundayMorning))
}

func TestDateRange(t *testing.T) {
	checkExprs(t, []exprCase{
		{`dateRange(1)`, "true"},
		{`dateRange("1")`, "true"},
		{`dateRange(1, "GMT")`, "false"},
		{`dateRange(28, "GMT")`, "true"},
		{`dateRange("MAR")`, "true"},
		{`dateRange("FEB", "GMT")`, "true"},
		{`dateRange(2026)`, "true"},
		{`dateRange(2027)`, "false"},
		{`dateRange(2025, 2027)`, "true"},
		{`dateRange(1, 15)`, "true"},
		{`dateRange(2, 15)`, "false"},
		{`dateRange("JAN", "MAR")`, "true"},
		{`dateRange("JAN", "FEB")`, "false"},
		{`dateRange("JAN", "FEB", "GMT")`, "true"},
		{`dateRange(1, "MAR")`, "true"}, // one day, as Netscape's dateRange(24, "DEC")
		{`dateRange(2, "MAR")`, "false"},
		{`dateRange("MAR", 2026)`, "true"},
		{`dateRange(1, "FEB", 1, "MAR")`, "true"},
		{`dateRange(2, "FEB", 28, "FEB")`, "false"},
		{`dateRange(2, "FEB", 28, "FEB", "GMT")`, "true"},
		{`dateRange("OCT", 2025, "MAR", 2026)`, "true"},
		{`dateRange("OCT", 2025, "FEB", 2026)`, "false"},
		{`dateRange("OCT", 2025, "FEB", 2026, "GMT")`, "true"},
		{`dateRange(1, "MAR", 2026, 1, "MAR", 2026)`, "true"},
		{`dateRange(2, "MAR", 2026, 31, "DEC", 2026)`, "false"},
		{`dateRange(28, "FEB", 2026, 28, "FEB", 2026, "GMT")`, "true"},
		{`dateRange("DEC", "JAN")`, "false"}, // December and January: not March
		{`dateRange(1, 2, 3)`, "false"},
		{`dateRange("MAR", 1)`, "false"},
		{`dateRange(1, "MAR", 2026, 1, "MAR")`, "false"},
		{`dateRange(0)`, "false"},
		{`dateRange("mar")`, "false"},
		{`dateRange()`, "false"},
	}, atClock(sundayMorning))
}

func TestTimeRange(t *testing.T) {
	checkExprs(t, []exprCase{
		{`timeRange(2)`, "true"},
		{`timeRange("2")`, "true"},
		{`timeRange(20, "GMT")`, "true"},
		{`timeRange(2, "GMT")`, "false"},
		{`timeRange(1, 2)`, "true"},
		{`timeRange(2, 3)`, "true"},
		{`timeRange(0, 1)`, "false"},
		{`timeRange(9, 17, "GMT")`, "false"},
		{`timeRange(20, 21, "GMT")`, "true"},
		{`timeRange(2, 0, 2, 0)`, "true"},
		{`timeRange(1, 0, 1, 59)`, "false"},
		{`timeRange(20, 30, 21, 0, "GMT")`, "true"},
		{`timeRange(20, 31, 21, 0, "GMT")`, "false"},
		{`timeRange(20, 30, 0, 20, 30, 0, "GMT")`, "true"},
		{`timeRange(20, 30, 1, 21, 0, 0, "GMT")`, "false"},
		{`timeRange(1, 59, 59, 2, 0, 0)`, "true"},
		{`timeRange(22, 6)`, "false"}, // no wrap, as in both references
		{`timeRange(1, 2, 3)`, "false"},
		{`timeRange()`, "false"},
		{`timeRange("x")`, "false"},
	}, atClock(sundayMorning))
}

// TestRangesWrapAsBrowsers: in Chromium's and Firefox's code a dateRange,
// or a timeRange of minutes or seconds, whose start comes after its end
// runs round the end of the year or the day ("DEC" to "MAR"; 22:00 to
// 06:00), as weekdayRange runs round the week; timeRange of hours alone
// does not, in any engine. pacparser and pac-resolver never wrap.
func TestRangesWrapAsBrowsers(t *testing.T) {
	checkExprs(t, []exprCase{
		{`timeRange(22, 0, 6, 0)`, "true"},
		{`timeRange(22, 0, 1, 0)`, "false"},
		{`timeRange(23, 0, 0, 2, 0, 0)`, "true"},
		{`timeRange(23, 0, 0, 1, 59, 59)`, "false"},
		{`timeRange(20, 0, 6, 0, "GMT")`, "true"},
		{`timeRange(21, 0, 6, 0, "GMT")`, "false"},
		{`timeRange(22, 6)`, "false"},
		{`dateRange("DEC", "MAR")`, "true"},
		{`dateRange("NOV", "JAN")`, "false"},
		{`dateRange("NOV", "FEB", "GMT")`, "true"},
		{`dateRange(20, "DEC", 5, "MAR")`, "true"},
		{`dateRange(20, "DEC", 28, "FEB")`, "false"},
		{`dateRange(25, 1)`, "true"},
		{`dateRange(25, 5, "GMT")`, "true"},
		{`dateRange(25, 27, "GMT")`, "false"},
		{`dateRange(2027, 2025)`, "false"},
		{`dateRange("OCT", 2026, "JAN", 2026)`, "false"},
	}, atClock(sundayMorning))
}

// TestClockReachesScriptDate: the script's own Date reads WithClock's clock
// too.
func TestClockReachesScriptDate(t *testing.T) {
	checkExprs(t, []exprCase{
		{`new Date().toISOString()`, "2026-02-28T20:30:00.000Z"},
		{`Date.now()`, "1772310600000"},
	}, atClock(sundayMorning))
}
