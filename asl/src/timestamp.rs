//! ASL timestamps: parsing the RFC 3339 profile that the States Language requires, and rendering
//! instants the way Step Functions writes them in the context object and in execution history.
//!
//! Accepted input is `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`:
//! - the date/time separator is an uppercase `T` and the UTC designator an uppercase `Z`;
//! - seconds are mandatory, the fraction has 1 to 9 digits (nanosecond precision);
//! - dates and times are checked strictly (no February 30th, no hour 24, no leap second 60);
//! - offsets are limited to ±18:00, the range Java's `ZoneOffset` (and hence AWS's runtime) accepts.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Parses an ASL timestamp such as `2016-03-14T01:59:00Z` or `2016-03-05T21:29:29.243167252+01:00`.
///
/// Returns `None` for anything outside the profile described in the module documentation.
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    // The shortest valid form, `YYYY-MM-DDTHH:MM:SSZ`, is 20 bytes long.
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;

    let mut rest = &b[19..];
    let mut nanos = 0u32;
    if let Some(after_dot) = rest.strip_prefix(b".") {
        let n = after_dot.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        nanos = digits(&after_dot[..n])? * 10u32.pow(9 - n as u32);
        rest = &after_dot[n..];
    }

    let offset = match rest {
        b"Z" => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let oh = digits(&[*h1, *h2])?;
            let om = digits(&[*m1, *m2])?;
            if om > 59 || oh > 18 || (oh == 18 && om != 0) {
                return None;
            }
            let (oh, om) = (oh as i8, om as i8);
            if *sign == b'-' {
                UtcOffset::from_hms(-oh, -om, 0).ok()?
            } else {
                UtcOffset::from_hms(oh, om, 0).ok()?
            }
        }
        _ => return None,
    };

    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let time =
        Time::from_hms_nano(u8::try_from(hour).ok()?, u8::try_from(minute).ok()?, u8::try_from(second).ok()?, nanos)
            .ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// Whether `s` is a valid ASL timestamp (see [`parse`]).
pub fn is_valid(s: &str) -> bool {
    parse(s).is_some()
}

/// Formats an instant as Step Functions does: ISO-8601 in UTC with a `Z` suffix.
///
/// The fraction follows Java's `Instant.toString`, which the service's output matches: it is omitted
/// when it is zero (`2024-01-01T00:00:00Z`), otherwise written with 3, 6 or 9 digits, the fewest that
/// hold it exactly (`…:00.123Z`, `…:00.123456Z`, `…:00.123456789Z`). The service's own clock
/// (`$$.Execution.StartTime`, `$$.State.EnteredTime`, history events) ticks in milliseconds, so pass
/// an instant already truncated with [`truncate_to_millis`] to get the service's three digits.
pub fn format(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    let year = t.year();
    let mut out = String::with_capacity(30);
    if year > 9999 {
        out.push('+');
        out.push_str(&year.to_string());
    } else if year < 0 {
        out.push_str(&format!("-{:04}", year.unsigned_abs()));
    } else {
        out.push_str(&format!("{year:04}"));
    }
    out.push_str(&format!(
        "-{:02}-{:02}T{:02}:{:02}:{:02}",
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ));
    let nanos = t.nanosecond();
    if nanos != 0 {
        // Nine digits, then drop whole groups of three trailing zeros (never all of them).
        let mut fraction = format!("{nanos:09}");
        while fraction.ends_with("000") {
            fraction.truncate(fraction.len() - 3);
        }
        out.push('.');
        out.push_str(&fraction);
    }
    out.push('Z');
    out
}

/// Drops everything below the millisecond, the precision of the service's clock.
pub fn truncate_to_millis(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000_000).unwrap_or(t)
}

/// The value of a run of ASCII digits (at most 9, so it fits in a `u32`).
fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn accepts_the_rfc3339_profile() {
        assert_eq!(parse("2016-03-14T01:59:00Z"), Some(datetime!(2016-03-14 01:59:00 UTC)));
        assert_eq!(parse("2012-10-09T19:00:55+01:00"), Some(datetime!(2012-10-09 18:00:55 UTC)));
        assert_eq!(parse("2012-10-09T19:00:55-00:30"), Some(datetime!(2012-10-09 19:30:55 UTC)));
        assert_eq!(parse("2016-03-05T21:29:29.243167252Z"), Some(datetime!(2016-03-05 21:29:29.243167252 UTC)));
        assert_eq!(parse("2025-01-15T10:30:01.5Z"), Some(datetime!(2025-01-15 10:30:01.5 UTC)));
        assert_eq!(parse("2016-02-29T00:00:00Z"), Some(datetime!(2016-02-29 00:00:00 UTC)));
        assert_eq!(parse("0000-01-01T00:00:00+18:00"), Some(datetime!(0000-01-01 00:00:00 +18:00)));
    }

    #[test]
    fn rejects_what_aws_rejects() {
        // The timestamps AWS refused at create time and at run time in the recorded cases.
        for bad in [
            "2016-13-05T21:29:29Z",
            "05-12-2016T21:29:29Z",
            "2016-12-05T25:29:29Z",
            "2016-12-05 21:29:29Z",
            "2016-12-05T21:29:29",
            "{% '2016-03-14T01:59:00Z' %}",
            "2012-10-09T19:00:55",
            "2023-02-24",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn rejects_outside_the_profile() {
        for bad in [
            "",
            "2016-03-14t01:59:00Z",
            "2016-03-14T01:59:00z",
            "2016-03-14T01:59Z",
            "2016-03-14T01:59:60Z",
            "2016-03-14T24:00:00Z",
            "2015-02-29T00:00:00Z",
            "2016-04-31T00:00:00Z",
            "2016-00-10T00:00:00Z",
            "2016-03-14T01:59:00.Z",
            "2016-03-14T01:59:00.1234567891Z",
            "2016-03-14T01:59:00+0100",
            "2016-03-14T01:59:00+01",
            "2016-03-14T01:59:00+19:00",
            "2016-03-14T01:59:00+01:60",
            "2016-03-14T01:59:00Z ",
            " 2016-03-14T01:59:00Z",
            "+016-03-14T01:59:00Z",
            "2016-03-14T01:59:00ZZ",
            "2016-03-14T01:59:0٣Z",
            "2016-03-14T01:59:00.١Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_like_instant_to_string() {
        assert_eq!(format(datetime!(2024-01-01 00:00:00 UTC)), "2024-01-01T00:00:00Z");
        assert_eq!(format(datetime!(2024-01-01 00:00:00.123 UTC)), "2024-01-01T00:00:00.123Z");
        assert_eq!(format(datetime!(2024-01-01 00:00:00.1 UTC)), "2024-01-01T00:00:00.100Z");
        assert_eq!(format(datetime!(2024-01-01 00:00:00.123456 UTC)), "2024-01-01T00:00:00.123456Z");
        assert_eq!(format(datetime!(2024-01-01 00:00:00.000000001 UTC)), "2024-01-01T00:00:00.000000001Z");
        assert_eq!(format(datetime!(2024-01-01 01:30:00 +01:30)), "2024-01-01T00:00:00Z");
        assert_eq!(format(datetime!(0000-01-01 00:00:00 +01:00)), "-0001-12-31T23:00:00Z");
    }

    #[test]
    fn truncates_to_millis() {
        let t = datetime!(2024-01-01 00:00:00.123456789 UTC);
        assert_eq!(format(truncate_to_millis(t)), "2024-01-01T00:00:00.123Z");
    }

    #[test]
    fn round_trips() {
        for s in ["2016-03-14T01:59:00Z", "2016-03-05T21:29:29.243167252Z", "1999-12-31T23:59:59.999Z"] {
            assert_eq!(format(parse(s).unwrap()), s);
        }
    }
}
