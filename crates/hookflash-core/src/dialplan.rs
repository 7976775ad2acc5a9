//! The dial plan: which numbers are the site's own devices, and how to write the others as E.164.

use serde::{Deserialize, Serialize};

use crate::model::{Direction, Number};

/// How the site's numbers look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct DialPlan {
    /// The country code, without `+` (e.g. `49`).
    pub country_code: String,
    /// The national trunk prefix (e.g. `0`).
    pub national_prefix: String,
    /// The international prefix (e.g. `00`).
    pub international_prefix: String,
    /// The digit(s) dialled for an outside line, stripped first (e.g. `0` or `9`); empty for none.
    pub outside_line_prefix: String,
    /// Internal extensions have this many digits at least …
    pub internal_min_len: usize,
    /// … and at most.
    pub internal_max_len: usize,
}

impl Default for DialPlan {
    fn default() -> Self {
        Self {
            country_code: "49".into(),
            national_prefix: "0".into(),
            international_prefix: "00".into(),
            outside_line_prefix: String::new(),
            internal_min_len: 2,
            internal_max_len: 6,
        }
    }
}

/// The user part of `sip:`/`tel:` URIs and the digits of a number, `+` kept.
fn bare(raw: &str) -> &str {
    let s = raw.trim();
    let s = s
        .strip_prefix("tel:")
        .or_else(|| s.strip_prefix("sip:"))
        .or_else(|| s.strip_prefix("sips:"))
        .unwrap_or(s);
    let s = s.split(['@', ';']).next().unwrap_or(s);
    s.trim()
}

impl DialPlan {
    /// Whether `raw` is one of the site's own devices.
    pub fn is_internal(&self, raw: &str) -> bool {
        let s = bare(raw);
        !s.starts_with('+')
            && (self.internal_min_len..=self.internal_max_len).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_digit())
            && (self.outside_line_prefix.is_empty()
                || !s.starts_with(&self.outside_line_prefix)
                || s.len() <= self.internal_min_len)
    }

    /// The number as received and, unless it is internal or not a number, in E.164.
    pub fn normalize(&self, raw: &str) -> Number {
        let s = bare(raw);
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        let e164 = if let Some(rest) = s.strip_prefix('+') {
            digits(rest).then(|| format!("+{rest}"))
        } else if self.is_internal(s) || !digits(s) {
            None
        } else {
            let s = if !self.outside_line_prefix.is_empty() {
                s.strip_prefix(self.outside_line_prefix.as_str())
                    .unwrap_or(s)
            } else {
                s
            };
            if !self.international_prefix.is_empty()
                && let Some(rest) = s.strip_prefix(self.international_prefix.as_str())
            {
                digits(rest).then(|| format!("+{rest}"))
            } else if !self.national_prefix.is_empty()
                && let Some(rest) = s.strip_prefix(self.national_prefix.as_str())
            {
                digits(rest).then(|| format!("+{}{rest}", self.country_code))
            } else {
                // A subscriber number without any prefix: international already, by assumption.
                Some(format!("+{s}"))
            }
        };
        Number {
            raw: raw.to_owned(),
            e164,
        }
    }

    /// Which way a call from `calling` to `called` goes.
    pub fn direction(&self, calling: Option<&str>, called: Option<&str>) -> Option<Direction> {
        match (
            calling.map(|c| self.is_internal(c)),
            called.map(|c| self.is_internal(c)),
        ) {
            (Some(false), _) => Some(Direction::Inbound),
            (Some(true), Some(true)) => Some(Direction::Internal),
            (Some(true), Some(false)) => Some(Direction::Outbound),
            (None, Some(false)) => Some(Direction::Outbound),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_the_usual_forms() {
        let p = DialPlan::default();
        assert_eq!(
            p.normalize("+4930123456").e164.as_deref(),
            Some("+4930123456")
        );
        assert_eq!(
            p.normalize("004930123456").e164.as_deref(),
            Some("+4930123456")
        );
        assert_eq!(
            p.normalize("030123456").e164.as_deref(),
            Some("+4930123456")
        );
        assert_eq!(
            p.normalize("tel:+15551230001").e164.as_deref(),
            Some("+15551230001")
        );
        assert_eq!(
            p.normalize("sip:+15551230001@pbx;user=phone")
                .e164
                .as_deref(),
            Some("+15551230001")
        );
        assert_eq!(p.normalize("1001").e164, None);
        assert_eq!(p.normalize("sip:alice@example.com").e164, None);
        assert_eq!(p.normalize("1001").raw, "1001");
        let p9 = DialPlan {
            outside_line_prefix: "9".into(),
            ..DialPlan::default()
        };
        assert_eq!(
            p9.normalize("9030123456").e164.as_deref(),
            Some("+4930123456")
        );
    }

    #[test]
    fn direction_by_dial_plan() {
        let p = DialPlan::default();
        assert_eq!(
            p.direction(Some("+4930123456"), Some("1001")),
            Some(Direction::Inbound)
        );
        assert_eq!(
            p.direction(Some("1001"), Some("2001")),
            Some(Direction::Internal)
        );
        assert_eq!(
            p.direction(Some("1001"), Some("030123456")),
            Some(Direction::Outbound)
        );
        assert_eq!(p.direction(None, None), None);
    }
}
