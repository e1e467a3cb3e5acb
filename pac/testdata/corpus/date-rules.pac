// Date-based routing: a proxy migration that happens on given dates, and
// yearly freeze periods.
function FindProxyForURL(url, host) {
    var tags = [];
    if (dateRange("MAR")) { tags.push("march"); }
    if (dateRange("FEB", "GMT")) { tags.push("feb-gmt"); }
    if (dateRange(1)) { tags.push("first"); }
    if (dateRange(1, 15)) { tags.push("first-half"); }
    if (dateRange(2026)) { tags.push("y2026"); }
    if (dateRange(2025, 2027)) { tags.push("y2025-2027"); }
    if (dateRange("JAN", "MAR")) { tags.push("q1"); }
    if (dateRange(1, "JUN", 15, "AUG")) { tags.push("summer"); }
    if (dateRange(1, "FEB", 10, "MAR")) { tags.push("migration"); }
    if (dateRange("OCT", 2025, "MAR", 2026)) { tags.push("season"); }
    if (dateRange(1, "JAN", 2026, 4, "MAR", 2026)) { tags.push("cutover"); }
    if (dateRange(28, "FEB", 2026, 28, "FEB", 2026, "GMT")) { tags.push("leap-eve-gmt"); }
    if (dateRange(31, "DEC", 2025, 1, "JAN", 2026)) { tags.push("new-year"); }
    if (tags.length == 0) {
        return "DIRECT";
    }
    return "PROXY " + tags.join("-") + ".example:8080";
}
