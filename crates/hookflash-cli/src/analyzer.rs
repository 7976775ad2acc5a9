//! `hookflash decode` and `hookflash encode`: the offline protocol analyzer.

use std::io::Write;

use bytes::Bytes;
use hookflash_csta::framing::{self, Framing};
use hookflash_csta::pdu::{self, Pdu};
use hookflash_csta::xml::{self, Edition};

use crate::{DecodeArgs, EncodeArgs, FramingArg, Protocol, lines, read_input};

impl From<FramingArg> for Framing {
    fn from(f: FramingArg) -> Self {
        match f {
            FramingArg::None => Self::None,
            FramingArg::Len2 => Self::Len2,
            FramingArg::Hipath => Self::HiPath,
            FramingArg::XmlHeader => Self::XmlHeader,
        }
    }
}

/// The ECMA-323 edition named on the command line.
fn edition(name: &str) -> Edition {
    match name {
        "ed2" => Edition::ED2,
        "ed3" => Edition::ED3,
        "ed4" => Edition::ED4,
        "ed5" => Edition::ED5,
        "ed6" => Edition::ED6,
        uri => Edition::from_uri(uri),
    }
}

/// Cuts unframed XML input at its `<?xml` declarations (one document each).
fn split_xml_documents(input: &Bytes) -> Vec<Piece> {
    let starts: Vec<usize> = input
        .windows(5)
        .enumerate()
        .filter(|(_, w)| *w == b"<?xml")
        .map(|(i, _)| i)
        .collect();
    if starts.is_empty() {
        let trimmed = input.iter().any(|b| !b.is_ascii_whitespace());
        return if trimmed {
            vec![Piece::Pdu {
                offset: 0,
                payload: input.clone(),
                invoke_id: None,
            }]
        } else {
            Vec::new()
        };
    }
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(input.len());
        out.push(Piece::Pdu {
            offset: s,
            payload: input.slice(s..e),
            invoke_id: None,
        });
    }
    out
}

/// Decodes one message of `protocol`.
pub(crate) fn decode_one(
    protocol: Protocol,
    payload: &Bytes,
    invoke_id: Option<u16>,
    max: usize,
) -> Result<Pdu, String> {
    match protocol {
        Protocol::CstaBer => pdu::decode_with_limit(payload, max).map_err(|e| e.to_string()),
        Protocol::CstaXml => {
            if payload.len() > max {
                return Err(format!(
                    "{} bytes exceed the maximum of {max}",
                    payload.len()
                ));
            }
            xml::decode(payload, invoke_id)
                .map(|m| m.pdu)
                .map_err(|e| e.to_string())
        }
    }
}

/// Cuts an input into messages of `protocol`.
pub(crate) fn split_input(
    protocol: Protocol,
    input: &Bytes,
    framing: Framing,
    max: usize,
) -> Vec<Piece> {
    if protocol == Protocol::CstaXml && framing == Framing::None {
        return split_xml_documents(input);
    }
    split(input, framing, max)
}

/// One PDU cut out of an input, or the error that stopped a frame from being cut.
pub(crate) enum Piece {
    /// A PDU, the offset of its frame in the input, and the ECMA-323 header's invoke id.
    Pdu {
        offset: usize,
        payload: Bytes,
        invoke_id: Option<u16>,
    },
    /// A malformed frame at `offset`; the splitter resumed at the next plausible frame.
    Malformed { offset: usize, error: String },
}

/// Cuts an input into PDUs by its framing, resynchronising after garbage.
pub(crate) fn split(input: &Bytes, framing: Framing, max: usize) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < input.len() {
        let rest = &input[pos..];
        match framing::next_frame(framing, rest, max) {
            Ok(Some(frame)) => {
                let payload = input.slice(pos + frame.payload.start..pos + frame.payload.end);
                out.push(Piece::Pdu {
                    offset: pos,
                    payload,
                    invoke_id: frame.invoke_id,
                });
                pos += frame.consumed;
            }
            Ok(None) => {
                // The whole input is here, so an incomplete frame is a truncated (or bogus)
                // header: report it and look for the next frame after it.
                out.push(Piece::Malformed {
                    offset: pos,
                    error: format!("truncated frame ({} bytes left)", rest.len()),
                });
                pos += framing::resync(framing, rest).max(1);
            }
            Err(e) => {
                out.push(Piece::Malformed {
                    offset: pos,
                    error: e.to_string(),
                });
                let skip = framing::resync(framing, rest).max(1);
                pos += skip;
            }
        }
    }
    out
}

pub(crate) fn decode(a: &DecodeArgs) -> Result<bool, String> {
    let Some(protocol) = a.protocol.csta() else {
        return crate::records::decode(a);
    };
    let files: Vec<Option<&std::path::PathBuf>> = if a.files.is_empty() {
        vec![None]
    } else {
        a.files.iter().map(Some).collect()
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut ok = true;
    for f in files {
        let name = f.map_or_else(|| "-".to_owned(), |p| p.display().to_string());
        let input = Bytes::from(read_input(f, a.hex)?);
        for piece in split_input(protocol, &input, a.framing.into(), a.max_pdu) {
            match piece {
                Piece::Pdu {
                    offset,
                    payload,
                    invoke_id,
                } => match decode_one(protocol, &payload, invoke_id, a.max_pdu) {
                    Ok(p) => {
                        let doc = if a.jer { p.to_jer() } else { p.to_json() };
                        writeln!(out, "{doc}").map_err(|e| e.to_string())?;
                    }
                    Err(e) => {
                        ok = false;
                        eprintln!("hookflash: {name}: PDU at offset {offset}: {e}");
                    }
                },
                Piece::Malformed { offset, error } => {
                    ok = false;
                    eprintln!("hookflash: {name}: offset {offset}: {error}");
                }
            }
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(ok)
}

pub(crate) fn encode(a: &EncodeArgs) -> Result<bool, String> {
    let ed = edition(&a.edition);
    let input = read_input(a.file.as_ref(), false)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut ok = true;
    for (line_no, line) in lines(&input) {
        let parsed: Result<Pdu, String> = serde_json::from_str::<serde_json::Value>(&line)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                if a.jer {
                    Pdu::from_jer(&v)
                } else {
                    Pdu::from_json(&v)
                }
                .map_err(|e| e.to_string())
            });
        match parsed {
            Ok(p) => {
                let (body, invoke_id) = match a.protocol {
                    Protocol::CstaBer => (pdu::encode_to_vec(&p), None),
                    Protocol::CstaXml => {
                        let mut body = Vec::new();
                        match xml::encode(&p, &ed, &mut body) {
                            Ok(id) => (body, Some(id)),
                            Err(e) => {
                                ok = false;
                                eprintln!("hookflash: line {line_no}: {e}");
                                continue;
                            }
                        }
                    }
                };
                let mut framed = Vec::with_capacity(body.len() + 8);
                if a.protocol == Protocol::CstaXml && a.framing == FramingArg::None {
                    framed.extend_from_slice(&body);
                    framed.push(b'\n');
                } else if let Err(e) =
                    framing::write_frame(a.framing.into(), &body, invoke_id, &mut framed)
                {
                    ok = false;
                    eprintln!("hookflash: line {line_no}: {e}");
                    continue;
                }
                if a.hex {
                    writeln!(out, "{}", hex::encode(&framed)).map_err(|e| e.to_string())?;
                } else {
                    out.write_all(&framed).map_err(|e| e.to_string())?;
                }
            }
            Err(e) => {
                ok = false;
                eprintln!("hookflash: line {line_no}: {e}");
            }
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(ok)
}
