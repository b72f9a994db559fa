//! VFREEBUSY periods, read the same way for `calendar-query` time ranges and for
//! `free-busy-query` reports.

use calcard::common::timezone::Tz;
use calcard::icalendar::{
    ICalendarComponent, ICalendarParameterName, ICalendarPeriod, ICalendarProperty, ICalendarValue,
};

/// The FREEBUSY periods of a VFREEBUSY, as (start, end) in Unix seconds with their FBTYPE
/// (`FREE`, `BUSY`, `BUSY-TENTATIVE` or `BUSY-UNAVAILABLE`; BUSY when absent or unknown).
pub fn busy_periods(c: &ICalendarComponent, tz: Tz) -> Vec<(i64, i64, &'static str)> {
    let mut out = Vec::new();
    for e in c.properties(&ICalendarProperty::Freebusy) {
        let kind = e
            .params
            .iter()
            .find(|p| p.name == ICalendarParameterName::Fbtype)
            .and_then(|p| p.value.clone().into_text().map(|v| v.to_ascii_uppercase()));
        let kind = match kind.as_deref() {
            Some("FREE") => "FREE",
            Some("BUSY-TENTATIVE") => "BUSY-TENTATIVE",
            Some("BUSY-UNAVAILABLE") => "BUSY-UNAVAILABLE",
            _ => "BUSY",
        };
        for v in &e.values {
            let ICalendarValue::Period(p) = v else {
                continue;
            };
            // Periods are UTC (RFC 5545 §3.8.2.6); a floating one is read in the zone.
            let (a, b) = match p {
                ICalendarPeriod::Range { start, end } => (
                    start.to_date_time_with_tz(tz).map(|d| d.timestamp()),
                    end.to_date_time_with_tz(tz).map(|d| d.timestamp()),
                ),
                ICalendarPeriod::Duration { start, duration } => {
                    let a = start.to_date_time_with_tz(tz).map(|d| d.timestamp());
                    let d = duration.to_time_delta().map(|d| d.num_seconds());
                    (a, a.zip(d).map(|(a, d)| a.saturating_add(d)))
                }
            };
            if let (Some(a), Some(b)) = (a, b) {
                out.push((a, b, kind));
            }
        }
    }
    out
}
