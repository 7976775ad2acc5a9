//! Link codecs: how fast a stream of framed PDUs, SMDR-style lines and AMI-style blocks is cut.

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookflash_csta::framing::{self, Framing};
use hookflash_link::codec::{BlockCodec, FrameCodec, Item, RecordCodec};
use tokio_util::codec::Decoder;

fn count<D: Decoder<Item = Item>>(mut d: D, wire: &[u8], chunk: usize) -> usize
where
    D::Error: std::fmt::Debug,
{
    let mut buf = BytesMut::with_capacity(4096);
    let mut n = 0;
    for c in wire.chunks(chunk) {
        buf.extend_from_slice(c);
        while let Some(i) = d.decode(&mut buf).unwrap() {
            if matches!(i, Item::Frame { .. }) {
                n += 1;
            }
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    // 1,000 PDUs of 120 bytes (a typical CSTA event size), fed in 1,460-byte segments.
    let mut pdu = vec![0xA1, 0x76];
    pdu.extend(std::iter::repeat_n(0x04, 118));
    let mut g = c.benchmark_group("link_codec");
    for f in [
        Framing::None,
        Framing::Len2,
        Framing::HiPath,
        Framing::XmlHeader,
    ] {
        let mut wire = Vec::new();
        for i in 0..1000u16 {
            framing::write_frame(f, &pdu, Some(i % 9999), &mut wire).unwrap();
        }
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.bench_function(format!("frames_{f}_1000x120B"), |b| {
            b.iter(|| assert_eq!(count(FrameCodec::new(f), black_box(&wire), 1460), 1000))
        });
    }
    let lines: Vec<u8> = (0..1000)
        .flat_map(|i| {
            format!(
                "11/23 14:{:02} 0012 201 0049301234567 00:01:{:02}\r\n",
                i % 60,
                i % 60
            )
            .into_bytes()
        })
        .collect();
    g.throughput(Throughput::Bytes(lines.len() as u64));
    g.bench_function("records_1000_lines", |b| {
        b.iter(|| {
            assert_eq!(
                count(RecordCodec::lines(512), black_box(&lines), 1460),
                1000
            )
        })
    });
    let blocks: Vec<u8> = (0..1000)
        .flat_map(|i| format!("Event: Newchannel\r\nChannel: PJSIP/201-{i:08x}\r\nChannelState: 4\r\nUniqueid: 1700000000.{i}\r\n\r\n").into_bytes())
        .collect();
    g.throughput(Throughput::Bytes(blocks.len() as u64));
    g.bench_function("blocks_1000_ami_events", |b| {
        b.iter(|| assert_eq!(count(BlockCodec::new(8192), black_box(&blocks), 1460), 1000))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
