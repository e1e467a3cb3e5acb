#!/usr/bin/python3
"""Runs the cases of a difftest job (see ../difftest_test.go) through
pacparser (Debian's python3-pacparser) and prints {id: {answer} | {error}}
as JSON.

Nothing here may reach the network. pacparser's dnsResolve and dnsResolveEx
are C functions that call getaddrinfo; before each script a prelude
replaces them with the job's fixed table (pacparser's own isInNet,
isResolvable and isResolvableEx, JavaScript, call them by name, so they
use the table too). myIpAddress answers setmyip. A prelude also fixes the
clock, replacing Date with one whose no-argument form is the case's
instant, which pacparser's weekdayRange, dateRange and timeRange use.
"""
import json
import sys
import warnings

warnings.simplefilter("ignore")  # pacparser 1.3.6 warns of its own syntax
import pacparser  # noqa: E402

PRELUDE = """
var __wsdialDNS = %(dns)s;
function __wsdialIsV4(h) { return /^\\d+\\.\\d+\\.\\d+\\.\\d+$/.test(h); }
dnsResolve = function (h) {
    h = String(h);
    if (__wsdialIsV4(h)) { return h; }
    var a = __wsdialDNS[h.toLowerCase()];
    if (!a) { return null; }
    for (var i = 0; i < a.length; i++) {
        if (a[i].indexOf(":") < 0) { return a[i]; }
    }
    return null;
};
dnsResolveEx = function (h) {
    h = String(h);
    if (__wsdialIsV4(h) || h.indexOf(":") >= 0) { return h; }
    var a = __wsdialDNS[h.toLowerCase()];
    if (!a) { return ""; }
    var v6 = [], v4 = [];
    for (var i = 0; i < a.length; i++) {
        if (a[i].indexOf(":") >= 0) { v6.push(a[i]); } else { v4.push(a[i]); }
    }
    return v6.concat(v4).join(";");
};
(function () {
    var RealDate = Date, now = %(clock)d;
    var FixedDate = function (a, b, c, d, e, f, g) {
        switch (arguments.length) {
        case 0: return new RealDate(now);
        case 1: return new RealDate(a);
        case 2: return new RealDate(a, b);
        case 3: return new RealDate(a, b, c);
        case 4: return new RealDate(a, b, c, d);
        case 5: return new RealDate(a, b, c, d, e);
        case 6: return new RealDate(a, b, c, d, e, f);
        default: return new RealDate(a, b, c, d, e, f, g);
        }
    };
    FixedDate.prototype = RealDate.prototype;
    FixedDate.UTC = RealDate.UTC;
    FixedDate.parse = RealDate.parse;
    FixedDate.now = function () { return now; };
    Date = FixedDate;
})();
"""


def run(case, dns_table):
    pacparser.init()
    try:
        pacparser.setmyip(case["myip"])
        pacparser.enable_microsoft_extensions()
        pacparser.parse_pac_string(PRELUDE % {"dns": json.dumps(dns_table), "clock": case["clock"]})
        pacparser.parse_pac_string(case["source"])
        return {"answer": pacparser.find_proxy(case["url"], case["host"])}
    except Exception as err:  # pacparser raises plain Exceptions
        return {"error": str(err) or type(err).__name__}
    finally:
        pacparser.cleanup()


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    dns_table = {k.lower(): v for k, v in job["dns"].items()}
    results = {c["id"]: run(c, dns_table) for c in job["cases"]}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
