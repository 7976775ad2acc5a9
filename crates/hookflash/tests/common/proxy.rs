//! A fault-injecting TCP proxy between a driver and the simulated PBX. It forwards bytes both
//! ways and, on the test's word, cuts every connection, stalls the PBX's side, or slips bad
//! frames (garbage payloads, truncated PDUs, broken headers) between the PBX's valid frames.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hookflash_csta::framing::{self, Framing};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy slipped in so far, by kind.
#[derive(Debug, Default)]
pub struct Injected {
    /// Frames with a well-formed header around bytes that are no PDU.
    pub garbage: AtomicU64,
    /// Frames whose header is honest about a PDU cut short.
    pub truncated: AtomicU64,
    /// Headers no frame can start with (the reader must resynchronise).
    pub bad_header: AtomicU64,
}

impl Injected {
    /// All bad items injected.
    pub fn total(&self) -> u64 {
        self.garbage.load(Ordering::Relaxed)
            + self.truncated.load(Ordering::Relaxed)
            + self.bad_header.load(Ordering::Relaxed)
    }
}

struct State {
    framing: Framing,
    /// Inject one bad item after every this many PBX frames (0: never).
    every: AtomicU64,
    /// The PBX's bytes are held back (the link goes silent) while set.
    stalled: AtomicBool,
    injected: Injected,
    accepted: AtomicU64,
    cut: watch::Sender<u64>,
}

/// The running proxy; dropping it stops accepting.
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.state.cut.send_modify(|g| *g += 1);
    }
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`; frames
    /// from the PBX are read with `framing` so injections land between whole frames.
    pub async fn start(upstream: SocketAddr, framing: Framing) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (cut, _) = watch::channel(0u64);
        let state = Arc::new(State {
            framing,
            every: AtomicU64::new(0),
            stalled: AtomicBool::new(false),
            injected: Injected::default(),
            accepted: AtomicU64::new(0),
            cut,
        });
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                st.accepted.fetch_add(1, Ordering::Relaxed);
                let st = Arc::clone(&st);
                tokio::spawn(async move {
                    let Ok(pbx) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = pbx.set_nodelay(true);
                    connection(st, client, pbx).await;
                });
            }
        });
        Self { addr, state, task }
    }

    /// Where drivers connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Fault: every open connection is cut now (new ones are served).
    pub fn cut(&self) {
        self.state.cut.send_modify(|g| *g += 1);
    }

    /// Fault: one bad item after every `n` frames from the PBX (0 stops it).
    pub fn inject_every(&self, n: u64) {
        self.state.every.store(n, Ordering::Relaxed);
    }

    /// Fault: the PBX's bytes stop reaching the driver (held, not lost) until `false`.
    pub fn stall(&self, on: bool) {
        self.state.stalled.store(on, Ordering::Relaxed);
    }

    /// What was injected so far.
    pub fn injected(&self) -> &Injected {
        &self.state.injected
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.state.accepted.load(Ordering::Relaxed)
    }
}

async fn connection(st: Arc<State>, client: TcpStream, pbx: TcpStream) {
    let mut cut = st.cut.subscribe();
    let (mut c_rd, mut c_wr) = client.into_split();
    let (mut p_rd, mut p_wr) = pbx.into_split();
    let up = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match c_rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if p_wr.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    let down = async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        let mut frames = 0u64;
        let mut kind = 0u64;
        loop {
            match p_rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
            while st.stalled.load(Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            let mut out = Vec::with_capacity(pending.len() + 64);
            let mut start = 0;
            while let Ok(Some(f)) = framing::next_frame(st.framing, &pending[start..], 1 << 16) {
                let frame = &pending[start..start + f.consumed];
                let payload = &pending[start + f.payload.start..start + f.payload.end];
                let every = st.every.load(Ordering::Relaxed);
                frames += 1;
                if every > 0 && frames.is_multiple_of(every) {
                    bad_item(&st, kind, payload, &mut out);
                    kind += 1;
                }
                out.extend_from_slice(frame);
                start += f.consumed;
            }
            pending.drain(..start);
            if !out.is_empty() && c_wr.write_all(&out).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        _ = down => {}
        _ = cut.changed() => {}
    }
}

/// One bad item for the stream, in turn: a garbage frame, a truncated copy of `sample`, a
/// broken header.
fn bad_item(st: &State, kind: u64, sample: &[u8], out: &mut Vec<u8>) {
    match kind % 3 {
        0 => {
            let garbage: &[u8] = if st.framing == Framing::XmlHeader {
                b"<?xml version=\"1.0\"?><Garbage><unclosed"
            } else {
                b"\xff\xfe garbage that is no PDU \x00\x01\x02"
            };
            framing::write_frame(st.framing, garbage, Some(0), out).expect("frame");
            st.injected.garbage.fetch_add(1, Ordering::Relaxed);
        }
        1 => {
            let cut = &sample[..(sample.len() / 2).max(1)];
            framing::write_frame(st.framing, cut, Some(0), out).expect("frame");
            st.injected.truncated.fetch_add(1, Ordering::Relaxed);
        }
        _ => {
            // A header no frame starts with: a zero length (length-prefixed framings) or a
            // first byte that is not zero (the ECMA-323 header).
            match st.framing {
                Framing::XmlHeader => out.extend_from_slice(b"GARBAGE!"),
                Framing::HiPath => out.extend_from_slice(&[0x27, 0x00]),
                _ => out.extend_from_slice(&[0x00, 0x00]),
            }
            st.injected.bad_header.fetch_add(1, Ordering::Relaxed);
        }
    }
}
