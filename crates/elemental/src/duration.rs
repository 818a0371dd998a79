//! Durations written the Go way (`-1h`, `1h30m`, `1.5s`, `300ms`), as used by `now("-1h")`
//! in filters and by `duration` parameters.

use std::fmt;

const NANOS_PER_UNIT: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// A signed duration with nanosecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct GoDuration {
    nanos: i64,
}

/// Why a duration text could not be parsed; the Display text is Go's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a duration at all, or out of range.
    #[error("time: invalid duration \"{0}\"")]
    Invalid(String),
    /// A number without unit.
    #[error("time: missing unit in duration \"{0}\"")]
    MissingUnit(String),
    /// A unit we do not know.
    #[error("time: unknown unit \"{unit}\" in duration \"{input}\"")]
    UnknownUnit {
        /// The unit as written.
        unit: String,
        /// The whole input.
        input: String,
    },
}

impl GoDuration {
    /// A duration of `nanos` nanoseconds.
    pub const fn from_nanos(nanos: i64) -> Self {
        Self { nanos }
    }

    /// The duration in nanoseconds.
    pub const fn as_nanos(&self) -> i64 {
        self.nanos
    }

    /// The same duration as a `time::Duration`.
    pub fn to_time_duration(&self) -> time::Duration {
        time::Duration::nanoseconds(self.nanos)
    }

    /// Parses Go's duration syntax: an optional sign, then one or more `<number><unit>`.
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let invalid = || DurationError::Invalid(input.to_string());
        let (negative, mut rest) = match input.as_bytes().first() {
            Some(b'-') => (true, &input[1..]),
            Some(b'+') => (false, &input[1..]),
            _ => (false, input),
        };
        if rest == "0" {
            return Ok(Self::default());
        }
        if rest.is_empty() {
            return Err(invalid());
        }
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let int_end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let (int_part, after) = rest.split_at(int_end);
            let (frac_part, after) = match after.strip_prefix('.') {
                Some(a) => {
                    let end = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                    a.split_at(end)
                }
                None => ("", after),
            };
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(invalid());
            }
            let unit_end = after
                .find(|c: char| c == '.' || c.is_ascii_digit())
                .unwrap_or(after.len());
            let (unit, after) = after.split_at(unit_end);
            if unit.is_empty() {
                return Err(DurationError::MissingUnit(input.to_string()));
            }
            let scale = NANOS_PER_UNIT
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|(_, s)| *s)
                .ok_or_else(|| DurationError::UnknownUnit {
                    unit: unit.to_string(),
                    input: input.to_string(),
                })?;
            let whole: u64 = if int_part.is_empty() {
                0
            } else {
                int_part.parse().map_err(|_| invalid())?
            };
            let mut value = whole.checked_mul(scale).ok_or_else(invalid)?;
            let frac_digits = &frac_part[..frac_part.len().min(18)];
            if !frac_digits.is_empty() {
                let numerator: u128 = frac_digits.parse().map_err(|_| invalid())?;
                let denominator = 10u128.pow(frac_digits.len() as u32);
                let frac = numerator * u128::from(scale) / denominator;
                value = value
                    .checked_add(u64::try_from(frac).map_err(|_| invalid())?)
                    .ok_or_else(invalid)?;
            }
            total = total.checked_add(value).ok_or_else(invalid)?;
            rest = after;
        }
        let nanos = i64::try_from(total).map_err(|_| invalid())?;
        Ok(Self::from_nanos(if negative { -nanos } else { nanos }))
    }
}

impl fmt::Display for GoDuration {
    /// Go's `Duration.String()`: `0s`, `1.5ms`, `1h0m0s`, `-2m30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = self.nanos.unsigned_abs();
        let sign = if self.nanos < 0 { "-" } else { "" };
        if u == 0 {
            return f.write_str("0s");
        }
        if u < 1_000_000_000 {
            let (scale, unit) = match u {
                0..1_000 => (1, "ns"),
                1_000..1_000_000 => (1_000, "\u{b5}s"),
                _ => (1_000_000, "ms"),
            };
            return write!(f, "{sign}{}{unit}", fixed_point(u, scale));
        }
        let secs = u / 1_000_000_000;
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        let seconds = fixed_point(s * 1_000_000_000 + u % 1_000_000_000, 1_000_000_000);
        if h > 0 {
            write!(f, "{sign}{h}h{m}m{seconds}s")
        } else if m > 0 {
            write!(f, "{sign}{m}m{seconds}s")
        } else {
            write!(f, "{sign}{seconds}s")
        }
    }
}

/// `value / scale` written with the fraction's trailing zeros removed.
fn fixed_point(value: u64, scale: u64) -> String {
    let whole = value / scale;
    let frac = value % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let cases = [
            ("-1h", -3_600_000_000_000),
            ("1h30m", 5_400_000_000_000),
            ("1.5s", 1_500_000_000),
            ("300ms", 300_000_000),
            ("2us", 2_000),
            ("0", 0),
            ("+10ns", 10),
            (".5m", 30_000_000_000),
        ];
        for (input, nanos) in cases {
            assert_eq!(
                GoDuration::parse(input).unwrap().as_nanos(),
                nanos,
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_bad_durations_with_go_messages() {
        assert_eq!(
            GoDuration::parse("1").unwrap_err().to_string(),
            "time: missing unit in duration \"1\""
        );
        assert_eq!(
            GoDuration::parse("1x").unwrap_err().to_string(),
            "time: unknown unit \"x\" in duration \"1x\""
        );
        assert_eq!(
            GoDuration::parse("").unwrap_err().to_string(),
            "time: invalid duration \"\""
        );
        assert!(GoDuration::parse("99999999999h").is_err());
    }

    #[test]
    fn prints_like_go() {
        let cases = [
            (0, "0s"),
            (-3_600_000_000_000, "-1h0m0s"),
            (1_500_000, "1.5ms"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (10, "10ns"),
            (1_000, "1\u{b5}s"),
        ];
        for (nanos, text) in cases {
            assert_eq!(GoDuration::from_nanos(nanos).to_string(), text);
            assert_eq!(GoDuration::parse(text).unwrap().as_nanos(), nanos);
        }
    }
}
