//! Small panic-free helpers over record text.

use crate::SmdrError;

/// Parses an all-digit ASCII field into a u32 (at most 9 digits).
pub(crate) fn num(s: &str, field: &'static str) -> Result<u32, SmdrError> {
    let s = s.trim();
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SmdrError::InvalidField { field });
    }
    s.parse().map_err(|_| SmdrError::InvalidField { field })
}

/// Parses exactly two ASCII digits.
pub(crate) fn two(s: &str, field: &'static str) -> Result<u8, SmdrError> {
    if s.len() != 2 {
        return Err(SmdrError::InvalidField { field });
    }
    num(s, field).map(|v| v as u8)
}

/// Parses `H:MM:SS`, `HH:MM:SS` or `MM:SS` into seconds.
pub(crate) fn hms(s: &str, field: &'static str) -> Result<u32, SmdrError> {
    let mut total: u32 = 0;
    let mut parts = 0;
    for p in s.trim().split([':', '\'']) {
        parts += 1;
        if parts > 3 {
            return Err(SmdrError::InvalidField { field });
        }
        let v = num(p, field)?;
        if parts > 1 && v >= 60 {
            return Err(SmdrError::InvalidField { field });
        }
        total = total
            .checked_mul(60)
            .and_then(|t| t.checked_add(v))
            .ok_or(SmdrError::InvalidField { field })?;
    }
    if parts < 2 {
        return Err(SmdrError::InvalidField { field });
    }
    Ok(total)
}

/// The substring of `s` at byte range `a..b`, or an error when out of range / not on a boundary.
pub(crate) fn col<'a>(
    s: &'a str,
    a: usize,
    b: usize,
    field: &'static str,
) -> Result<&'a str, SmdrError> {
    s.get(a..b).ok_or(SmdrError::InvalidField { field })
}

/// `None` for an empty (trimmed) string, the trimmed owned string otherwise.
pub(crate) fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

/// Decodes a record as UTF-8, rejecting invalid bytes.
pub(crate) fn utf8(b: &[u8]) -> Result<&str, SmdrError> {
    std::str::from_utf8(b).map_err(|_| SmdrError::InvalidField { field: "encoding" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hms_forms() {
        assert_eq!(hms("00:08:29", "d"), Ok(509));
        assert_eq!(hms("1:02:03", "d"), Ok(3723));
        assert_eq!(hms("00:03'25", "d"), Ok(205));
        assert_eq!(hms("0'12", "d"), Ok(12));
        assert!(hms("12", "d").is_err());
        assert!(hms("00:61:00", "d").is_err());
        assert!(hms("1:2:3:4", "d").is_err());
        assert!(hms("999999999:00:00", "d").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(num(" 42 ", "n"), Ok(42));
        assert!(num("-1", "n").is_err());
        assert!(num("", "n").is_err());
        assert!(num("1234567890", "n").is_err());
        assert_eq!(two("07", "m"), Ok(7));
        assert!(two("7", "m").is_err());
    }

    #[test]
    fn columns_never_panic() {
        assert!(col("abc", 1, 5, "x").is_err());
        assert!(col("é", 0, 1, "x").is_err());
        assert_eq!(col("abc", 1, 3, "x"), Ok("bc"));
    }
}
