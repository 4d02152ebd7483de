//! The snapshot file: the three /proc texts and a range of kpageflags in
//! one gzip stream. Without the `gzip` feature (the web app, where the
//! browser decompresses) only the uncompressed container is read.
//!
//! ```text
//! pfnscope-snapshot 1\n
//! buddyinfo <bytes>\n<text>\n
//! pagetypeinfo <bytes>\n<text>\n
//! zoneinfo <bytes>\n<text>\n
//! kpageflags <first pfn> <count>\n<count little-endian u64s>
//! ```
//! Any section may be missing except buddyinfo; with no kpageflags the
//! layout is synthesized.

use std::io::Read;

use crate::error::{ImportError, Place, Result};

const MAGIC: &str = "pfnscope-snapshot 1";

/// A machine's memory as read from /proc.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub buddyinfo: String,
    pub pagetypeinfo: Option<String>,
    pub zoneinfo: Option<String>,
    /// First PFN and one flags word per PFN from there.
    pub kpageflags: Option<(u64, Vec<u64>)>,
}

impl Snapshot {
    /// Whether `bytes` are an uncompressed snapshot container.
    pub fn is_raw(bytes: &[u8]) -> bool {
        bytes.starts_with(MAGIC.as_bytes())
    }

    /// Whether `bytes` are gzip-compressed (a snapshot file as written).
    pub fn is_gzip(bytes: &[u8]) -> bool {
        bytes.starts_with(&[0x1f, 0x8b])
    }

    /// The uncompressed container.
    pub fn to_raw(&self) -> Vec<u8> {
        let mut out = format!("{MAGIC}\n").into_bytes();
        let mut text = |name: &str, t: &str| {
            out.extend(format!("{name} {}\n", t.len()).bytes());
            out.extend(t.bytes());
            out.push(b'\n');
        };
        text("buddyinfo", &self.buddyinfo);
        if let Some(t) = &self.pagetypeinfo {
            text("pagetypeinfo", t);
        }
        if let Some(t) = &self.zoneinfo {
            text("zoneinfo", t);
        }
        if let Some((first, flags)) = &self.kpageflags {
            out.extend(format!("kpageflags {first} {}\n", flags.len()).bytes());
            for f in flags {
                out.extend(f.to_le_bytes());
            }
        }
        out
    }

    /// The gzip-compressed file.
    #[cfg(feature = "gzip")]
    pub fn to_bytes(&self) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&self.to_raw()).expect("writing to a Vec");
        enc.finish().expect("finishing a Vec")
    }

    /// Reads a snapshot file; `name` is used in error messages.
    #[cfg(feature = "gzip")]
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Snapshot> {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut raw)
            .map_err(|e| ImportError::new(name, Place::File, format!("not a gzip-compressed pfnscope snapshot ({e})")))?;
        Snapshot::from_raw(name, &raw)
    }

    /// Reads an uncompressed container (a snapshot file after gzip).
    pub fn from_raw(name: &str, raw: &[u8]) -> Result<Snapshot> {
        let mut pos = 0usize;
        let err = |at: usize, m: String| ImportError::new(name, Place::Byte(at as u64), m);
        let header = |pos: &mut usize| -> Result<Option<(String, Vec<u64>)>> {
            if *pos >= raw.len() {
                return Ok(None);
            }
            let end = raw[*pos..].iter().position(|&b| b == b'\n').ok_or_else(|| err(*pos, "a section header without a newline (truncated?)".into()))? + *pos;
            let line = std::str::from_utf8(&raw[*pos..end]).map_err(|_| err(*pos, "a section header that is not text".into()))?;
            let mut words = line.split(' ');
            let title = words.next().unwrap_or("").to_string();
            let nums: std::result::Result<Vec<u64>, _> = words.map(str::parse::<u64>).collect();
            let nums = nums.map_err(|_| err(*pos, format!("bad section header {line:?}")))?;
            *pos = end + 1;
            Ok(Some((title, nums)))
        };
        match header(&mut pos)? {
            Some((m, _)) if format!("{m} 1") == MAGIC => {}
            _ => return Err(err(0, format!("expected the header {MAGIC:?}"))),
        }
        let mut s = Snapshot::default();
        let mut have_buddy = false;
        while let Some((title, nums)) = header(&mut pos)? {
            let at = pos;
            match (title.as_str(), nums.as_slice()) {
                ("buddyinfo" | "pagetypeinfo" | "zoneinfo", [len]) => {
                    let end = pos.checked_add(*len as usize).filter(|&e| e < raw.len()).ok_or_else(|| err(at, format!("{title}: {len} bytes announced, the file is truncated")))?;
                    let text = std::str::from_utf8(&raw[pos..end]).map_err(|_| err(at, format!("{title} is not UTF-8 text")))?.to_string();
                    pos = end + 1;
                    match title.as_str() {
                        "buddyinfo" => {
                            s.buddyinfo = text;
                            have_buddy = true;
                        }
                        "pagetypeinfo" => s.pagetypeinfo = Some(text),
                        _ => s.zoneinfo = Some(text),
                    }
                }
                ("kpageflags", [first, count]) => {
                    let bytes = (*count as usize).checked_mul(8).ok_or_else(|| err(at, "kpageflags count overflows".into()))?;
                    let end = pos.checked_add(bytes).filter(|&e| e <= raw.len()).ok_or_else(|| {
                        err(at, format!("kpageflags: {count} PFNs ({bytes} bytes) announced, only {} bytes follow", raw.len().saturating_sub(pos)))
                    })?;
                    let flags = raw[pos..end].chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
                    s.kpageflags = Some((*first, flags));
                    pos = end;
                }
                _ => return Err(err(at, format!("unknown section {title:?}"))),
            }
        }
        if !have_buddy {
            return Err(ImportError::new(name, Place::File, "no buddyinfo section"));
        }
        Ok(s)
    }

    /// Reads /proc copies saved in `dir` under their names; kpageflags may
    /// be raw or compressed as kpageflags.zst or kpageflags.gz. Only the
    /// PFNs of populated zones are kept.
    pub fn from_dir(dir: &std::path::Path) -> Result<Snapshot> {
        let read = |n: &str| std::fs::read_to_string(dir.join(n)).map_err(|e| ImportError::new(n, Place::File, e.to_string()));
        let buddyinfo = read("buddyinfo")?;
        let opt = |n: &str| dir.join(n).exists().then(|| read(n)).transpose();
        let pagetypeinfo = opt("pagetypeinfo")?;
        let zoneinfo = opt("zoneinfo")?;
        let mut raw = None;
        for (n, how) in [("kpageflags", 0), ("kpageflags.zst", 1), ("kpageflags.gz", 2)] {
            let p = dir.join(n);
            if !p.exists() {
                continue;
            }
            let bytes = std::fs::read(&p).map_err(|e| ImportError::new(n, Place::File, e.to_string()))?;
            let bytes = match how {
                0 => bytes,
                1 => {
                    let mut out = Vec::new();
                    ruzstd::decoding::StreamingDecoder::new(&bytes[..])
                        .map_err(|e| ImportError::new(n, Place::File, format!("not zstd: {e}")))?
                        .read_to_end(&mut out)
                        .map_err(|e| ImportError::new(n, Place::File, format!("bad zstd data: {e}")))?;
                    out
                }
                #[cfg(feature = "gzip")]
                _ => {
                    let mut out = Vec::new();
                    flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut out).map_err(|e| ImportError::new(n, Place::File, format!("bad gzip data: {e}")))?;
                    out
                }
                #[cfg(not(feature = "gzip"))]
                _ => return Err(ImportError::new(n, Place::File, "this build reads no gzip: decompress kpageflags.gz first")),
            };
            raw = Some((n, bytes));
            break;
        }
        let kpageflags = match raw {
            None => None,
            Some((n, bytes)) => {
                if bytes.len() % 8 != 0 {
                    return Err(ImportError::new(n, Place::Byte(bytes.len() as u64 / 8 * 8), "the file does not end on a whole u64 (truncated?)"));
                }
                Some(kpageflags_for_zones(zoneinfo.as_deref(), &bytes))
            }
        };
        Ok(Snapshot { buddyinfo, pagetypeinfo, zoneinfo, kpageflags })
    }
}

/// The flags of the PFNs the populated zones span (all of them without
/// zoneinfo), from a kpageflags image that starts at PFN 0.
pub fn kpageflags_for_zones(zoneinfo: Option<&str>, bytes: &[u8]) -> (u64, Vec<u64>) {
    let total = (bytes.len() / 8) as u64;
    let (first, end) = match zoneinfo.and_then(|z| crate::procfs::parse_zoneinfo(z).ok()) {
        Some(zones) => (
            zones.iter().map(|z| z.start_pfn).min().unwrap_or(0).min(total),
            zones.iter().map(|z| z.start_pfn + z.spanned).max().unwrap_or(total).min(total),
        ),
        None => (0, total),
    };
    let flags = bytes[(first * 8) as usize..(end * 8) as usize].chunks_exact(8).map(|c| u64::from_ne_bytes(c.try_into().expect("8 bytes"))).collect();
    (first, flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        Snapshot {
            buddyinfo: "Node 0, zone DMA 1 2\n".into(),
            pagetypeinfo: None,
            zoneinfo: Some("Node 0, zone DMA\n spanned 4\n present 4\n start_pfn: 0\n".into()),
            kpageflags: Some((0, vec![1 << 10, 1 << 10, 0, 1 << 32])),
        }
    }

    #[test]
    fn snapshots_round_trip() {
        let s = sample();
        assert_eq!(Snapshot::from_bytes("x", &s.to_bytes()).unwrap(), s);
    }

    #[test]
    fn truncated_and_foreign_files_are_refused_with_a_place() {
        let raw = sample().to_raw();
        let cut = &raw[..raw.len() - 3];
        let e = Snapshot::from_raw("snap", cut).unwrap_err();
        assert!(matches!(e.place, Place::Byte(_)), "{e}");
        assert!(e.to_string().contains("kpageflags"), "{e}");
        assert!(Snapshot::from_bytes("snap", b"not gzip").unwrap_err().to_string().contains("not a gzip"));
        assert!(Snapshot::from_raw("snap", b"hello\n").unwrap_err().to_string().contains("expected the header"));
        assert!(Snapshot::from_raw("snap", b"pfnscope-snapshot 1\nbuddyinfo 999\nNode").is_err());
        assert!(Snapshot::from_raw("snap", b"pfnscope-snapshot 1\n").unwrap_err().to_string().contains("no buddyinfo"));
    }
}
