//! `hookflash tap LINK [--monitor DEVICES]`: connects to a PBX link and prints the normalized
//! events (`hookflash_core::event::Event`) as JSON lines, live.
//!
//! The link runs inside a [`hookflash::Cti`] like in any CRM: the driver for the URL's protocol
//! connects, logs in, reconnects with backoff, and the core turns the link's events into the
//! normalized picture. Monitor results (a device the PBX refuses, a monitor limit) go to
//! standard error; events go to standard output, one JSON document per line.

use std::io::Write;
use std::time::Duration;

use clap::Args;
use hookflash::{Cti, Filter, RecvError};
use hookflash_core::model::LinkState;

/// Arguments of `hookflash tap`.
#[derive(Debug, Args)]
pub(crate) struct TapArgs {
    /// The link URL: `csta-ber+tcp://user:secret@pbx:7001?framing=len2`,
    /// `csta-xml+tls://pbx:4722?ca=ca.pem`, `csta-ber+serial:///dev/ttyS0?baud=19200`,
    /// `ami+tcp://user:secret@pbx:5038`, `smdr+serial:///dev/ttyUSB0?format=nec`.
    link: String,
    /// Devices to monitor, comma separated; `1000-1099` is a range.
    #[arg(long, value_delimiter = ',')]
    monitor: Vec<String>,
    /// The link's name in the events.
    #[arg(long, default_value = "pbx")]
    name: String,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    duration: Option<f64>,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<u64>,
}

/// Expands `1000-1003` (also with a technology prefix: `PJSIP/201-205`) into its devices;
/// anything else is one device.
fn devices(specs: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for s in specs.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let (prefix, s) = match s.rfind('/') {
            Some(i) => s.split_at(i + 1),
            None => ("", s),
        };
        match s.split_once('-') {
            Some((a, b))
                if !a.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit()) =>
            {
                let (lo, hi) = (
                    a.parse::<u64>().map_err(|e| format!("{s}: {e}"))?,
                    b.parse::<u64>().map_err(|e| format!("{s}: {e}"))?,
                );
                if hi < lo || hi - lo >= 100_000 {
                    return Err(format!("{s}: a range of 1 to 100000 devices"));
                }
                out.extend((lo..=hi).map(|n| format!("{prefix}{n:0width$}", width = a.len())));
            }
            _ => out.push(format!("{prefix}{s}")),
        }
    }
    Ok(out)
}

/// Runs the tap; `Ok(true)` when it ended normally.
pub(crate) fn tap(a: &TapArgs) -> Result<bool, String> {
    let devices = devices(&a.monitor)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async {
        let cti = std::sync::Arc::new(
            Cti::builder()
                .link(a.name.as_str(), &a.link)
                .map_err(|e| format!("{}: {e}", a.link))?
                .build()
                .map_err(|e| e.to_string())?,
        );
        let mut sub = cti.subscribe(Filter::all());
        if !devices.is_empty() {
            let cti = std::sync::Arc::clone(&cti);
            let name = a.name.clone();
            tokio::spawn(async move {
                // Monitors are kept across reconnects; ask once the link is there.
                while cti.link_state(&name) == LinkState::Down {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                let results = cti.monitor_on(&name, &devices).await;
                let mut err = std::io::stderr().lock();
                for (d, r) in devices.iter().zip(results) {
                    if let Err(e) = r {
                        let _ = writeln!(err, "hookflash tap: monitor {d}: {e}");
                    }
                }
            });
        }
        let stop = async {
            match a.duration {
                Some(s) if s.is_finite() && s >= 0.0 => {
                    tokio::time::sleep(Duration::from_secs_f64(s.min(1e9))).await;
                }
                _ => std::future::pending().await,
            }
        };
        tokio::pin!(stop);
        let mut printed = 0u64;
        let mut out = std::io::stdout().lock();
        loop {
            if a.count.is_some_and(|c| printed >= c) {
                return Ok(true);
            }
            tokio::select! {
                ev = sub.recv() => match ev {
                    Ok(ev) => {
                        let line = serde_json::to_string(&ev).map_err(|e| e.to_string())?;
                        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                            return Ok(true); // the reader went away
                        }
                        printed += 1;
                    }
                    Err(RecvError::Lagged { missed }) => {
                        let _ = writeln!(std::io::stderr(), "hookflash tap: {missed} events missed");
                    }
                    Err(_) => return Ok(false),
                },
                () = &mut stop => return Ok(true),
                _ = tokio::signal::ctrl_c() => return Ok(true),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ranges_expand() {
        let d = devices(&[
            "1000-1002".into(),
            "200".into(),
            " ".into(),
            "0098-0100".into(),
        ])
        .unwrap();
        assert_eq!(d, ["1000", "1001", "1002", "200", "0098", "0099", "0100"]);
        assert!(devices(&["5-1".into()]).is_err());
        assert!(devices(&["1-999999".into()]).is_err());
        // Not a numeric range: one device.
        assert_eq!(devices(&["sip-100".into()]).unwrap(), ["sip-100"]);
        // AMI devices: the technology stays in front of every number.
        assert_eq!(
            devices(&["PJSIP/201-202".into(), "SIP/x-1".into()]).unwrap(),
            ["PJSIP/201", "PJSIP/202", "SIP/x-1"]
        );
    }
}
