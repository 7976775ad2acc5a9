//! The BER (X.690) runtime under the generated ECMA-285 types: tags, a bounded TLV reader that
//! borrows from the input, a writer with minimal definite lengths, and the primitive value types.
//!
//! Decoding never panics and never copies value bytes: OCTET STRING, character strings and
//! unknown elements are [`Bytes`] slices of the frame (a reference count, not a copy). Lengths
//! are checked against the enclosing element before anything is read, nesting is limited, and a
//! whole PDU is limited to a configurable size.

use bytes::Bytes;
use serde_json::Value;

use crate::error::{Error, JsonProblem};
use crate::jer::Jer;

/// A decoding [`Error`] behind one pointer.
///
/// The decoders return it instead of the (six words wide) [`Error`] so that their `Result`s fit
/// in registers on the path every element takes; errors are rare, so the allocation is paid
/// only on malformed input. It converts into [`Error`] with `?` or [`From`].
#[derive(Debug)]
pub struct DecError(Box<Error>);

impl DecError {
    /// The error.
    pub fn into_error(self) -> Error {
        *self.0
    }

    /// The error, by reference.
    pub fn error(&self) -> &Error {
        &self.0
    }
}

impl From<Error> for DecError {
    #[cold]
    fn from(e: Error) -> Self {
        Self(Box::new(e))
    }
}

impl From<DecError> for Error {
    fn from(e: DecError) -> Self {
        *e.0
    }
}

impl std::fmt::Display for DecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The maximum nesting of constructed elements the decoder follows.
pub const MAX_DEPTH: u32 = 48;

/// A BER tag: class and number (the constructed bit is kept apart, in [`Tlv::constructed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(u32);

impl Tag {
    /// Placeholder passed to encoders that choose their own tag (CHOICE types, raw elements).
    pub const NONE: Self = Self(u32::MAX);

    /// A tag from its class (0 universal, 1 application, 2 context, 3 private) and number.
    #[inline]
    pub const fn new(class: u32, number: u32) -> Self {
        Self(((class & 3) << 29) | (number & 0x1FFF_FFFF))
    }

    /// The tag class: 0 universal, 1 application, 2 context-specific, 3 private.
    pub const fn class(self) -> u32 {
        self.0 >> 29
    }

    /// The tag number.
    pub const fn number(self) -> u32 {
        self.0 & 0x1FFF_FFFF
    }

    /// Class and number in one word (class in the top two bits), for matching.
    #[inline]
    pub(crate) const fn raw(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let class = ["UNIVERSAL", "APPLICATION", "CONTEXT", "PRIVATE"][(self.class() & 3) as usize];
        write!(f, "[{class} {}]", self.number())
    }
}

/// One decoded tag-length header and the position of its contents in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv {
    /// The element's tag.
    pub tag: Tag,
    /// Whether the constructed bit is set.
    pub constructed: bool,
    /// Offset of the identifier octet.
    pub start: usize,
    /// Offset of the first content octet.
    pub content_start: usize,
    /// Offset one past the last content octet (before the end-of-contents octets, if any).
    pub content_end: usize,
    /// Offset one past the whole element.
    pub end: usize,
}

impl Tlv {
    /// A header that describes nothing (an empty universal element at offset 0), the initial
    /// value of a slot filled by [`Children::next_into`].
    pub const EMPTY: Self = Self {
        tag: Tag(0),
        constructed: false,
        start: 0,
        content_start: 0,
        content_end: 0,
        end: 0,
    };
}

/// Reads the header of the element at `pos`, which must end by `limit`. Indefinite lengths are
/// resolved by walking the nested elements to their end-of-contents octets.
#[inline(always)]
pub fn read_tlv(buf: &[u8], pos: usize, limit: usize, depth: u32) -> Result<Tlv, DecError> {
    let mut t = Tlv::EMPTY;
    read_tlv_into(buf, pos, limit, depth, &mut t)?;
    Ok(t)
}

#[inline(never)]
fn read_tlv_slow(buf: &[u8], pos: usize, limit: usize, depth: u32) -> Result<Tlv, DecError> {
    if depth > MAX_DEPTH {
        return Err(Error::TooDeep {
            offset: pos,
            max: MAX_DEPTH,
        }
        .into());
    }
    let trunc = |offset: usize| Error::Truncated { offset };
    let mut p = pos;
    let first = *buf.get(p).filter(|_| p < limit).ok_or_else(|| trunc(pos))?;
    p += 1;
    let class = u32::from(first >> 6);
    let constructed = first & 0x20 != 0;
    let mut number = u32::from(first & 0x1F);
    if number == 0x1F {
        number = 0;
        let mut n = 0;
        loop {
            let b = *buf.get(p).filter(|_| p < limit).ok_or_else(|| trunc(p))?;
            p += 1;
            n += 1;
            if n > 4 || (n == 1 && b == 0x80) {
                return Err(Error::InvalidTag { offset: pos }.into());
            }
            number = (number << 7) | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let l0 = *buf.get(p).filter(|_| p < limit).ok_or_else(|| trunc(p))?;
    p += 1;
    let tag = Tag::new(class, number);
    if l0 == 0x80 {
        if !constructed {
            return Err(Error::InvalidLength { offset: pos }.into());
        }
        // Indefinite length: children until the end-of-contents octets 00 00.
        let content_start = p;
        let mut q = p;
        loop {
            if q + 2 <= limit && buf.get(q) == Some(&0) && buf.get(q + 1) == Some(&0) {
                return Ok(Tlv {
                    tag,
                    constructed,
                    start: pos,
                    content_start,
                    content_end: q,
                    end: q + 2,
                });
            }
            let child = read_tlv(buf, q, limit, depth + 1)?;
            q = child.end;
        }
    }
    let len = if l0 & 0x80 == 0 {
        usize::from(l0)
    } else {
        let n = usize::from(l0 & 0x7F);
        if n > 4 || n == 0x7F {
            return Err(Error::InvalidLength { offset: pos }.into());
        }
        let mut len = 0usize;
        for _ in 0..n {
            let b = *buf.get(p).filter(|_| p < limit).ok_or_else(|| trunc(p))?;
            p += 1;
            len = (len << 8) | usize::from(b);
        }
        len
    };
    let end = p
        .checked_add(len)
        .ok_or(Error::InvalidLength { offset: pos })?;
    if end > limit {
        return Err(Error::Truncated { offset: pos }.into());
    }
    Ok(Tlv {
        tag,
        constructed,
        start: pos,
        content_start: p,
        content_end: end,
        end,
    })
}

/// The decoding context: the whole PDU, so that values can be sliced out of it without copying.
#[derive(Debug)]
pub struct Dec<'a> {
    buf: &'a Bytes,
}

/// Iterates over the children of a constructed element.
#[derive(Debug)]
pub struct Children<'d, 'a> {
    d: &'d Dec<'a>,
    pos: usize,
    end: usize,
}

impl Children<'_, '_> {
    /// The next child, or `None` at the end of the parent's contents.
    #[allow(clippy::should_implement_trait)]
    #[inline(always)]
    pub fn next(&mut self) -> Result<Option<Tlv>, DecError> {
        let mut t = Tlv::EMPTY;
        Ok(self.next_into(&mut t)?.then_some(t))
    }

    /// Reads the next child into `out`; `false` at the end of the parent's contents.
    ///
    /// The generated decoders use this form: the header is written once, field by field, into
    /// the caller's slot, instead of being returned through a temporary and copied as a block
    /// (a block load of fields just stored one by one stalls the processor's store forwarding).
    #[inline(always)]
    pub fn next_into(&mut self, out: &mut Tlv) -> Result<bool, DecError> {
        if self.pos >= self.end {
            return Ok(false);
        }
        read_tlv_into(self.d.buf, self.pos, self.end, 0, out)?;
        self.pos = out.end;
        Ok(true)
    }
}

/// [`read_tlv`], writing the header into `out` field by field.
#[inline(always)]
fn read_tlv_into(
    buf: &[u8],
    pos: usize,
    limit: usize,
    depth: u32,
    out: &mut Tlv,
) -> Result<(), DecError> {
    // Fast path: a one-octet tag and a short definite length, which is nearly every CSTA element.
    if limit <= buf.len() && pos < limit && limit - pos >= 2 {
        let first = buf[pos];
        let l0 = buf[pos + 1];
        if first & 0x1F != 0x1F && l0 < 0x80 {
            let content_start = pos + 2;
            let end = content_start + usize::from(l0);
            if end <= limit {
                out.tag = Tag::new(u32::from(first >> 6), u32::from(first & 0x1F));
                out.constructed = first & 0x20 != 0;
                out.start = pos;
                out.content_start = content_start;
                out.content_end = end;
                out.end = end;
                return Ok(());
            }
        }
    }
    read_tlv_slow_into(buf, pos, limit, depth, out)
}

#[inline(never)]
fn read_tlv_slow_into(
    buf: &[u8],
    pos: usize,
    limit: usize,
    depth: u32,
    out: &mut Tlv,
) -> Result<(), DecError> {
    *out = read_tlv_slow(buf, pos, limit, depth)?;
    Ok(())
}

impl<'a> Dec<'a> {
    /// A context over one PDU.
    pub fn new(buf: &'a Bytes) -> Self {
        Self { buf }
    }

    /// The input.
    pub fn bytes(&self) -> &'a Bytes {
        self.buf
    }

    /// The children of a constructed element.
    ///
    /// The generated types are not recursive, so the depth of a typed decode is bounded by the
    /// type definitions; indefinite-length scanning has its own limit in [`read_tlv`].
    #[inline]
    pub fn children(&self, tlv: &Tlv) -> Result<Children<'_, 'a>, DecError> {
        Ok(Children {
            d: self,
            pos: tlv.content_start,
            end: tlv.content_end,
        })
    }

    /// Fails unless the element is constructed.
    #[inline]
    pub fn need_constructed(&self, tlv: &Tlv) -> Result<(), DecError> {
        if tlv.constructed {
            Ok(())
        } else {
            Err(Error::InvalidValue {
                offset: tlv.start,
                what: "primitive encoding of a constructed type",
            }
            .into())
        }
    }

    /// The single element inside an explicit tag, checked against `expect` when given.
    #[inline(always)]
    pub fn inner(&self, tlv: &Tlv, expect: Option<Tag>) -> Result<Tlv, DecError> {
        let mut c = Tlv::EMPTY;
        self.inner_into(tlv, expect, &mut c)?;
        Ok(c)
    }

    /// [`Dec::inner`], writing the inner element's header into `out` (see
    /// [`Children::next_into`] for why).
    #[inline(always)]
    pub fn inner_into(
        &self,
        tlv: &Tlv,
        expect: Option<Tag>,
        out: &mut Tlv,
    ) -> Result<(), DecError> {
        self.need_constructed(tlv)?;
        read_tlv_into(self.buf, tlv.content_start, tlv.content_end, 0, out)?;
        if let Some(t) = expect
            && out.tag != t
        {
            return Err(Error::UnexpectedTag {
                offset: out.start,
                found: out.tag,
                context: "explicitly tagged value",
            }
            .into());
        }
        Ok(())
    }

    /// The content octets of an element.
    #[inline]
    pub fn content(&self, tlv: &Tlv) -> &'a [u8] {
        self.buf
            .get(tlv.content_start..tlv.content_end)
            .unwrap_or_default()
    }

    /// The content octets as a shared slice of the input.
    #[inline]
    pub fn content_bytes(&self, tlv: &Tlv) -> Bytes {
        self.buf.slice(tlv.content_start..tlv.content_end)
    }

    /// The whole element, kept raw.
    #[inline]
    pub fn any(&self, tlv: &Tlv) -> Any {
        Any(self.buf.slice(tlv.start..tlv.end))
    }

    /// The error for an element that does not belong where it stands.
    #[cold]
    pub fn unexpected(&self, tlv: &Tlv, context: &'static str) -> DecError {
        Error::UnexpectedTag {
            offset: tlv.start,
            found: tlv.tag,
            context,
        }
        .into()
    }

    /// A mandatory member, or the error naming it.
    pub fn required<T>(
        &self,
        v: Option<T>,
        tlv: &Tlv,
        type_name: &'static str,
        field: &'static str,
    ) -> Result<T, Error> {
        v.ok_or(Error::MissingField {
            offset: tlv.start,
            type_name,
            field,
        })
    }

    /// The contents of a string type, primitive or constructed (segmented).
    #[inline(never)]
    fn string_bytes(&self, tlv: &Tlv, depth: u32) -> Result<Octets, DecError> {
        if !tlv.constructed {
            return Ok(Octets::from_shared(
                self.buf,
                tlv.content_start..tlv.content_end,
            ));
        }
        self.string_segments(tlv, depth)
    }

    /// Decodes the contents of a string type into `out` (which the caller may reuse): a short
    /// primitive value is copied straight into the inline buffer.
    #[inline(always)]
    pub(crate) fn string_into(&self, tlv: &Tlv, out: &mut Octets) -> Result<(), DecError> {
        if !tlv.constructed {
            out.set_from_shared(self.buf, tlv.content_start..tlv.content_end);
            return Ok(());
        }
        *out = self.string_segments(tlv, 0)?;
        Ok(())
    }

    /// The constructed (segmented) form of a string, which CSTA peers rarely send: out of line,
    /// so that the primitive case stays small.
    #[cold]
    #[inline(never)]
    fn string_segments(&self, tlv: &Tlv, depth: u32) -> Result<Octets, DecError> {
        if depth >= 4 {
            return Err(Error::TooDeep {
                offset: tlv.start,
                max: 4,
            }
            .into());
        }
        let mut out = Vec::new();
        let mut it = self.children(tlv)?;
        while let Some(c) = it.next()? {
            let seg = self.string_bytes(&c, depth + 1)?;
            out.extend_from_slice(&seg);
        }
        Ok(Octets::from(out))
    }
}

/// Encoding and decoding of one ASN.1 type in BER.
pub trait Ber: Sized {
    /// Decodes the value from an element whose tag the caller has already matched.
    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError>;
    /// Decodes the value into `out`, which holds a default value (SEQUENCE types fill their
    /// members where they stand instead of building and moving a new value).
    fn dec_into(d: &Dec<'_>, tlv: &Tlv, out: &mut Self) -> Result<(), DecError> {
        *out = Self::dec(d, tlv)?;
        Ok(())
    }
    /// Encodes the value as one element with `tag` (CHOICE types and raw elements ignore it).
    fn enc(&self, tag: Tag, out: &mut Vec<u8>);
}

impl<T: Ber + Default> Ber for Box<T> {
    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError> {
        let mut b = Self::default();
        T::dec_into(d, tlv, &mut b)?;
        Ok(b)
    }
    fn dec_into(d: &Dec<'_>, tlv: &Tlv, out: &mut Self) -> Result<(), DecError> {
        T::dec_into(d, tlv, out)
    }
    fn enc(&self, tag: Tag, out: &mut Vec<u8>) {
        (**self).enc(tag, out);
    }
}

/// Writes an identifier octet (or octets).
pub fn write_tag(out: &mut Vec<u8>, tag: Tag, constructed: bool) {
    let first = ((tag.class() as u8) << 6) | if constructed { 0x20 } else { 0 };
    let n = tag.number();
    if n < 31 {
        out.push(first | n as u8);
        return;
    }
    out.push(first | 0x1F);
    let mut tmp = [0u8; 5];
    let mut i = tmp.len();
    let mut v = n;
    loop {
        i -= 1;
        tmp[i] = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            break;
        }
    }
    let last = tmp.len() - 1;
    for (k, b) in tmp.iter().enumerate().skip(i) {
        out.push(if k == last { *b } else { *b | 0x80 });
    }
}

/// Writes a tag and a one-octet length placeholder; returns the mark for [`finish`].
pub fn begin(out: &mut Vec<u8>, tag: Tag, constructed: bool) -> usize {
    write_tag(out, tag, constructed);
    out.push(0);
    out.len()
}

/// Fills in the minimal definite length of the element begun at `mark`.
pub fn finish(out: &mut Vec<u8>, mark: usize) {
    let len = out.len() - mark;
    if len < 0x80 {
        out[mark - 1] = len as u8;
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let n = bytes.len() - skip;
    out[mark - 1] = 0x80 | n as u8;
    out.splice(mark..mark, bytes[skip..].iter().copied());
}

/// Writes a primitive element.
pub fn write_primitive(out: &mut Vec<u8>, tag: Tag, content: &[u8]) {
    let mark = begin(out, tag, false);
    out.extend_from_slice(content);
    finish(out, mark);
}

fn need_primitive(tlv: &Tlv, what: &'static str) -> Result<(), DecError> {
    if tlv.constructed {
        Err(Error::InvalidValue {
            offset: tlv.start,
            what,
        }
        .into())
    } else {
        Ok(())
    }
}

impl Ber for i64 {
    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError> {
        need_primitive(tlv, "INTEGER")?;
        let c = d.content(tlv);
        if c.is_empty() || c.len() > 8 {
            return Err(Error::InvalidValue {
                offset: tlv.start,
                what: "INTEGER",
            }
            .into());
        }
        let mut v: Self = if c[0] & 0x80 != 0 { -1 } else { 0 };
        for b in c {
            v = (v << 8) | Self::from(*b);
        }
        Ok(v)
    }
    fn enc(&self, tag: Tag, out: &mut Vec<u8>) {
        let bytes = self.to_be_bytes();
        let mut skip = 0;
        while skip < 7 {
            let (a, b) = (bytes[skip], bytes[skip + 1]);
            if (a == 0 && b & 0x80 == 0) || (a == 0xFF && b & 0x80 != 0) {
                skip += 1;
            } else {
                break;
            }
        }
        write_primitive(out, tag, &bytes[skip..]);
    }
}

impl Ber for bool {
    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError> {
        need_primitive(tlv, "BOOLEAN")?;
        match d.content(tlv) {
            [b] => Ok(*b != 0),
            _ => Err(Error::InvalidValue {
                offset: tlv.start,
                what: "BOOLEAN",
            }
            .into()),
        }
    }
    fn enc(&self, tag: Tag, out: &mut Vec<u8>) {
        write_primitive(out, tag, &[if *self { 0xFF } else { 0 }]);
    }
}

impl Ber for () {
    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError> {
        need_primitive(tlv, "NULL")?;
        if d.content(tlv).is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidValue {
                offset: tlv.start,
                what: "NULL",
            }
            .into())
        }
    }
    fn enc(&self, tag: Tag, out: &mut Vec<u8>) {
        write_primitive(out, tag, &[]);
    }
}

/// Octets decoded from a frame: up to [`Octets::INLINE`] bytes are kept inline (device numbers
/// and call ids, the common case, cost no allocation and no reference count); longer values
/// share the frame's buffer.
#[derive(Clone)]
pub struct Octets(Repr);

#[derive(Clone)]
enum Repr {
    Inline(u8, [u8; Octets::INLINE]),
    Shared(Bytes),
}

impl Octets {
    /// The most bytes kept inline.
    pub const INLINE: usize = 38;

    /// Octets copied from a slice (inline when short).
    #[inline]
    pub fn copy_from_slice(b: &[u8]) -> Self {
        if b.len() <= Self::INLINE {
            let mut buf = [0u8; Self::INLINE];
            buf[..b.len()].copy_from_slice(b);
            Self(Repr::Inline(b.len() as u8, buf))
        } else {
            Self(Repr::Shared(Bytes::copy_from_slice(b)))
        }
    }

    /// Octets from a range of a shared buffer (copied inline when short).
    #[inline]
    pub fn from_shared(buf: &Bytes, range: std::ops::Range<usize>) -> Self {
        // A short value with room after it in the frame: copy a fixed-size block (a few
        // register moves instead of a call to memcpy); the bytes past the value's length are
        // never read.
        if range.start <= range.end
            && range.end - range.start <= Self::INLINE
            && let Some(block) = range
                .start
                .checked_add(Self::INLINE)
                .and_then(|end| buf.get(range.start..end))
        {
            let mut inline = [0u8; Self::INLINE];
            inline.copy_from_slice(block);
            return Self(Repr::Inline((range.end - range.start) as u8, inline));
        }
        match buf.get(range.clone()) {
            Some(b) if b.len() <= Self::INLINE => Self::copy_from_slice(b),
            Some(_) => Self(Repr::Shared(buf.slice(range))),
            None => Self::default(),
        }
    }

    /// Replaces the octets with a range of a shared buffer, copying a short value into the
    /// inline buffer in place (no temporary, no call to memcpy).
    #[inline(always)]
    pub fn set_from_shared(&mut self, buf: &Bytes, range: std::ops::Range<usize>) {
        let Some(src) = buf.get(range.clone()) else {
            *self = Self::default();
            return;
        };
        if src.len() > Self::INLINE {
            *self = Self(Repr::Shared(buf.slice(range)));
            return;
        }
        if !matches!(self.0, Repr::Inline(..)) {
            *self = Self::default();
        }
        if let Repr::Inline(len, data) = &mut self.0 {
            copy_short(data, src);
            *len = src.len() as u8;
        }
    }

    /// The octets.
    #[inline]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(n, b) => &b[..usize::from(*n).min(Self::INLINE)],
            Repr::Shared(b) => b,
        }
    }
}

/// Copies `src` (at most [`Octets::INLINE`] bytes) to the start of `dst` with a few fixed-size
/// moves that may overlap (as memcpy does for short lengths), instead of a call with a variable
/// length.
#[inline(always)]
fn copy_short(dst: &mut [u8; Octets::INLINE], src: &[u8]) {
    let n = src.len();
    if n >= 16 {
        dst[..16].copy_from_slice(&src[..16]);
        if n > 32 {
            dst[16..32].copy_from_slice(&src[16..32]);
        }
        dst[n - 16..n].copy_from_slice(&src[n - 16..]);
    } else if n >= 8 {
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..n].copy_from_slice(&src[n - 8..]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..n].copy_from_slice(&src[n - 4..]);
    } else {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
}

impl Default for Octets {
    fn default() -> Self {
        Self(Repr::Inline(0, [0; Self::INLINE]))
    }
}

impl std::ops::Deref for Octets {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for Octets {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Octets {}

impl std::hash::Hash for Octets {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialOrd for Octets {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Octets {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl From<Vec<u8>> for Octets {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= Self::INLINE {
            Self::copy_from_slice(&v)
        } else {
            Self(Repr::Shared(Bytes::from(v)))
        }
    }
}

/// An ASN.1 OCTET STRING, sharing the bytes of the frame it was decoded from.
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct OctetString(pub Octets);

impl OctetString {
    /// The octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// The octets as upper-case hex, as JER writes them.
    pub fn to_hex(&self) -> String {
        hex_upper(&self.0)
    }
}

impl std::fmt::Debug for Octets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex_upper(self))
    }
}

impl std::fmt::Debug for OctetString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OctetString({})", self.to_hex())
    }
}

impl From<&[u8]> for OctetString {
    fn from(v: &[u8]) -> Self {
        Self(Octets::copy_from_slice(v))
    }
}

impl From<Vec<u8>> for OctetString {
    fn from(v: Vec<u8>) -> Self {
        Self(Octets::from(v))
    }
}

impl Ber for OctetString {
    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError> {
        d.string_bytes(tlv, 0).map(Self)
    }
    #[inline(always)]
    fn dec_into(d: &Dec<'_>, tlv: &Tlv, out: &mut Self) -> Result<(), DecError> {
        d.string_into(tlv, &mut out.0)
    }
    fn enc(&self, tag: Tag, out: &mut Vec<u8>) {
        write_primitive(out, tag, &self.0);
    }
}

/// An ASN.1 character string (IA5String, PrintableString, GraphicString, GeneralizedTime …),
/// sharing the bytes of the frame. The bytes are kept as received; [`Text::as_str`] checks them.
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Text(pub Octets);

impl Text {
    /// The text, if it is valid UTF-8 (IA5 is a subset).
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
    /// The text with invalid bytes replaced.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }
    /// The raw octets.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.to_string_lossy())
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl From<&str> for Text {
    fn from(v: &str) -> Self {
        Self(Octets::copy_from_slice(v.as_bytes()))
    }
}

impl From<String> for Text {
    fn from(v: String) -> Self {
        Self(Octets::from(v.into_bytes()))
    }
}

impl Ber for Text {
    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError> {
        d.string_bytes(tlv, 0).map(Self)
    }
    #[inline(always)]
    fn dec_into(d: &Dec<'_>, tlv: &Tlv, out: &mut Self) -> Result<(), DecError> {
        d.string_into(tlv, &mut out.0)
    }
    fn enc(&self, tag: Tag, out: &mut Vec<u8>) {
        write_primitive(out, tag, &self.0);
    }
}

/// An ASN.1 BIT STRING: `bits` bits, most significant first, in `data`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BitString {
    /// The octets holding the bits.
    pub data: Octets,
    /// The number of bits.
    pub bits: u32,
}

impl BitString {
    /// A bit string from the numbers of the bits that are set, `len` bits long.
    pub fn from_bits(set: &[u32], len: u32) -> Self {
        let mut data = vec![0u8; len.div_ceil(8) as usize];
        for &b in set {
            if b < len {
                data[(b / 8) as usize] |= 0x80 >> (b % 8);
            }
        }
        Self {
            data: Octets::from(data),
            bits: len,
        }
    }
    /// Whether bit `n` is set.
    pub fn bit(&self, n: u32) -> bool {
        n < self.bits
            && self
                .data
                .get((n / 8) as usize)
                .is_some_and(|b| b & (0x80 >> (n % 8)) != 0)
    }
}

impl Ber for BitString {
    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError> {
        need_primitive(tlv, "BIT STRING")?;
        let c = d.content(tlv);
        let Some((&unused, rest)) = c.split_first() else {
            return Err(Error::InvalidValue {
                offset: tlv.start,
                what: "BIT STRING",
            }
            .into());
        };
        if unused > 7 || (rest.is_empty() && unused != 0) {
            return Err(Error::InvalidValue {
                offset: tlv.start,
                what: "BIT STRING",
            }
            .into());
        }
        let bits = u32::try_from(rest.len() * 8 - usize::from(unused)).map_err(|_| {
            Error::InvalidValue {
                offset: tlv.start,
                what: "BIT STRING",
            }
        })?;
        Ok(Self {
            data: Octets::from_shared(d.bytes(), tlv.content_start + 1..tlv.content_end),
            bits,
        })
    }
    fn enc(&self, tag: Tag, out: &mut Vec<u8>) {
        let n = self.bits.div_ceil(8) as usize;
        let unused = (n * 8) as u32 - self.bits;
        let mark = begin(out, tag, false);
        out.push(unused as u8);
        for i in 0..n {
            out.push(self.data.get(i).copied().unwrap_or(0));
        }
        finish(out, mark);
    }
}

/// An ASN.1 OBJECT IDENTIFIER, kept as its content octets.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Oid(pub Bytes);

impl Oid {
    /// The arcs, or `None` if the encoding is malformed.
    pub fn arcs(&self) -> Option<Vec<u64>> {
        let mut out = Vec::new();
        let mut v: u64 = 0;
        let mut pending = false;
        for &b in self.0.iter() {
            if v > (u64::MAX >> 7) {
                return None;
            }
            v = (v << 7) | u64::from(b & 0x7F);
            pending = true;
            if b & 0x80 == 0 {
                if out.is_empty() {
                    let first = if v < 40 {
                        0
                    } else if v < 80 {
                        1
                    } else {
                        2
                    };
                    out.push(first);
                    out.push(v - first * 40);
                } else {
                    out.push(v);
                }
                v = 0;
                pending = false;
            }
        }
        if pending || out.is_empty() {
            None
        } else {
            Some(out)
        }
    }

    /// Parses the dotted form, e.g. `1.3.12.0.285.200`.
    pub fn from_dotted(s: &str) -> Option<Self> {
        let arcs: Vec<u64> = s
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) {
            return None;
        }
        let mut out = Vec::new();
        let first = arcs[0].checked_mul(40)?.checked_add(arcs[1])?;
        for a in std::iter::once(first).chain(arcs[2..].iter().copied()) {
            let mut tmp = [0u8; 10];
            let mut i = tmp.len();
            let mut v = a;
            loop {
                i -= 1;
                tmp[i] = (v & 0x7F) as u8;
                v >>= 7;
                if v == 0 {
                    break;
                }
            }
            let last = tmp.len() - 1;
            for (k, b) in tmp.iter().enumerate().skip(i) {
                out.push(if k == last { *b } else { *b | 0x80 });
            }
        }
        Some(Self(Bytes::from(out)))
    }
}

impl std::fmt::Display for Oid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.arcs() {
            Some(arcs) => {
                let parts: Vec<String> = arcs.iter().map(u64::to_string).collect();
                f.write_str(&parts.join("."))
            }
            None => write!(f, "<malformed OID {}>", hex_upper(&self.0)),
        }
    }
}

impl std::fmt::Debug for Oid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Oid({self})")
    }
}

impl Ber for Oid {
    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError> {
        need_primitive(tlv, "OBJECT IDENTIFIER")?;
        let o = Self(d.content_bytes(tlv));
        if o.arcs().is_none() {
            return Err(Error::InvalidValue {
                offset: tlv.start,
                what: "OBJECT IDENTIFIER",
            }
            .into());
        }
        Ok(o)
    }
    fn enc(&self, tag: Tag, out: &mut Vec<u8>) {
        write_primitive(out, tag, &self.0);
    }
}

/// The elements of a SEQUENCE or SET that the codec does not know (vendor extensions), kept as
/// raw TLVs in the order they came. Almost every PDU has none, so until the first arrives this
/// is one null pointer: nothing to allocate, and nothing but a null check to drop.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
// A boxed `Vec` on purpose: one pointer, against three words for an empty `Vec`.
#[allow(clippy::box_collection)]
pub struct Unrecognized(Option<Box<Vec<Any>>>);

impl Unrecognized {
    /// None.
    pub const fn new() -> Self {
        Self(None)
    }
    /// Appends one element.
    pub fn push(&mut self, a: Any) {
        self.0.get_or_insert_with(Box::default).push(a);
    }
    /// The elements, in order.
    pub fn as_slice(&self) -> &[Any] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl std::ops::Deref for Unrecognized {
    type Target = [Any];
    fn deref(&self) -> &[Any] {
        self.as_slice()
    }
}

impl From<Vec<Any>> for Unrecognized {
    fn from(v: Vec<Any>) -> Self {
        if v.is_empty() {
            Self(None)
        } else {
            Self(Some(Box::new(v)))
        }
    }
}

impl<'a> IntoIterator for &'a Unrecognized {
    type Item = &'a Any;
    type IntoIter = std::slice::Iter<'a, Any>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl std::fmt::Debug for Unrecognized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// A whole BER element kept raw (tag, length and contents): unknown vendor elements and
/// `ANY` values.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Any(pub Bytes);

impl Any {
    /// The raw element.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    /// Appends the raw element.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
    /// The element's header, if it parses.
    pub fn tlv(&self) -> Option<Tlv> {
        read_tlv(&self.0, 0, self.0.len(), 0).ok()
    }
}

impl std::fmt::Debug for Any {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Any({})", hex_upper(&self.0))
    }
}

impl Ber for Any {
    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError> {
        Ok(d.any(tlv))
    }
    fn enc(&self, _tag: Tag, out: &mut Vec<u8>) {
        self.write(out);
    }
}

/// Upper-case hex.
pub(crate) fn hex_upper(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(H[usize::from(x >> 4)] as char);
        s.push(H[usize::from(x & 15)] as char);
    }
    s
}

/// Parses hex (either case); `None` if malformed.
pub(crate) fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.chunks(2)
        .map(|p| Some((nib(p[0])? << 4) | nib(p[1])?))
        .collect()
}

impl Jer for OctetString {
    fn to_jer(&self) -> Value {
        Value::String(self.to_hex())
    }
    fn from_jer(v: &Value) -> Result<Self, Error> {
        let s = v.as_str().ok_or(Error::Json {
            at: "OCTET STRING",
            problem: JsonProblem::WrongType,
        })?;
        parse_hex(s).map(Self::from).ok_or(Error::Json {
            at: "OCTET STRING",
            problem: JsonProblem::BadHex,
        })
    }
}

impl Jer for Text {
    fn to_jer(&self) -> Value {
        Value::String(self.to_string_lossy())
    }
    fn from_jer(v: &Value) -> Result<Self, Error> {
        v.as_str().map(Self::from).ok_or(Error::Json {
            at: "character string",
            problem: JsonProblem::WrongType,
        })
    }
}

impl Jer for BitString {
    fn to_jer(&self) -> Value {
        let n = self.bits.div_ceil(8) as usize;
        let data: Vec<u8> = (0..n)
            .map(|i| self.data.get(i).copied().unwrap_or(0))
            .collect();
        let mut m = serde_json::Map::new();
        m.insert("value".into(), Value::String(hex_upper(&data)));
        m.insert("length".into(), Value::from(self.bits));
        Value::Object(m)
    }
    fn from_jer(v: &Value) -> Result<Self, Error> {
        let err = |problem| Error::Json {
            at: "BIT STRING",
            problem,
        };
        let o = v.as_object().ok_or_else(|| err(JsonProblem::WrongType))?;
        let data = o
            .get("value")
            .and_then(Value::as_str)
            .and_then(parse_hex)
            .ok_or_else(|| err(JsonProblem::BadHex))?;
        let bits = o
            .get("length")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| err(JsonProblem::WrongType))?;
        if (bits as usize).div_ceil(8) != data.len() {
            return Err(err(JsonProblem::OutOfRange));
        }
        Ok(Self {
            data: Octets::from(data),
            bits,
        })
    }
}

impl Jer for Oid {
    fn to_jer(&self) -> Value {
        Value::String(self.to_string())
    }
    fn from_jer(v: &Value) -> Result<Self, Error> {
        v.as_str().and_then(Self::from_dotted).ok_or(Error::Json {
            at: "OBJECT IDENTIFIER",
            problem: JsonProblem::WrongType,
        })
    }
}

impl Jer for Any {
    fn to_jer(&self) -> Value {
        Value::String(hex_upper(&self.0))
    }
    fn from_jer(v: &Value) -> Result<Self, Error> {
        let b = v.as_str().and_then(parse_hex).ok_or(Error::Json {
            at: "raw element",
            problem: JsonProblem::BadHex,
        })?;
        match read_tlv(&b, 0, b.len(), 0) {
            Ok(t) if t.end == b.len() => Ok(Self(Bytes::from(b))),
            _ => Err(Error::Json {
                at: "raw element",
                problem: JsonProblem::BadHex,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_decoded_in_place_hold_exactly_their_bytes_whatever_the_slot_held_before() {
        // Every length up to past the inline limit, at every position up to the frame's end
        // (where no fixed-size block fits after the value), into a slot that held a longer
        // inline value, a shared one, or nothing.
        let frame = Bytes::from(
            (0..96u8)
                .map(|i| i.wrapping_mul(37) ^ 0x5A)
                .collect::<Vec<_>>(),
        );
        let long = Octets::from(vec![0xEE; 80]);
        for len in 0..=Octets::INLINE + 2 {
            for start in (0..=frame.len() - len)
                .step_by(7)
                .chain([frame.len() - len])
            {
                let want = &frame[start..start + len];
                for before in [
                    Octets::from(vec![0xEE; Octets::INLINE]),
                    long.clone(),
                    Octets::default(),
                ] {
                    let mut o = before;
                    o.set_from_shared(&frame, start..start + len);
                    assert_eq!(o.as_slice(), want, "len {len} at {start}");
                    assert_eq!(o, Octets::copy_from_slice(want));
                }
            }
        }
        // A range outside the frame leaves nothing rather than panicking.
        let mut o = Octets::from(vec![1, 2, 3]);
        o.set_from_shared(&frame, 90..100);
        assert!(o.is_empty());
        // Through the decoder: a primitive string and a segmented one.
        for der in [
            &[0x04, 0x03, b'a', b'b', b'c'][..],
            &[0x24, 0x07, 0x04, 0x01, b'a', 0x04, 0x02, b'b', b'c'],
        ] {
            let buf = Bytes::copy_from_slice(der);
            let tlv = read_tlv(&buf, 0, buf.len(), 0).unwrap();
            let mut t = Text::from("a much longer value that was there before");
            Text::dec_into(&Dec::new(&buf), &tlv, &mut t).unwrap();
            assert_eq!(t.as_str(), Some("abc"));
        }
    }

    #[test]
    fn children_read_into_a_slot_match_the_ones_returned() {
        // A short-form child, a long-form length, a high tag number and an indefinite length.
        let der = [
            0x30, 0x80, 0x02, 0x01, 0x05, 0x04, 0x81, 0x02, 0x61, 0x62, 0x9F, 0x40, 0x01, 0x07,
            0xA1, 0x80, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        let buf = Bytes::copy_from_slice(&der);
        let d = Dec::new(&buf);
        let top = read_tlv(&buf, 0, buf.len(), 0).unwrap();
        let (mut a, mut b) = (d.children(&top).unwrap(), d.children(&top).unwrap());
        let mut slot = Tlv::EMPTY;
        let mut n = 0;
        while b.next_into(&mut slot).unwrap() {
            assert_eq!(a.next().unwrap(), Some(slot));
            n += 1;
        }
        assert_eq!(a.next().unwrap(), None);
        assert_eq!(n, 4);
        // A child running past its parent is an error either way.
        let bad = Bytes::from_static(&[0x30, 0x03, 0x04, 0x05, 0x61]);
        let top = read_tlv(&bad, 0, 2 + 3, 0).unwrap();
        let d = Dec::new(&bad);
        assert!(d.children(&top).unwrap().next().is_err());
        assert!(d.children(&top).unwrap().next_into(&mut slot).is_err());
    }

    #[test]
    fn unrecognized_elements_are_one_pointer_until_the_first_and_keep_their_order() {
        assert_eq!(size_of::<Unrecognized>(), size_of::<usize>());
        let mut u = Unrecognized::new();
        assert!(u.is_empty());
        assert_eq!(u, Unrecognized::from(Vec::new()));
        assert_eq!(format!("{u:?}"), "[]");
        let a = Any(Bytes::from_static(&[0x9F, 0x40, 0x01, 0x07]));
        let b = Any(Bytes::from_static(&[0x80, 0x00]));
        u.push(a.clone());
        u.push(b.clone());
        assert_eq!(u.as_slice(), &[a.clone(), b.clone()]);
        assert_eq!(u, Unrecognized::from(vec![a.clone(), b]));
        assert_eq!((&u).into_iter().next(), Some(&a));
        assert_eq!(u.len(), 2);
    }

    #[test]
    fn unknown_members_of_a_sequence_are_kept_and_written_back() {
        use crate::generated::types::DeviceID;
        // deviceIdentifier dialingNumber "1001", then a vendor element [PRIVATE 5] the codec
        // does not know.
        let der = [
            0x30, 0x0A, 0x80, 0x04, b'1', b'0', b'0', b'1', 0xC5, 0x02, 0xAB, 0xCD,
        ];
        let buf = Bytes::copy_from_slice(&der);
        let d = Dec::new(&buf);
        let tlv = read_tlv(&der, 0, der.len(), 0).unwrap();
        let v = DeviceID::dec(&d, &tlv).unwrap();
        assert_eq!(v.unrecognized.len(), 1);
        assert_eq!(v.unrecognized[0].as_bytes(), &[0xC5, 0x02, 0xAB, 0xCD]);
        let mut out = Vec::new();
        v.enc(Tag::new(0, 16), &mut out);
        assert_eq!(out, der);
    }

    fn roundtrip<T: Ber + PartialEq + std::fmt::Debug>(v: T, tag: Tag) {
        let mut out = Vec::new();
        v.enc(tag, &mut out);
        let b = Bytes::from(out);
        let d = Dec::new(&b);
        let t = read_tlv(&b, 0, b.len(), 0).unwrap();
        assert_eq!(t.tag, tag);
        assert_eq!(t.end, b.len());
        assert_eq!(T::dec(&d, &t).unwrap(), v);
    }

    #[test]
    fn integers_are_minimal_and_round_trip() {
        for v in [
            0i64,
            1,
            -1,
            127,
            128,
            -128,
            -129,
            255,
            256,
            65535,
            i64::MAX,
            i64::MIN,
        ] {
            roundtrip(v, Tag::new(0, 2));
        }
        let mut out = Vec::new();
        128i64.enc(Tag::new(0, 2), &mut out);
        assert_eq!(out, [0x02, 0x02, 0x00, 0x80]);
        out.clear();
        (-129i64).enc(Tag::new(0, 2), &mut out);
        assert_eq!(out, [0x02, 0x02, 0xFF, 0x7F]);
    }

    #[test]
    fn long_lengths_and_high_tags() {
        let s = OctetString::from(vec![7u8; 300]);
        roundtrip(s, Tag::new(2, 200));
        let mut out = Vec::new();
        OctetString::from(vec![0u8; 200]).enc(Tag::new(0, 4), &mut out);
        assert_eq!(&out[..3], &[0x04, 0x81, 200]);
    }

    #[test]
    fn bit_strings_keep_their_length() {
        roundtrip(BitString::from_bits(&[0, 18], 19), Tag::new(0, 3));
        let b = BitString::from_bits(&[1], 2);
        assert!(b.bit(1) && !b.bit(0) && !b.bit(2));
    }

    #[test]
    fn oids_print_dotted() {
        let o = Oid::from_dotted("1.3.12.0.285.200").unwrap();
        assert_eq!(o.to_string(), "1.3.12.0.285.200");
        assert_eq!(&o.0[..], &[0x2B, 0x0C, 0x00, 0x82, 0x1D, 0x81, 0x48]);
        assert!(Oid::from_dotted("3.1").is_none());
    }

    #[test]
    fn indefinite_lengths_are_resolved() {
        // [1] constructed, indefinite, holding an INTEGER 5, then end-of-contents.
        let b = Bytes::from_static(&[0xA1, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00]);
        let t = read_tlv(&b, 0, b.len(), 0).unwrap();
        assert_eq!((t.content_start, t.content_end, t.end), (2, 5, 7));
        let d = Dec::new(&b);
        let inner = d.inner(&t, Some(Tag::new(0, 2))).unwrap();
        assert_eq!(i64::dec(&d, &inner).unwrap(), 5);
    }

    #[test]
    fn hostile_headers_are_errors() {
        for bad in [
            &[0x30, 0x85, 1, 2, 3, 4, 5][..],
            &[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF],
            &[0x30, 0x05, 0x01],
            &[0x1F, 0x80, 0x80],
            &[0x04, 0x80, 0x00, 0x00],
            &[],
        ] {
            assert!(read_tlv(bad, 0, bad.len(), 0).is_err(), "{bad:02x?}");
        }
        // Deep indefinite nesting is cut off, not followed until the stack runs out.
        let mut deep = Vec::new();
        for _ in 0..10_000 {
            deep.extend_from_slice(&[0x30, 0x80]);
        }
        assert!(read_tlv(&deep, 0, deep.len(), 0).is_err());
    }
}

#[cfg(any(test, fuzzing, feature = "arbitrary"))]
mod arbitrary_impls {
    use arbitrary::{Arbitrary, Result, Unstructured};

    use super::{Any, BitString, OctetString, Octets, Oid, Text};

    impl<'a> Arbitrary<'a> for Octets {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            let len = u.int_in_range(0..=64usize)?.min(u.len());
            Ok(Self::copy_from_slice(u.bytes(len)?))
        }
    }

    impl<'a> Arbitrary<'a> for OctetString {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            Ok(Self(u.arbitrary()?))
        }
    }

    impl<'a> Arbitrary<'a> for Text {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            Ok(Self(u.arbitrary()?))
        }
    }

    impl<'a> Arbitrary<'a> for BitString {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            let bits = u.int_in_range(0..=64u32)?;
            let n = bits.div_ceil(8) as usize;
            let avail = n.min(u.len());
            let mut data = u.bytes(avail)?.to_vec();
            data.resize(n, 0);
            Ok(Self {
                data: Octets::from(data),
                bits,
            })
        }
    }

    impl<'a> Arbitrary<'a> for Oid {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            let first = u.int_in_range(0..=2u64)?;
            let second = u.int_in_range(0..=39u64)?;
            let rest: Vec<u32> = u.arbitrary()?;
            let mut s = format!("{first}.{second}");
            for a in rest.iter().take(8) {
                s.push_str(&format!(".{a}"));
            }
            Self::from_dotted(&s).ok_or(arbitrary::Error::IncorrectFormat)
        }
    }

    impl<'a> Arbitrary<'a> for Any {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            // A primitive private-class element: never mistaken for a known member.
            let n = u.int_in_range(0..=16usize)?.min(u.len());
            let content: Vec<u8> = u.bytes(n)?.to_vec();
            let mut out = Vec::new();
            super::write_primitive(
                &mut out,
                super::Tag::new(3, u.int_in_range(0..=30u32)?),
                &content,
            );
            Ok(Self(bytes::Bytes::from(out)))
        }
    }
}
