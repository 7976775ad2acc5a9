//! Personal data in logs: numbers and names are masked unless configured otherwise.

/// Masks personal data in log lines.
#[derive(Debug, Clone, Copy)]
pub struct Redactor {
    /// Whether to mask.
    pub enabled: bool,
}

impl Redactor {
    /// A number: all but the last two digits masked (`+4989123456` → `+*********56`).
    pub fn number(self, s: &str) -> String {
        if !self.enabled {
            return s.to_string();
        }
        let digits = s.chars().filter(char::is_ascii_digit).count();
        let mut seen = 0;
        s.chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    seen += 1;
                    if seen + 2 > digits { c } else { '*' }
                } else if c.is_alphanumeric() {
                    '*'
                } else {
                    c
                }
            })
            .collect()
    }

    /// A name: only its first character kept.
    pub fn name(self, s: &str) -> String {
        if !self.enabled {
            return s.to_string();
        }
        match s.chars().next() {
            Some(c) => format!("{c}***"),
            None => String::new(),
        }
    }

    /// Free text: every run of four or more digits masked as a number.
    pub fn text(self, s: &str) -> String {
        if !self.enabled {
            return s.to_string();
        }
        let mut out = String::with_capacity(s.len());
        let mut run = String::new();
        let flush = |run: &mut String, out: &mut String| {
            if run.len() >= 4 {
                out.push_str(&self.number(run));
            } else {
                out.push_str(run);
            }
            run.clear();
        };
        for c in s.chars() {
            if c.is_ascii_digit() {
                run.push(c);
            } else {
                flush(&mut run, &mut out);
                out.push(c);
            }
        }
        flush(&mut run, &mut out);
        out
    }
}

/// Writes one log line to standard error.
pub fn log(line: &str) {
    eprintln!("hookflash-bridge: {line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_names_and_text_are_masked() {
        let r = Redactor { enabled: true };
        assert_eq!(r.number("+4989123456"), "+********56");
        assert_eq!(r.name("Example GmbH"), "E***");
        assert_eq!(
            r.text("call from 4989123456 at 300000 seq 12"),
            "call from ********56 at ****00 seq 12"
        );
        let off = Redactor { enabled: false };
        assert_eq!(off.text("4989123456"), "4989123456");
    }
}
