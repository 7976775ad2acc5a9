//! `hookflash decode --protocol ami|smdr`: AMI messages and SMDR call records as JSON lines.

use std::io::Write as _;

use serde_json::{Map, Value, json};

use crate::{DecodeArgs, DecodeProtocol, read_input};

/// Decodes every input of `a` (an AMI capture or an SMDR feed); malformed messages and records
/// are reported on stderr with the file name, the rest still prints. `Ok(false)` when anything
/// was malformed.
pub(crate) fn decode(a: &DecodeArgs) -> Result<bool, String> {
    let format = match a.protocol {
        DecodeProtocol::Smdr => {
            let name = a
                .format
                .as_deref()
                .ok_or("--protocol smdr needs --format ipoffice|panasonic|nec|mitel")?;
            Some(
                hookflash_smdr::Format::from_name(name)
                    .ok_or_else(|| format!("unknown SMDR format {name:?}"))?,
            )
        }
        _ => None,
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
        let input = read_input(f, a.hex)?;
        let (docs, errors) = match format {
            Some(format) => smdr(&input, format),
            None => ami(&input, a.max_pdu),
        };
        for d in docs {
            writeln!(out, "{d}").map_err(|e| e.to_string())?;
        }
        for e in &errors {
            eprintln!("hookflash: {name}: {e}");
        }
        ok &= errors.is_empty();
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(ok)
}

/// AMI messages: `{"kind":"event"|"response"|…,"headers":{…}}` (a repeated header becomes a
/// list), and the errors of malformed blocks.
fn ami(input: &[u8], max: usize) -> (Vec<Value>, Vec<String>) {
    let limits = hookflash_ami::Limits {
        max_message: max,
        ..hookflash_ami::Limits::default()
    };
    let mut d = hookflash_ami::Decoder::with_limits(limits);
    d.feed(input);
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let mut push = |m: Result<hookflash_ami::Message, hookflash_ami::Error>| match m {
        Ok(m) => {
            let mut headers = Map::new();
            for (k, v) in m.headers() {
                match headers.get_mut(k) {
                    Some(Value::Array(list)) => list.push(v.into()),
                    Some(first) => *first = json!([first.clone(), v]),
                    None => {
                        headers.insert(k.to_owned(), v.into());
                    }
                }
            }
            let kind = format!("{:?}", m.kind()).to_ascii_lowercase();
            let mut doc = json!({"kind": kind, "headers": headers});
            let output = m.output();
            if !output.is_empty() {
                doc["output"] = json!(output);
            }
            docs.push(doc);
        }
        Err(e) => errors.push(e.to_string()),
    };
    while let Some(m) = d.decode() {
        push(m);
    }
    if let Some(m) = d.finish() {
        push(m);
    }
    (docs, errors)
}

/// SMDR records, one document each, and the errors of malformed records.
fn smdr(input: &[u8], format: hookflash_smdr::Format) -> (Vec<Value>, Vec<String>) {
    let mut d = hookflash_smdr::Decoder::new(format, hookflash_smdr::ParseOptions::default());
    d.push(input);
    d.finish();
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    while let Some(r) = d.next_record() {
        match r {
            Ok(rec) => match serde_json::to_value(&rec) {
                Ok(v) => docs.push(v),
                Err(e) => errors.push(e.to_string()),
            },
            Err(e) => errors.push(e.to_string()),
        }
    }
    (docs, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ami_messages_become_documents_and_garbage_is_reported() {
        let input = b"Asterisk Call Manager/5.0.2\r\n\
            Event: Newchannel\r\nChannel: PJSIP/201-00000001\r\nChannelState: 5\r\nUniqueid: 1.1\r\n\r\n\
            Response: Success\r\nActionID: 7\r\nMessage: ok\r\n\r\n";
        let (docs, errors) = ami(input, 64 * 1024);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(docs.len(), 3, "{docs:?}");
        assert_eq!(docs[1]["kind"], "event");
        assert_eq!(docs[1]["headers"]["Channel"], "PJSIP/201-00000001");
        assert_eq!(docs[2]["headers"]["ActionID"], "7");
        let mut big = b"Event: X\r\nData: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 200));
        big.extend_from_slice(b"\r\n\r\nEvent: Y\r\n\r\n");
        let (docs, errors) = ami(&big, 100);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            docs.last().map(|d| d["headers"]["Event"].clone()),
            Some("Y".into())
        );
    }

    #[test]
    fn smdr_records_become_documents_and_garbage_is_reported() {
        let input = b"2026/01/05 09:30:00,00:01:05,4,201,O,5551234,5551234,,0,1000001,0,E201,Ann,T9001,LINE 1.1,0,0\r\n\
            not a record at all\r\n";
        let (docs, errors) = smdr(input, hookflash_smdr::Format::IpOffice);
        assert_eq!(docs.len(), 1, "{docs:?}");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(docs[0]["connected_secs"], 65, "{}", docs[0]);
    }
}
