//! The SMDR/CDR record-feed driver (`smdr+serial:///dev/ttyUSB0?format=nec&baud=9600`,
//! `smdr+tcp://pbx:5010?format=ipoffice`).
//!
//! A records-only link: the PBX prints one record per finished call (or call segment), the
//! driver turns each into a [`DriverEvent::CallRecord`]. Options: `format` (`ipoffice`,
//! `panasonic`, `nec`, `mitel`; required), `utc_offset` (seconds east of UTC of the PBX's
//! clock, default 0), `year` (the year for formats that print none). IP Office segments of
//! one call (transfers) are stitched into one record; records replayed after a reconnect are
//! dropped by a bounded de-duplication window. Malformed records are counted and skipped.
//! No commands, no monitors: the capabilities say so.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use async_trait::async_trait;
use hookflash_core::{driver::DriverEvent, model::LinkId};
use hookflash_link::{
    backoff::{Backoff, BackoffConfig},
    transport,
    url::LinkUrl,
};
use hookflash_smdr::{Decoder, Deduplicator, Format, ParseOptions, Stitcher, mapping};
use tokio::io::AsyncReadExt;

use crate::{
    Error,
    spi::{Capabilities, Driver, EventSink},
};

/// Records remembered for de-duplication after a reconnect.
const DEDUP_WINDOW: usize = 4096;
/// Most IP Office calls with open segments at once.
const MAX_OPEN_CALLS: usize = 10_000;

/// The SMDR driver. See the [module docs](self).
#[derive(Debug)]
pub struct SmdrDriver {
    link: LinkId,
    url: LinkUrl,
    format: Format,
    options: ParseOptions,
    utc_offset: i32,
    idle: Option<Duration>,
    backoff: BackoffConfig,
    malformed: AtomicU64,
    records: AtomicU64,
}

/// Option `name` of the URL is missing or wrong.
fn bad_option(name: &str) -> Error {
    Error::Config(hookflash_link::url::UrlError::BadOption(name.to_owned()))
}

impl SmdrDriver {
    /// A driver for `url`.
    pub fn new(link: LinkId, url: &LinkUrl) -> Result<Self, Error> {
        let format = url
            .option("format")
            .and_then(Format::from_name)
            .ok_or_else(|| bad_option("format"))?;
        let utc_offset = match url.option("utc_offset") {
            Some(v) => v.parse::<i32>().map_err(|_| bad_option("utc_offset"))?,
            None => 0,
        };
        let mut options = ParseOptions::default();
        if let Some(y) = url.option("year") {
            options = options.with_default_year(y.parse().map_err(|_| bad_option("year"))?);
        }
        let idle = match url.option("idle_timeout") {
            Some(_) => Some(url.duration_option("idle_timeout", Duration::from_secs(0))?),
            None => None,
        };
        Ok(Self {
            link,
            url: url.clone(),
            format,
            options,
            utc_offset,
            idle,
            backoff: BackoffConfig::default(),
            malformed: AtomicU64::new(0),
            records: AtomicU64::new(0),
        })
    }

    /// Sets the reconnect backoff.
    pub fn with_backoff(mut self, backoff: BackoffConfig) -> Self {
        self.backoff = backoff;
        self
    }

    /// Records reported so far.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// Malformed records skipped so far.
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    async fn report(&self, sink: &EventSink, ev: Option<DriverEvent>) -> Result<(), Error> {
        match ev {
            Some(ev) => {
                self.records.fetch_add(1, Ordering::Relaxed);
                sink.send(ev).await
            }
            None => {
                self.malformed.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }
}

#[async_trait]
impl Driver for SmdrDriver {
    fn link(&self) -> &LinkId {
        &self.link
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            flags: Capabilities::CALL_RECORDS,
            ..Capabilities::NONE
        }
    }

    async fn run(&self, sink: EventSink) -> Result<(), Error> {
        let mut backoff = Backoff::new(self.backoff);
        let mut dedup = Deduplicator::new(DEDUP_WINDOW);
        let mut stitcher = Stitcher::new(MAX_OPEN_CALLS);
        let mut buf = vec![0u8; 8 * 1024];
        loop {
            let mut t = match transport::connect(&self.url).await {
                Ok(t) => t,
                Err(e) if !e.is_recoverable() => return Err(Error::Link(e)),
                Err(_) => {
                    tokio::time::sleep(backoff.next_delay()).await;
                    if sink.is_closed() {
                        return Ok(());
                    }
                    continue;
                }
            };
            backoff.reset();
            sink.send(DriverEvent::LinkUp {
                link: self.link.clone(),
            })
            .await?;
            let mut decoder = Decoder::new(self.format, self.options);
            loop {
                let read = match self.idle {
                    Some(d) => match tokio::time::timeout(d, t.read(&mut buf)).await {
                        Ok(r) => r,
                        Err(_) => break,
                    },
                    None => t.read(&mut buf).await,
                };
                let n = match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                decoder.push(&buf[..n]);
                while let Some(rec) = decoder.next_record() {
                    let Ok(rec) = rec else {
                        self.malformed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    if !dedup.is_new(&rec) {
                        continue;
                    }
                    if self.format == Format::IpOffice {
                        for call in stitcher.push(rec) {
                            let ev = mapping::stitched_event(&self.link, &call, self.utc_offset);
                            self.report(&sink, ev).await?;
                        }
                    } else {
                        let ev = mapping::driver_event(&self.link, &rec, self.utc_offset);
                        self.report(&sink, ev).await?;
                    }
                }
            }
            sink.send(DriverEvent::LinkDown {
                link: self.link.clone(),
            })
            .await?;
            tokio::time::sleep(backoff.next_delay()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::{io::AsyncWriteExt, net::TcpListener, sync::mpsc};

    const REC1: &[u8] = b"2026/01/05 09:30:00,00:01:05,4,201,O,5551234,5551234,,0,1000001,0,E201,Ann,T9001,LINE 1.1,0,0\r\n";
    const REC2: &[u8] = b"2026/01/05 09:35:10,00:00:00,12,5559876,I,202,202,,0,1000002,0,T9002,LINE 1.2,E202,Bob,0,0\r\n";

    async fn next(rx: &mut mpsc::Receiver<crate::spi::Reported>) -> DriverEvent {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("event in time")
            .expect("sink open")
            .event
    }

    #[tokio::test]
    async fn records_garbage_and_replay_after_reconnect() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            // First connection: a record, noise, a broken record; then the PBX drops the link.
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(REC1).await.unwrap();
            s.write_all(b"\x00\xff garbage,,,\r\n").await.unwrap();
            drop(s);
            // Second connection: the PBX replays the first record, then a new one.
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(REC1).await.unwrap();
            s.write_all(REC2).await.unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        let url: LinkUrl = format!("smdr+tcp://127.0.0.1:{port}?format=ipoffice")
            .parse()
            .unwrap();
        let driver =
            std::sync::Arc::new(SmdrDriver::new("cdr".into(), &url).unwrap().with_backoff(
                BackoffConfig {
                    initial: Duration::from_millis(10),
                    ..BackoffConfig::default()
                },
            ));
        let (sink, mut rx) = EventSink::channel(16);
        let d = driver.clone();
        let run = tokio::spawn(async move { d.run(sink).await });
        assert!(matches!(next(&mut rx).await, DriverEvent::LinkUp { .. }));
        match next(&mut rx).await {
            DriverEvent::CallRecord { record, .. } => {
                assert_eq!(record.talk_ms, 65_000);
                assert_eq!(record.called.as_deref(), Some("5551234"));
            }
            other => panic!("expected a record, got {other:?}"),
        }
        assert!(matches!(next(&mut rx).await, DriverEvent::LinkDown { .. }));
        assert!(matches!(next(&mut rx).await, DriverEvent::LinkUp { .. }));
        match next(&mut rx).await {
            DriverEvent::CallRecord { record, .. } => {
                assert_eq!(record.calling.as_deref(), Some("5559876"));
                assert!(!record.answered);
            }
            other => panic!("expected the second record (the replay is dropped), got {other:?}"),
        }
        assert_eq!(driver.records(), 2);
        assert!(driver.malformed() >= 1);
        assert!(driver.capabilities().has(Capabilities::CALL_RECORDS));
        assert!(!driver.capabilities().has(Capabilities::MAKE_CALL));
        run.abort();
    }

    #[test]
    fn the_format_option_is_required() {
        let url: LinkUrl = "smdr+tcp://127.0.0.1:5010".parse().unwrap();
        assert!(matches!(
            SmdrDriver::new("cdr".into(), &url),
            Err(Error::Config(_))
        ));
    }
}
