// Time-based routing: a maintenance window and a night proxy, by weekday
// and hour, in local time and in GMT.
function FindProxyForURL(url, host) {
    var rules = [];
    if (weekdayRange("MON", "FRI")) {
        rules.push("weekday");
    }
    if (weekdayRange("SAT", "SUN")) {
        rules.push("weekend");
    }
    if (weekdayRange("SUN", "GMT")) {
        rules.push("sunday-gmt");
    }
    if (weekdayRange("WED")) {
        rules.push("wednesday");
    }
    if (timeRange(9, 17)) {
        rules.push("office-hours");
    }
    if (timeRange(22, 23)) {
        rules.push("late");
    }
    if (timeRange(2)) {
        rules.push("two-am");
    }
    if (timeRange(20, 30, 21, 0, "GMT")) {
        rules.push("gmt-evening");
    }
    if (timeRange(1, 59, 59, 2, 0, 30)) {
        rules.push("around-two");
    }
    if (timeRange(10, 15, 30, 10, 15, 30)) {
        rules.push("exact-second");
    }
    if (timeRange(4, "GMT")) {
        rules.push("four-gmt");
    }
    if (rules.length == 0) {
        return "PROXY night.example:8080";
    }
    return "PROXY " + rules.join("-") + ".example:8080";
}
