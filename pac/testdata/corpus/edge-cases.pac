// The corners where PAC engines part ways, one per URL path, each
// answering with what the helper returned. README.md says which engine
// does what, and which wsdial follows.
function FindProxyForURL(url, host) {
    var c = url.split("/")[3];
    var r;
    if (c == "plain-v6") {
        r = isPlainHostName("fd00::1");
    } else if (c == "plain-dotless") {
        r = isPlainHostName("printer");
    } else if (c == "glob-plus") {
        r = shExpMatch("c++.example", "c++.example");
    } else if (c == "glob-bracket") {
        r = shExpMatch("x.example", "[xyz].example");
    } else if (c == "glob-question") {
        r = shExpMatch("host-7.example", "host-?.example");
    } else if (c == "hours-end") {
        r = timeRange(9, 10);
    } else if (c == "hours-wrap") {
        r = timeRange(22, 6);
    } else if (c == "weekday-wrap") {
        r = weekdayRange("FRI", "MON");
    } else if (c == "minutes-wrap") {
        r = timeRange(22, 0, 6, 0);
    } else if (c == "date-wrap") {
        r = dateRange("DEC", "MAR");
    } else if (c == "date-day-month") {
        r = dateRange(1, "MAR");
    } else if (c == "date-month-end") {
        r = dateRange("JAN", "FEB");
    } else if (c == "dns-v6-literal") {
        r = dnsResolve("fd00::1");
    } else if (c == "isinnet-v6") {
        r = isInNet("fd00::1", "0.0.0.0", "0.0.0.0");
    } else if (c == "isinnet-leading-zero") {
        r = isInNet("010.001.002.003", "10.0.0.0", "255.0.0.0");
    } else if (c == "isinnet-sparse-mask") {
        r = isInNet("10.1.2.3", "10.255.2.255", "255.0.255.0");
    } else if (c == "domain-empty") {
        r = dnsDomainIs("a.example", "");
    } else if (c == "domain-longer") {
        r = dnsDomainIs("example", ".example");
    } else if (c == "localhost-or-domain") {
        r = localHostOrDomainIs("www.corp", "www.corp.example");
    } else if (c == "domain-levels") {
        r = dnsDomainLevels("a.b.c.");
    } else if (c == "resolvable-localhost") {
        r = isResolvable("localhost");
    } else {
        r = "unknown case " + c;
    }
    return c + "=" + r;
}
