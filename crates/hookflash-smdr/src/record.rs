use serde::Serialize;

/// The record formats this crate parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Format {
    /// Avaya IP Office SMDR CSV.
    IpOffice,
    /// Panasonic KX-TD/TDA/TDE/NS fixed-width SMDR.
    Panasonic,
    /// NEC NEAX / SV8100 / SV9100 `STX`…`ETX` records.
    Nec,
    /// Mitel MiVoice Business / 3300 classic fixed-width SMDR.
    Mitel,
}

impl Format {
    /// Every format, in a stable order.
    pub const ALL: [Self; 4] = [Self::IpOffice, Self::Panasonic, Self::Nec, Self::Mitel];

    /// The short name used on command lines (`ipoffice`, `panasonic`, `nec`, `mitel`).
    pub fn name(self) -> &'static str {
        match self {
            Self::IpOffice => "ipoffice",
            Self::Panasonic => "panasonic",
            Self::Nec => "nec",
            Self::Mitel => "mitel",
        }
    }

    /// Looks a format up by its short name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// How this format's records are delimited on the wire.
    pub fn framing(self) -> crate::Framing {
        match self {
            Self::Nec => crate::Framing::StxEtx,
            _ => crate::Framing::Lines,
        }
    }

    /// Parses one record (without its delimiter) in this format.
    pub fn parse(self, record: &[u8], opts: &ParseOptions) -> Result<CallRecord, crate::SmdrError> {
        match self {
            Self::IpOffice => crate::ipoffice::parse(record),
            Self::Panasonic => crate::panasonic::parse(record, opts),
            Self::Nec => crate::nec::parse(record, opts),
            Self::Mitel => crate::mitel::parse(record, opts),
        }
    }
}

/// Options for formats that leave parts of the date out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseOptions {
    /// Two-digit years below the pivot are 20yy, others 19yy (default 70).
    pub year_pivot: u8,
    /// The year used for formats that print no year at all (Mitel `MM/DD`, NEC normal formats).
    pub default_year: u16,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            year_pivot: 70,
            default_year: 2000,
        }
    }
}

impl ParseOptions {
    /// Options with the given pivot for two-digit years.
    pub fn with_year_pivot(mut self, pivot: u8) -> Self {
        self.year_pivot = pivot;
        self
    }

    /// Options with the year used when a record prints none.
    pub fn with_default_year(mut self, year: u16) -> Self {
        self.default_year = year;
        self
    }

    /// Expands a two-digit year with the pivot.
    pub fn expand_year(&self, yy: u8) -> u16 {
        if yy < self.year_pivot {
            2000 + u16::from(yy)
        } else {
            1900 + u16::from(yy)
        }
    }
}

/// A calendar date and wall-clock time as printed by the PBX (no time zone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DateTime {
    /// Four-digit year.
    pub year: u16,
    /// Month 1–12.
    pub month: u8,
    /// Day 1–31.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–59.
    pub second: u8,
}

impl DateTime {
    /// Builds a validated date-time; `None` when a component is out of range.
    pub fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<Self> {
        let ok = (1..=12).contains(&month)
            && (1..=31).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60;
        ok.then_some(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }
}

impl std::fmt::Display for DateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Direction of a call as the record states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Direction {
    /// From the outside world to the PBX.
    Incoming,
    /// From the PBX to the outside world.
    Outgoing,
    /// Station to station.
    Internal,
    /// Not stated by the record.
    #[default]
    Unknown,
}

/// How a call (segment) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Outcome {
    /// The call was answered.
    Answered,
    /// The call was not answered (abandoned or rang out).
    Unanswered,
    /// The called party was busy.
    Busy,
    /// The call was transferred onwards.
    Transferred,
    /// Forwarded or diverted.
    Forwarded,
    /// The record does not say.
    #[default]
    Unknown,
}

/// One call (or one segment of a call) as reported by a PBX, in a format-independent shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CallRecord {
    /// The format the record was parsed from.
    pub format: Format,
    /// When the call started, if the record says.
    pub start: Option<DateTime>,
    /// Seconds connected (talk time).
    pub connected_secs: u32,
    /// Seconds ringing before answer.
    pub ring_secs: u32,
    /// Seconds on hold.
    pub hold_secs: u32,
    /// Seconds parked.
    pub park_secs: u32,
    /// The calling number or station.
    pub caller: String,
    /// The called number or station.
    pub called: String,
    /// The digits dialled.
    pub dialled: String,
    /// Direction of the call.
    pub direction: Direction,
    /// Account code entered, if any.
    pub account: Option<String>,
    /// The local extension / agent involved.
    pub extension: Option<String>,
    /// Trunk, CO line or route used.
    pub trunk: Option<String>,
    /// The PBX's call identifier (IP Office `Call ID`).
    pub call_id: Option<String>,
    /// Segment number within the call (0 for the first).
    pub segment: u32,
    /// True when more segments of the same call follow.
    pub continuation: bool,
    /// The call was transferred.
    pub transferred: bool,
    /// The call was answered.
    pub answered: bool,
    /// How the call or segment ended.
    pub outcome: Outcome,
    /// Format-specific record type (NEC `KA`, Mitel completion code, Panasonic `CD`), if any.
    pub record_type: Option<String>,
    /// The raw record text (lossy UTF-8, delimiters removed).
    pub raw: String,
}

impl CallRecord {
    /// An empty record of the given format with the raw text set.
    pub fn new(format: Format, raw: &[u8]) -> Self {
        Self {
            format,
            start: None,
            connected_secs: 0,
            ring_secs: 0,
            hold_secs: 0,
            park_secs: 0,
            caller: String::new(),
            called: String::new(),
            dialled: String::new(),
            direction: Direction::Unknown,
            account: None,
            extension: None,
            trunk: None,
            call_id: None,
            segment: 0,
            continuation: false,
            transferred: false,
            answered: false,
            outcome: Outcome::Unknown,
            record_type: None,
            raw: String::from_utf8_lossy(raw).into_owned(),
        }
    }

    /// Total seconds: connected + ring + hold + park (saturating).
    pub fn total_secs(&self) -> u32 {
        self.connected_secs
            .saturating_add(self.ring_secs)
            .saturating_add(self.hold_secs)
            .saturating_add(self.park_secs)
    }
}
