#!/usr/bin/env python3
"""Generate `src/generated/types.rs` and `src/generated/ops.rs` from the ECMA-285 ASN.1 modules.

The modules are compiled with asn1tools (used here only as an ASN.1 *parser*: it resolves tags,
type references, OPTIONAL and DEFAULT); this script walks the compiled tree and writes Rust types
with BER and JER codecs that call the hand-written runtime in `src/ber.rs` and `src/jer.rs`.

Usage (from the repository root):

    python3 -m venv /tmp/asn1-venv && /tmp/asn1-venv/bin/pip install asn1tools==0.169.0
    /tmp/asn1-venv/bin/python crates/hookflash-csta/codegen/gen_types.py \
        --asn1 ../shared/tools/csta-oracle/asn1/build

The output is committed (formatted with `cargo fmt -p hookflash-csta` after generation); a build
never runs this script.
"""
import argparse
import glob
import json
import os
import re
import sys

import asn1tools
import asn1tools.codecs.ber as B

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_DIR = os.path.join(HERE, "..", "src", "generated")

KEYWORDS = {"as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
            "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
            "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
            "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become",
            "box", "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual",
            "yield", "try", "gen"}

RESERVED = {"Result", "Option", "Vec", "Value", "Map", "Error", "Tag", "Tlv", "Dec", "Ber", "Jer",
            "Any", "Text", "OctetString", "BitString", "Oid", "Some", "None", "Ok", "Err", "Box",
            "String", "Operation", "Argument", "OpResult", "ErrorCode", "ErrorParameter", "JsonProblem",
            "Children"}

STRING_TYPES = (B.IA5String, B.PrintableString, B.GraphicString, B.ObjectDescriptor,
                B.GeneralizedTime, B.UTF8String, B.VisibleString, B.NumericString,
                B.UTCTime, B.TeletexString, B.GeneralString)


def camel(name):
    parts = re.split(r"[-_ ]+", name)
    return "".join(p[:1].upper() + p[1:] for p in parts if p)


def snake(name):
    s = name.replace("-", "_")
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = s.lower()
    s = re.sub(r"_+", "_", s).strip("_")
    if s in KEYWORDS:
        s += "_"
    return s


def tag_parts(tagbytes):
    b = bytes(tagbytes)
    cls = b[0] >> 6
    num = b[0] & 0x1F
    if num == 0x1F:
        num = 0
        for x in b[1:]:
            num = (num << 7) | (x & 0x7F)
    return cls, num


def tag_lit(tagbytes):
    cls, num = tag_parts(tagbytes)
    return "Tag::new(%d, %d)" % (cls, num)


def tag_raw(tagbytes):
    cls, num = tag_parts(tagbytes)
    return (cls << 29) | num


def raw_lit(v):
    return "0x%08X" % v


def has_module(n):
    return "module_name" in vars(n) and n.module_name is not None


class Gen:
    def __init__(self, asn1_dir):
        files = sorted(glob.glob(os.path.join(asn1_dir, "*.asn1")))
        self.parsed = asn1tools.parse_files(files)
        self.spec = asn1tools.compile_dict(self.parsed, "ber")
        self.ops = json.load(open(os.path.join(asn1_dir, "operations.json")))
        self.typedefs = {}      # rust name -> typedef dict
        self.order = []         # rust names in generation order
        self.named = {}         # (module, type) -> rust name
        self.aliases = {}       # rust alias name -> (target rust type, doc)
        self.seqof_helpers = {}  # signature -> (fn name, elem member)
        self.used_names = set()
        self.prefer = {
            "CallControlEvents": "CSTA-event-report-definitions",
            "CallAssociatedEvents": "CSTA-event-report-definitions",
            "MediaAttachmentEvents": "CSTA-event-report-definitions",
            "PhysicalDeviceFeatureEvents": "CSTA-event-report-definitions",
            "LogicalDeviceFeatureEvents": "CSTA-event-report-definitions",
            "DeviceMaintenanceEvents": "CSTA-event-report-definitions",
            "VoiceUnitEvents": "CSTA-event-report-definitions",
            "VendorSpecEvents": "CSTA-event-report-definitions",
            "Code": "CSTA-ROSE-standin",
        }

    # ----------------------------------------------------------------- naming
    def rust_name_for(self, module, tname):
        key = (module, tname)
        if key in self.named:
            return self.named[key]
        base = camel(tname)
        if base in RESERVED:
            base += "Type"
        pref = self.prefer.get(tname)
        if pref is not None and pref != module:
            base = camel(module.replace("CSTA-", "")) + base
        name = base
        i = 2
        while name in self.used_names:
            name = "%s%d" % (base, i)
            i += 1
        self.used_names.add(name)
        self.named[key] = name
        return name

    def fresh_anon(self, base):
        if base in RESERVED:
            base += "Type"
        name = base
        i = 2
        while name in self.used_names:
            name = "%s%d" % (base, i)
            i += 1
        self.used_names.add(name)
        return name

    def parsed_def(self, module, tname):
        return self.parsed.get(module, {}).get("types", {}).get(tname)

    # ----------------------------------------------------------------- model
    def member(self, node, ctx_name):
        """Describe a member (or root, or SEQUENCE OF element) node."""
        chain = []
        n = node
        named = None
        while isinstance(n, B.ExplicitTag):
            chain.append(n.tag)
            if named is None and has_module(n):
                named = (n.module_name, n.type_name)
            n = n.inner
        if named is None and has_module(n):
            named = (n.module_name, n.type_name)
        anon = ctx_name + camel(node.name or "Value") if node.name else ctx_name
        core = self.core(n, named, anon)
        m = {
            "asn1": node.name,
            "field": snake(node.name) if node.name else None,
            "variant": camel(node.name) if node.name else None,
            "optional": bool(node.optional) or node.default is not None,
            "default": self.default_json(n, node.default) if node.default is not None else None,
            "chain": chain,
            "core": core,
        }
        return m

    def default_json(self, n, d):
        if isinstance(n, B.BitString):
            data, length = d
            return {"value": bytes(data).hex().upper(), "length": length}
        if isinstance(n, (B.Integer,)):
            return int(d)
        if isinstance(n, B.Boolean):
            return bool(d)
        if isinstance(n, B.Enumerated):
            return str(d)
        raise SystemExit("unsupported DEFAULT %r on %r" % (d, n))

    def core(self, n, named, anon):
        """Return the core description: dict(kind, rust, tag, choice)."""
        return self.core_uncached(n, named, anon)

    def core_uncached(self, n, named, anon):
        if isinstance(n, B.Choice):
            rust = self.define(n, named, anon, "choice")
            return {"kind": "choice", "rust": rust, "tag": None}
        if isinstance(n, (B.Sequence, B.Set)):
            rust = self.define(n, named, anon, "seq")
            return {"kind": "seq", "rust": rust, "tag": n.tag}
        if isinstance(n, B.Enumerated):
            rust = self.define(n, named, anon, "enum")
            return {"kind": "prim", "rust": rust, "tag": n.tag}
        if isinstance(n, (B.SequenceOf, B.SetOf)):
            if named and named in self.core_cache:
                elem = self.core_cache[named]
            else:
                elem = self.member(n.element_type, (self.named_name(named) or anon) + "Item")
                if named:
                    self.core_cache[named] = elem
            helper = self.seqof_helper(elem)
            rust = "Vec<%s>" % self.member_type(elem)
            if named:
                rust = self.alias(named, rust)
            return {"kind": "seqof", "rust": rust, "tag": n.tag, "helper": helper, "elem": elem}
        prim = None
        if isinstance(n, B.OctetString):
            prim = "OctetString"
        elif isinstance(n, STRING_TYPES):
            prim = "Text"
        elif isinstance(n, B.Integer):
            prim = "i64"
        elif isinstance(n, B.Boolean):
            prim = "bool"
        elif isinstance(n, B.Null):
            prim = "()"
        elif isinstance(n, B.BitString):
            prim = "BitString"
        elif isinstance(n, B.ObjectIdentifier):
            prim = "Oid"
        elif isinstance(n, (B.Any, B.AnyDefinedBy)):
            return {"kind": "any", "rust": "Any", "tag": None}
        else:
            raise SystemExit("unsupported node %s %r" % (type(n).__name__, n))
        rust = prim
        if named:
            rust = self.alias(named, prim)
        return {"kind": "prim", "rust": rust, "tag": n.tag}

    def named_name(self, named):
        if not named:
            return None
        return self.rust_name_for(*named)

    def alias(self, named, target):
        name = self.rust_name_for(*named)
        if name not in self.aliases:
            self.aliases[name] = (target, "%s.%s" % named)
        return name

    def define(self, n, named, anon, kind):
        if named:
            name = self.rust_name_for(*named)
            asn1 = "%s.%s" % named
        else:
            name = self.fresh_anon(anon)
            asn1 = None
        if name in self.typedefs or name in self.in_progress:
            return name
        self.in_progress.add(name)
        td = {"name": name, "kind": kind, "asn1": asn1}
        if kind == "seq":
            members = list(n.root_members) + [m for m in (n.additions or []) if not isinstance(m, list)]
            for m in (n.additions or []):
                if isinstance(m, list):
                    members.extend(m)
            td["members"] = [self.member(m, name) for m in members]
        elif kind == "choice":
            td["members"] = [self.member(m, name) for m in n.members]
        elif kind == "enum":
            td["values"] = sorted(n.value_to_data.items(), key=lambda x: x[0])
        self.typedefs[name] = td
        self.order.append(name)
        self.in_progress.discard(name)
        return name

    def member_type(self, m):
        if m.get("boxed"):
            return "Box<%s>" % m["core"]["rust"]
        return m["core"]["rust"]

    # ----------------------------------------------------------------- sizes and boxing
    PRIM_SIZES = {"OctetString": 32, "Text": 32, "Any": 32, "Oid": 32, "BitString": 40,
                  "i64": 8, "bool": 1, "()": 0}

    def est(self, rust):
        """A rough estimate of a Rust type's size, to decide what to box."""
        if rust.startswith("Box<"):
            return 8
        if rust.startswith("Vec<"):
            return 24
        if rust in self.PRIM_SIZES:
            return self.PRIM_SIZES[rust]
        if rust in self.aliases:
            return self.est(self.aliases[rust][0])
        if rust in self.size_cache:
            return self.size_cache[rust]
        td = self.typedefs.get(rust)
        if td is None:
            return 16
        self.size_cache[rust] = 64  # guard against cycles
        if td["kind"] == "enum":
            size = 16
        elif td["kind"] == "seq":
            size = 24 + sum(self.est(self.member_type(m)) + (8 if m["optional"] else 0) for m in td["members"])
        else:
            size = 8 + max([self.est(self.member_type(m)) for m in td["members"]] + [32])
        self.size_cache[rust] = size
        return size

    def decide_boxing(self):
        """Box large OPTIONAL members and large CHOICE alternatives, bottom-up, so that the big
        event and argument types stay small enough to move around cheaply."""
        self.size_cache = {}
        for name in self.order:
            td = self.typedefs[name]
            if name in self.rose_types:
                continue
            if td["kind"] == "seq":
                for m in td["members"]:
                    if m["optional"] and m["core"]["kind"] in ("seq", "choice") and self.est(m["core"]["rust"]) > 48:
                        m["boxed"] = True
            elif td["kind"] == "choice":
                # CHOICE alternatives are decoded in place, so a mid-sized alternative (a
                # DeviceID inside the calling/called/subject device choices, present several
                # times in nearly every event) costs less inline than an allocation. The ACSE
                # envelopes stay small: association PDUs are rare, and the PDU enum holds them.
                acse = (td["asn1"] or "").startswith("ACSE-1.") or name.startswith("ACSE")
                limit = 128 if acse else 256
                for m in td["members"]:
                    if m["core"]["kind"] in ("seq", "choice") and self.est(m["core"]["rust"]) > limit:
                        m["boxed"] = True
            self.size_cache.pop(name, None)
            self.size_cache[name] = self.est(name)

    def seqof_helper(self, elem):
        sig = json.dumps([[tag_lit(t) for t in elem["chain"]], elem["core"]["rust"],
                          tag_lit(elem["core"]["tag"]) if elem["core"]["tag"] else None])
        if sig not in self.seqof_helpers:
            self.seqof_helpers[sig] = ("seqof_%d" % len(self.seqof_helpers), elem)
        return self.seqof_helpers[sig][0]

    # ----------------------------------------------------------------- code: members
    def match_expr(self, m, t):
        if m["chain"]:
            return "%s == %s" % (t, tag_lit(m["chain"][0]))
        core = m["core"]
        if core["kind"] == "choice":
            return "%s::has_tag(%s)" % (core["rust"], t)
        if core["kind"] == "any":
            return "true"
        return "%s == %s" % (t, tag_lit(core["tag"]))

    def tag_set(self, m):
        """The raw tags that start member m, or None when it matches any tag."""
        if m["chain"]:
            return [tag_raw(m["chain"][0])]
        core = m["core"]
        if core["kind"] == "choice":
            out = []
            for a in self.typedefs[core["rust"]]["members"]:
                t = self.tag_set(a)
                if t is None:
                    return None
                out += [x for x in t if x not in out]
            return out
        if core["kind"] == "any":
            return None
        return [tag_raw(core["tag"])]

    def pattern(self, m):
        """A match pattern over raw tags for member m ("_" when it matches any tag)."""
        t = self.tag_set(m)
        if t is None:
            return "_"
        return " | ".join(raw_lit(x) for x in t)

    def chain_lines(self, m, c):
        """Statements that unwrap member m's explicit tags from TLV variable c; returns the
        statements and the variable holding the core element."""
        lines = []
        cur = c
        for i, t in enumerate(m["chain"]):
            nxt = "x%d" % i
            if i + 1 < len(m["chain"]):
                expect = "Some(%s)" % tag_lit(m["chain"][i + 1])
            elif m["core"]["kind"] in ("choice", "any"):
                expect = "None"
            else:
                expect = "Some(%s)" % tag_lit(m["core"]["tag"])
            lines.append("let mut %s = Tlv::EMPTY;" % nxt)
            lines.append("d.inner_into(&%s, %s, &mut %s)?;" % (cur, expect, nxt))
            cur = nxt
        return lines, cur

    def core_call(self, m, cur):
        """The expression decoding member m's core element from variable cur."""
        core = m["core"]
        if core["kind"] == "seqof":
            return "%s(d, &%s)?" % (core["helper"], cur)
        return "<%s as Ber>::dec(d, &%s)?" % (self.member_type(m), cur)

    def is_string(self, rust):
        """Whether a Rust type is Text or OctetString (through aliases): decoded in place."""
        while rust in self.aliases:
            rust = self.aliases[rust][0]
        return rust in ("Text", "OctetString")

    def dec_expr(self, m, c):
        """Expression decoding member m from the matched TLV variable c."""
        lines, cur = self.chain_lines(m, c)
        call = self.core_call(m, cur)
        if lines:
            return "{ %s %s }" % (" ".join(lines), call)
        return call

    def dec_into_stmts(self, m, c, target):
        """Statements decoding member m from TLV variable c straight into `target`."""
        lines, cur = self.chain_lines(m, c)
        ty = self.member_type(m)
        if m["core"]["kind"] in ("seq", "choice") or self.is_string(m["core"]["rust"]):
            if m["optional"]:
                lines.append("<%s as Ber>::dec_into(d, &%s, %s.get_or_insert_with(Default::default))?;" % (ty, cur, target))
            else:
                lines.append("<%s as Ber>::dec_into(d, &%s, &mut %s)?;" % (ty, cur, target))
            return lines
        call = self.core_call(m, cur)
        lines.append("%s = %s;" % (target, "Some(%s)" % call if m["optional"] else call))
        return lines

    def enc_stmts(self, m, v, ind):
        pad = " " * ind
        out = []
        marks = []
        for i, t in enumerate(m["chain"]):
            out.append("%slet m%d = begin(out, %s, true);" % (pad, i, tag_lit(t)))
            marks.append("m%d" % i)
        core = m["core"]
        if core["kind"] == "seqof":
            out.append("%s%s_enc(%s, %s, out);" % (pad, core["helper"], v, tag_lit(core["tag"])))
        elif core["kind"] in ("choice", "any"):
            out.append("%sBer::enc(%s, Tag::NONE, out);" % (pad, v))
        else:
            out.append("%sBer::enc(%s, %s, out);" % (pad, v, tag_lit(core["tag"])))
        for mk in reversed(marks):
            out.append("%sfinish(out, %s);" % (pad, mk))
        return out

    # ----------------------------------------------------------------- code: types
    def doc_for(self, td):
        if td["asn1"]:
            return "ASN.1 `%s`." % td["asn1"]
        return "An anonymous ASN.1 type inside `%s`." % td["name"]

    def emit_seq(self, td, w):
        name = td["name"]
        w("/// %s" % self.doc_for(td))
        w("#[derive(Debug, Clone, PartialEq, Default)]")
        w("pub struct %s {" % name)
        seen = set()
        for m in td["members"]:
            f = m["field"]
            while f in seen or f == "unrecognized":
                f += "_"
            m["field"] = f
            seen.add(f)
            ty = self.member_type(m)
            if m["optional"]:
                ty = "Option<%s>" % ty
            w("    /// `%s`%s" % (m["asn1"], " (DEFAULT %s)" % json.dumps(m["default"]) if m["default"] is not None else (" (OPTIONAL)" if m["optional"] else "")))
            w("    pub %s: %s," % (f, ty))
        w("    /// Elements this codec does not know (vendor extensions), kept as raw TLVs.")
        w("    pub unrecognized: Unrecognized,")
        w("}")
        w("")
        # BER: decoded in place into a default value, so that nested structures are written
        # once where they end up instead of being moved up through every level.
        w("impl Ber for %s {" % name)
        w("    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError> {")
        w("        let mut v = Self::default();")
        w("        Self::dec_into(d, tlv, &mut v)?;")
        w("        Ok(v)")
        w("    }")
        w("    fn dec_into(d: &Dec<'_>, tlv: &Tlv, out: &mut Self) -> Result<(), DecError> {")
        w("        d.need_constructed(tlv)?;")
        w("        let mut it = d.children(tlv)?;")
        if td["members"]:
            w("        let mut seen = 0u32;")
            w("        let mut idx = 0usize;")
        w("        let mut c = Tlv::EMPTY;")
        w("        while it.next_into(&mut c)? {")
        # One match over the raw tag: the compiler turns it into a jump table or a binary
        # search; the guards keep the members in order and each at most once, as before.
        w("            match c.tag.raw() {")
        wild = False
        for i, m in enumerate(td["members"]):
            pat = self.pattern(m)
            w("                %s if idx <= %d && seen & (1 << %d) == 0 => {" % (pat, i, i))
            for line in self.dec_into_stmts(m, "c", "out.%s" % m["field"]):
                w("                    " + line)
            w("                    seen |= 1 << %d;" % i)
            w("                    idx = %d;" % (i + 1))
            w("                }")
        w("                _ => out.unrecognized.push(d.any(&c)),")
        w("            }")
        w("        }")
        for i, m in enumerate(td["members"]):
            if not m["optional"]:
                w("        if seen & (1 << %d) == 0 {" % i)
                w("            return Err(Error::MissingField { offset: tlv.start, type_name: %s, field: %s }.into());" % (json.dumps(name), json.dumps(m["asn1"])))
                w("        }")
        w("        Ok(())")
        w("    }")
        w("    fn enc(&self, tag: Tag, out: &mut Vec<u8>) {")
        w("        let mark = begin(out, tag, true);")
        for m in td["members"]:
            if m["optional"]:
                w("        if let Some(v) = &self.%s {" % m["field"])
                for s in self.enc_stmts(m, "v", 12):
                    w(s)
                w("        }")
            else:
                for s in self.enc_stmts(m, "&self.%s" % m["field"], 8):
                    w(s)
        w("        for u in &self.unrecognized {")
        w("            u.write(out);")
        w("        }")
        w("        finish(out, mark);")
        w("    }")
        w("}")
        w("")
        # Arbitrary (tests and fuzzing): values without unrecognized elements.
        w("#[cfg(any(test, fuzzing, feature = \"arbitrary\"))]")
        w("impl<'a> arbitrary::Arbitrary<'a> for %s {" % name)
        w("    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {")
        w("        Ok(Self {")
        for m in td["members"]:
            w("            %s: u.arbitrary()?," % m["field"])
        w("            unrecognized: Unrecognized::new(),")
        w("        })")
        w("    }")
        w("}")
        w("")
        # JER
        w("impl Jer for %s {" % name)
        w("    fn to_jer(&self) -> Value {")
        w("        let mut m = Map::new();")
        for m in td["members"]:
            key = json.dumps(m["asn1"])
            if m["default"] is not None:
                w("        match &self.%s {" % m["field"])
                w("            Some(v) => {")
                w("                m.insert(%s.into(), v.to_jer());" % key)
                w("            }")
                w("            None => {")
                w("                m.insert(%s.into(), jer::parse_default(%s));" % (key, json.dumps(json.dumps(m["default"]))))
                w("            }")
                w("        }")
            elif m["optional"]:
                w("        if let Some(v) = &self.%s {" % m["field"])
                w("            m.insert(%s.into(), v.to_jer());" % key)
                w("        }")
            else:
                w("        m.insert(%s.into(), self.%s.to_jer());" % (key, m["field"]))
        w("        Value::Object(m)")
        w("    }")
        w("    fn from_jer(v: &Value) -> Result<Self, Error> {")
        if td["members"]:
            w("        let o = jer::object(v, %s)?;" % json.dumps(name))
        else:
            w("        jer::object(v, %s)?;" % json.dumps(name))
        w("        Ok(Self {")
        for m in td["members"]:
            key = json.dumps(m["asn1"])
            if m["default"] is not None:
                w("            %s: jer::opt_default(o, %s, %s)?," % (m["field"], key, json.dumps(json.dumps(m["default"]))))
            elif m["optional"]:
                w("            %s: jer::opt(o, %s)?," % (m["field"], key))
            else:
                w("            %s: jer::req(o, %s, %s)?," % (m["field"], key, json.dumps(name)))
        w("            unrecognized: Unrecognized::new(),")
        w("        })")
        w("    }")
        w("}")
        w("")

    def emit_choice(self, td, w):
        name = td["name"]
        w("/// %s" % self.doc_for(td))
        w("#[derive(Debug, Clone, PartialEq)]")
        w("pub enum %s {" % name)
        seen = set()
        for m in td["members"]:
            v = m["variant"]
            while v in seen or v == "Unrecognized":
                v += "_"
            m["variant"] = v
            seen.add(v)
            w("    /// `%s`" % m["asn1"])
            ty = self.member_type(m)
            w("    %s(%s)," % (v, ty))
        w("    /// An alternative this codec does not know, kept as a raw TLV.")
        w("    Unrecognized(Any),")
        w("}")
        w("")
        w("impl Default for %s {" % name)
        w("    fn default() -> Self {")
        w("        Self::Unrecognized(Any::default())")
        w("    }")
        w("}")
        w("")
        w("impl %s {" % name)
        w("    /// Whether a TLV with this tag is one of this CHOICE's alternatives.")
        w("    pub(crate) fn has_tag(t: Tag) -> bool {")
        pats = [self.pattern(m) for m in td["members"]]
        if "_" in pats:
            w("        let _ = t;")
            w("        true")
        elif pats:
            w("        matches!(t.raw(), %s)" % " | ".join(pats))
        else:
            w("        let _ = t;")
            w("        false")
        w("    }")
        w("}")
        w("")
        w("impl Ber for %s {" % name)
        w("    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError> {")
        w("        let c = tlv;")
        w("        Ok(match c.tag.raw() {")
        wild = False
        for m in td["members"]:
            pat = self.pattern(m)
            w("            %s => Self::%s(%s)," % (pat, m["variant"], self.dec_expr(m, "*c").replace("&*c", "c")))
            if pat == "_":
                wild = True
                break
        if not wild:
            w("            _ => Self::Unrecognized(d.any(c)),")
        w("        })")
        w("    }")
        # In place: a SEQUENCE alternative is decoded where it will stay, inside the value
        # the caller holds, instead of being built on the stack and moved up.
        w("    fn dec_into(d: &Dec<'_>, tlv: &Tlv, out: &mut Self) -> Result<(), DecError> {")
        w("        let c = tlv;")
        w("        match c.tag.raw() {")
        wild = False
        for m in td["members"]:
            pat = self.pattern(m)
            if m["core"]["kind"] == "seq" or self.is_string(m["core"]["rust"]):
                lines, cur = self.chain_lines(m, "*c")
                w("            %s => {" % pat)
                for line in lines:
                    w("                " + line.replace("&*c", "c"))
                w("                *out = Self::%s(Default::default());" % m["variant"])
                w("                if let Self::%s(v) = out {" % m["variant"])
                w("                    <%s as Ber>::dec_into(d, %s, v)?;" % (self.member_type(m), "c" if cur == "*c" else "&" + cur))
                w("                }")
                w("            }")
            else:
                w("            %s => *out = Self::%s(%s)," % (pat, m["variant"], self.dec_expr(m, "*c").replace("&*c", "c")))
            if pat == "_":
                wild = True
                break
        if not wild:
            w("            _ => *out = Self::Unrecognized(d.any(c)),")
        w("        }")
        w("        Ok(())")
        w("    }")
        w("    fn enc(&self, _tag: Tag, out: &mut Vec<u8>) {")
        w("        match self {")
        for m in td["members"]:
            w("            Self::%s(v) => {" % m["variant"])
            for s in self.enc_stmts(m, "v", 16):
                w(s)
            w("            }")
        w("            Self::Unrecognized(a) => a.write(out),")
        w("        }")
        w("    }")
        w("}")
        w("")
        w("#[cfg(any(test, fuzzing, feature = \"arbitrary\"))]")
        w("impl<'a> arbitrary::Arbitrary<'a> for %s {" % name)
        w("    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {")
        w("        Ok(match u.choose_index(%d)? {" % len(td["members"]))
        for i, m in enumerate(td["members"]):
            w("            %d => Self::%s(u.arbitrary()?)," % (i, m["variant"]))
        w("            _ => return Err(arbitrary::Error::IncorrectFormat),")
        w("        })")
        w("    }")
        w("}")
        w("")
        w("impl Jer for %s {" % name)
        w("    fn to_jer(&self) -> Value {")
        w("        match self {")
        for m in td["members"]:
            w("            Self::%s(v) => jer::choice(%s, v.to_jer())," % (m["variant"], json.dumps(m["asn1"])))
        w("            Self::Unrecognized(a) => jer::choice(jer::UNRECOGNIZED, a.to_jer()),")
        w("        }")
        w("    }")
        w("    fn from_jer(v: &Value) -> Result<Self, Error> {")
        w("        let (k, v) = jer::single_key(v, %s)?;" % json.dumps(name))
        w("        match k {")
        for m in td["members"]:
            w("            %s => Ok(Self::%s(Jer::from_jer(v)?))," % (json.dumps(m["asn1"]), m["variant"]))
        w("            jer::UNRECOGNIZED => Ok(Self::Unrecognized(Jer::from_jer(v)?)),")
        w("            _ => Err(Error::Json { at: %s, problem: JsonProblem::UnknownAlternative }),"
          % json.dumps(name))
        w("        }")
        w("    }")
        w("}")
        w("")

    def emit_enum(self, td, w):
        name = td["name"]
        w("/// %s" % self.doc_for(td))
        w("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]")
        w("pub enum %s {" % name)
        seen = set()
        vals = []
        for num, ident in td["values"]:
            v = camel(ident)
            while v in seen or v == "Unrecognized":
                v += "_"
            seen.add(v)
            vals.append((num, ident, v))
            w("    /// `%s` (%d)" % (ident, num))
            w("    %s," % v)
        w("    /// A value this codec does not know.")
        w("    Unrecognized(i64),")
        w("}")
        w("")
        w("impl Default for %s {" % name)
        w("    fn default() -> Self {")
        w("        Self::%s" % vals[0][2])
        w("    }")
        w("}")
        w("")
        w("impl %s {" % name)
        w("    /// The number on the wire.")
        w("    pub fn value(self) -> i64 {")
        w("        match self {")
        for num, ident, v in vals:
            w("            Self::%s => %d," % (v, num))
        w("            Self::Unrecognized(n) => n,")
        w("        }")
        w("    }")
        w("    /// The value for a number on the wire.")
        w("    pub fn from_value(n: i64) -> Self {")
        w("        match n {")
        for num, ident, v in vals:
            w("            %d => Self::%s," % (num, v))
        w("            n => Self::Unrecognized(n),")
        w("        }")
        w("    }")
        w("    /// The ASN.1 identifier, if the value is known.")
        w("    pub fn name(self) -> Option<&'static str> {")
        w("        match self {")
        for num, ident, v in vals:
            w("            Self::%s => Some(%s)," % (v, json.dumps(ident)))
        w("            Self::Unrecognized(_) => None,")
        w("        }")
        w("    }")
        w("    /// The value for an ASN.1 identifier.")
        w("    pub fn from_name(s: &str) -> Option<Self> {")
        w("        match s {")
        for num, ident, v in vals:
            w("            %s => Some(Self::%s)," % (json.dumps(ident), v))
        w("            _ => None,")
        w("        }")
        w("    }")
        w("}")
        w("")
        w("impl Ber for %s {" % name)
        w("    fn dec(d: &Dec<'_>, tlv: &Tlv) -> Result<Self, DecError> {")
        w("        Ok(Self::from_value(<i64 as Ber>::dec(d, tlv)?))")
        w("    }")
        w("    fn enc(&self, tag: Tag, out: &mut Vec<u8>) {")
        w("        Ber::enc(&self.value(), tag, out);")
        w("    }")
        w("}")
        w("")
        w("#[cfg(any(test, fuzzing, feature = \"arbitrary\"))]")
        w("impl<'a> arbitrary::Arbitrary<'a> for %s {" % name)
        w("    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {")
        w("        const ALL: &[%s] = &[%s];" % (name, ", ".join("%s::%s" % (name, v) for _, _, v in vals)))
        w("        u.choose(ALL).copied()")
        w("    }")
        w("}")
        w("")
        w("impl Jer for %s {" % name)
        w("    fn to_jer(&self) -> Value {")
        w("        jer::enumerated(self.name(), self.value())")
        w("    }")
        w("    fn from_jer(v: &Value) -> Result<Self, Error> {")
        w("        jer::from_enumerated(v, %s, Self::from_name, Self::from_value)" % json.dumps(name))
        w("    }")
        w("}")
        w("")

    def emit_seqof_helpers(self, w):
        for sig, (fname, elem) in sorted(self.seqof_helpers.items(), key=lambda x: int(x[1][0].split("_")[1])):
            ty = self.member_type(elem)
            w("fn %s(d: &Dec<'_>, tlv: &Tlv) -> Result<Vec<%s>, DecError> {" % (fname, ty))
            w("    d.need_constructed(tlv)?;")
            w("    let mut it = d.children(tlv)?;")
            w("    let mut v = Vec::new();")
            w("    let mut c = Tlv::EMPTY;")
            w("    while it.next_into(&mut c)? {")
            w("        if !(%s) {" % self.match_expr(elem, "c.tag"))
            w("            return Err(d.unexpected(&c, %s));" % json.dumps(ty))
            w("        }")
            if elem["core"]["kind"] in ("seq", "choice") or self.is_string(elem["core"]["rust"]):
                # In place, like the members of a SEQUENCE.
                w("        v.push(Default::default());")
                w("        if let Some(slot) = v.last_mut() {")
                for line in self.dec_into_stmts(elem, "c", "*slot"):
                    w("            " + line)
                w("        }")
            else:
                w("        v.push(%s);" % self.dec_expr(elem, "c"))
            w("    }")
            w("    Ok(v)")
            w("}")
            w("")
            w("fn %s_enc(v: &[%s], tag: Tag, out: &mut Vec<u8>) {" % (fname, ty))
            w("    let mark = begin(out, tag, true);")
            w("    for e in v {")
            for s in self.enc_stmts(elem, "e", 8):
                w(s)
            w("    }")
            w("    finish(out, mark);")
            w("}")
            w("")

    # ----------------------------------------------------------------- roots
    def root(self, module, tname):
        node = self.spec.modules[module][tname].type
        m = self.member(node, "")
        m["asn1"] = tname
        return m

    def run(self):
        self.in_progress = set()
        self.core_cache = {}
        ops = self.ops["operations"]
        errs = self.ops["errors"]
        op_roots = []
        for name, rec in sorted(ops.items(), key=lambda kv: kv[1]["code"]):
            arg = self.root(rec["module"], rec["argument"]) if "argument" in rec else None
            res = self.root(rec["module"], rec["result"]) if "result" in rec else None
            op_roots.append((name, rec, arg, res))
        err_roots = []
        for name, rec in sorted(errs.items(), key=lambda kv: kv[1]["code"]):
            err_roots.append((name, rec, self.root(rec["module"], rec["parameter"])))
        before = set(self.typedefs)
        rose = self.root("CSTA-ROSE-standin", "ROSE-PDU")
        self.rose_types = set(self.typedefs) - before
        acse = self.root("ACSE-1", "ACSE-apdu")
        ui = self.root("CSTA-application-context-information-csta3", "ACSEUserInformationForCSTA")
        self.decide_boxing()
        for _, _, arg, res in op_roots:
            for m in (arg, res):
                if m is not None and m["core"]["kind"] in ("seq", "choice") and self.est(m["core"]["rust"]) > 128:
                    m["boxed"] = True
        self.write_types()
        self.write_ops(op_roots, err_roots, rose, acse, ui)
        write_schema(self, op_roots, err_roots)
        write_xml_de(self)

    def write_types(self):
        lines = []
        w = lines.append
        w("// @generated by codegen/gen_types.py from the ECMA-285 ASN.1 modules. Do not edit.")
        w("//! Every ECMA-285 type the CSTA services, events, ROSE and ACSE envelopes use, with BER and JER codecs.")
        w("")
        w("use serde_json::{Map, Value};")
        w("")
        w("use crate::ber::{begin, finish, Any, Ber, BitString, Dec, DecError, OctetString, Oid, Tag, Text, Tlv, Unrecognized};")
        w("use crate::error::{Error, JsonProblem};")
        w("use crate::jer::{self, Jer};")
        w("")
        for name in sorted(self.aliases):
            target, asn1 = self.aliases[name]
            w("/// ASN.1 `%s`." % asn1)
            w("pub type %s = %s;" % (name, target))
            w("")
        for name in self.order:
            td = self.typedefs[name]
            if td["kind"] == "seq":
                self.emit_seq(td, w)
            elif td["kind"] == "choice":
                self.emit_choice(td, w)
            else:
                self.emit_enum(td, w)
        self.emit_seqof_helpers(w)
        with open(os.path.join(OUT_DIR, "types.rs"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def write_ops(self, op_roots, err_roots, rose, acse, ui):
        lines = []
        w = lines.append
        w("// @generated by codegen/gen_types.py from the ECMA-285 OPERATION and ERROR objects. Do not edit.")
        w("//! CSTA operations and errors: codes, and typed arguments, results and error parameters.")
        w("")
        w("use serde_json::Value;")
        w("")
        w("use crate::ber::{begin, finish, Ber, Dec, DecError, Tag, Tlv};")
        w("use crate::error::Error;")
        w("#[allow(unused_imports)]")
        w("use crate::jer::Jer;")
        w("use super::types::*;")
        w("")
        # Operation enum
        w("/// A CSTA operation (ECMA-285 OPERATION object), by its local code.")
        w("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]")
        w("#[non_exhaustive]")
        w("pub enum Operation {")
        for name, rec, arg, res in op_roots:
            w("    /// `%s` (code %d)" % (name, rec["code"]))
            w("    %s," % camel(name))
        w("}")
        w("")
        w("impl Operation {")
        w("    /// Every operation, in code order.")
        w("    pub const ALL: &'static [Self] = &[%s];" % ", ".join("Self::%s" % camel(n) for n, _, _, _ in op_roots))
        w("    /// The local operation code.")
        w("    pub fn code(self) -> i64 {")
        w("        match self {")
        for name, rec, arg, res in op_roots:
            w("            Self::%s => %d," % (camel(name), rec["code"]))
        w("        }")
        w("    }")
        w("    /// The operation with this local code.")
        w("    pub fn from_code(code: i64) -> Option<Self> {")
        w("        match code {")
        for name, rec, arg, res in op_roots:
            w("            %d => Some(Self::%s)," % (rec["code"], camel(name)))
        w("            _ => None,")
        w("        }")
        w("    }")
        w("    /// The ASN.1 name of the OPERATION object, as the JER documents use it.")
        w("    pub fn name(self) -> &'static str {")
        w("        match self {")
        for name, rec, arg, res in op_roots:
            w("            Self::%s => %s," % (camel(name), json.dumps(name)))
        w("        }")
        w("    }")
        w("    /// The operation with this ASN.1 name.")
        w("    pub fn from_name(s: &str) -> Option<Self> {")
        w("        match s {")
        for name, rec, arg, res in op_roots:
            w("            %s => Some(Self::%s)," % (json.dumps(name), camel(name)))
        w("            _ => None,")
        w("        }")
        w("    }")
        w("    /// Whether the operation has a RESULT (operations that always respond FALSE have none).")
        w("    pub fn has_result(self) -> bool {")
        w("        match self {")
        for name, rec, arg, res in op_roots:
            w("            Self::%s => %s," % (camel(name), "true" if res else "false"))
        w("        }")
        w("    }")
        w("}")
        w("")
        for kind, idx, label in (("Argument", 2, "argument"), ("OpResult", 3, "result")):
            items = [(n, rec, r[idx - 2]) for n, rec, *r in op_roots]
            items = [(n, rec, m) for n, rec, m in items if m is not None]
            w("/// The typed %s of a CSTA operation." % label)
            w("#[derive(Debug, Clone, PartialEq)]")
            w("#[non_exhaustive]")
            w("pub enum %s {" % kind)
            for n, rec, m in items:
                w("    /// `%s` %s `%s`" % (n, label, m["asn1"]))
                w("    %s(%s)," % (camel(n), self.member_type(m)))
            w("}")
            w("")
            w("impl %s {" % kind)
            w("    /// The operation this %s belongs to." % label)
            w("    pub fn operation(&self) -> Operation {")
            w("        match self {")
            for n, rec, m in items:
                w("            Self::%s(_) => Operation::%s," % (camel(n), camel(n)))
            w("        }")
            w("    }")
            # Arguments are decoded into the invoke's payload where they stay (the event path);
            # results are returned. One arm per operation either way.
            if kind == "Argument":
                w("    /// Decodes the %s of `op` from one TLV into `out`, where it stays; `false` if" % label)
                w("    /// the operation has no %s (and `out` is left alone)." % label)
                w("    pub(crate) fn dec_payload(")
                w("        op: Operation,")
                w("        d: &Dec<'_>,")
                w("        c: &Tlv,")
                w("        out: &mut Option<crate::pdu::Payload<Self>>,")
                w("    ) -> Result<bool, DecError> {")
                w("        match op {")
                store, none, tail = "*out = Some(crate::pdu::Payload::Typed(%s));", "return Ok(false)", "        }\n        Ok(true)"
            else:
                w("    /// Decodes the %s of `op` from one TLV; `None` if the operation has no %s." % (label, label))
                w("    pub(crate) fn dec(op: Operation, d: &Dec<'_>, c: &Tlv) -> Result<Option<Self>, DecError> {")
                w("        Ok(Some(match op {")
                store, none, tail = "%s", "return Ok(None)", "        }))"
            for n, rec, m in items:
                cond = self.match_expr(m, "c.tag")
                w("            Operation::%s => {" % camel(n))
                w("                if !(%s) {" % cond)
                w("                    return Err(d.unexpected(c, %s));" % json.dumps(m["asn1"]))
                w("                }")
                value = "Self::%s(%s)" % (camel(n), self.dec_expr(m, "*c").replace("&*c", "c"))
                w("                " + store % value)
                w("            }")
            w("            #[allow(unreachable_patterns)]")
            w("            _ => %s," % none)
            for line in tail.split("\n"):
                w(line)
            w("    }")
            w("    /// Encodes the %s as one TLV." % label)
            w("    pub(crate) fn enc(&self, out: &mut Vec<u8>) {")
            w("        match self {")
            for n, rec, m in items:
                w("            Self::%s(v) => {" % camel(n))
                for s in self.enc_stmts(m, "v", 16):
                    w(s)
                w("            }")
            w("        }")
            w("    }")
            w("}")
            w("")
            w("#[cfg(any(test, fuzzing, feature = \"arbitrary\"))]")
            w("impl<'a> arbitrary::Arbitrary<'a> for %s {" % kind)
            w("    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {")
            w("        Ok(match u.choose_index(%d)? {" % len(items))
            for i, (n, rec, m) in enumerate(items):
                w("            %d => Self::%s(u.arbitrary()?)," % (i, camel(n)))
            w("            _ => return Err(arbitrary::Error::IncorrectFormat),")
            w("        })")
            w("    }")
            w("}")
            w("")
            w("impl %s {" % kind)
            w("    /// The X.697 JER form of the %s." % label)
            w("    pub fn to_jer(&self) -> Value {")
            w("        match self {")
            for n, rec, m in items:
                w("            Self::%s(v) => v.to_jer()," % camel(n))
            w("        }")
            w("    }")
            w("    /// Reads the %s of `op` from its X.697 JER form; `None` if the operation has none." % label)
            w("    pub fn from_jer(op: Operation, v: &Value) -> Result<Option<Self>, Error> {")
            w("        Ok(Some(match op {")
            for n, rec, m in items:
                w("            Operation::%s => Self::%s(Jer::from_jer(v)?)," % (camel(n), camel(n)))
            w("            #[allow(unreachable_patterns)]")
            w("            _ => return Ok(None),")
            w("        }))")
            w("    }")
            w("}")
            w("")
        # errors
        w("/// A CSTA error (ECMA-285 ERROR object), by its local code.")
        w("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]")
        w("#[non_exhaustive]")
        w("pub enum ErrorCode {")
        for name, rec, m in err_roots:
            w("    /// `%s` (code %d)" % (name, rec["code"]))
            w("    %s," % camel(name))
        w("}")
        w("")
        w("impl ErrorCode {")
        w("    /// The local error code.")
        w("    pub fn code(self) -> i64 {")
        w("        match self {")
        for name, rec, m in err_roots:
            w("            Self::%s => %d," % (camel(name), rec["code"]))
        w("        }")
        w("    }")
        w("    /// The error with this local code.")
        w("    pub fn from_code(code: i64) -> Option<Self> {")
        w("        match code {")
        for name, rec, m in err_roots:
            w("            %d => Some(Self::%s)," % (rec["code"], camel(name)))
        w("            _ => None,")
        w("        }")
        w("    }")
        w("    /// The ASN.1 name of the ERROR object.")
        w("    pub fn name(self) -> &'static str {")
        w("        match self {")
        for name, rec, m in err_roots:
            w("            Self::%s => %s," % (camel(name), json.dumps(name)))
        w("        }")
        w("    }")
        w("    /// The error with this ASN.1 name.")
        w("    pub fn from_name(s: &str) -> Option<Self> {")
        w("        match s {")
        for name, rec, m in err_roots:
            w("            %s => Some(Self::%s)," % (json.dumps(name), camel(name)))
        w("            _ => None,")
        w("        }")
        w("    }")
        w("}")
        w("")
        w("/// The typed parameter of a CSTA error.")
        w("#[derive(Debug, Clone, PartialEq)]")
        w("#[non_exhaustive]")
        w("pub enum ErrorParameter {")
        for name, rec, m in err_roots:
            w("    /// `%s` parameter `%s`" % (name, m["asn1"]))
            w("    %s(%s)," % (camel(name), m["core"]["rust"]))
        w("}")
        w("")
        w("impl ErrorParameter {")
        w("    /// The error this parameter belongs to.")
        w("    pub fn error(&self) -> ErrorCode {")
        w("        match self {")
        for name, rec, m in err_roots:
            w("            Self::%s(_) => ErrorCode::%s," % (camel(name), camel(name)))
        w("        }")
        w("    }")
        w("    pub(crate) fn dec(e: ErrorCode, d: &Dec<'_>, c: &Tlv) -> Result<Self, DecError> {")
        w("        Ok(match e {")
        for name, rec, m in err_roots:
            w("            ErrorCode::%s => {" % camel(name))
            w("                if !(%s) {" % self.match_expr(m, "c.tag"))
            w("                    return Err(d.unexpected(c, %s));" % json.dumps(m["asn1"]))
            w("                }")
            w("                Self::%s(%s)" % (camel(name), self.dec_expr(m, "*c").replace("&*c", "c")))
            w("            }")
        w("        })")
        w("    }")
        w("    pub(crate) fn enc(&self, out: &mut Vec<u8>) {")
        w("        match self {")
        for name, rec, m in err_roots:
            w("            Self::%s(v) => {" % camel(name))
            for s in self.enc_stmts(m, "v", 16):
                w(s)
            w("            }")
        w("        }")
        w("    }")
        w("    /// The X.697 JER form of the parameter.")
        w("    pub fn to_jer(&self) -> Value {")
        w("        match self {")
        for name, rec, m in err_roots:
            w("            Self::%s(v) => v.to_jer()," % camel(name))
        w("        }")
        w("    }")
        w("    /// Reads the parameter of error `e` from its X.697 JER form.")
        w("    pub fn from_jer(e: ErrorCode, v: &Value) -> Result<Self, Error> {")
        w("        Ok(match e {")
        for name, rec, m in err_roots:
            w("            ErrorCode::%s => Self::%s(Jer::from_jer(v)?)," % (camel(name), camel(name)))
        w("        })")
        w("    }")
        w("}")
        w("")
        # root codecs for ROSE, ACSE and the CSTA user information
        for fn, m in (("rose_pdu", rose), ("acse_apdu", acse), ("csta_user_information", ui)):
            ty = m["core"]["rust"]
            w("/// Decodes a `%s` from one TLV." % m["asn1"])
            w("pub(crate) fn dec_%s(d: &Dec<'_>, c: &Tlv) -> Result<%s, DecError> {" % (fn, ty))
            w("    if !(%s) {" % self.match_expr(m, "c.tag"))
            w("        return Err(d.unexpected(c, %s));" % json.dumps(m["asn1"]))
            w("    }")
            w("    Ok(%s)" % self.dec_expr(m, "*c").replace("&*c", "c"))
            w("}")
            w("")
            w("/// Encodes a `%s` as one TLV." % m["asn1"])
            w("pub(crate) fn enc_%s(v: &%s, out: &mut Vec<u8>) {" % (fn, ty))
            for s in self.enc_stmts(m, "v", 4):
                w(s)
            w("}")
            w("")
        with open(os.path.join(OUT_DIR, "ops.rs"), "w") as f:
            f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--asn1", required=True, help="the asn1/build directory of the CSTA oracle")
    a = ap.parse_args()
    os.makedirs(OUT_DIR, exist_ok=True)
    Gen(a.asn1).run()



# ------------------------------------------------------------------------------------- schema
PRIMS = ["OctetString", "Text", "i64", "bool", "()", "BitString", "Oid", "Any"]
PRIM_KIND = {"OctetString": "Kind::Octets", "Text": "Kind::Text", "i64": "Kind::Int", "bool": "Kind::Bool",
             "()": "Kind::Null", "BitString": "Kind::Bits", "Oid": "Kind::Oid", "Any": "Kind::Any"}


def write_schema(g, op_roots, err_roots):
    """A table of every type's shape, for the schema-driven ECMA-323 XML codec."""
    index = {p: i for i, p in enumerate(PRIMS)}
    entries = [(p, PRIM_KIND[p]) for p in PRIMS]

    def resolve(rust):
        seen = set()
        while rust in g.aliases and rust not in seen:
            seen.add(rust)
            rust = g.aliases[rust][0]
        return rust

    seqofs = {}

    def ty_of(m):
        core = m["core"]
        if core["kind"] == "seqof":
            elem = core["elem"]
            key = core["helper"]
            if key not in seqofs:
                seqofs[key] = None
                idx = len(entries)
                entries.append(None)
                et = ty_of(elem)
                elem_rust = resolve(elem["core"]["rust"])
                item = elem_rust[:1].lower() + elem_rust[1:] if not elem_rust.startswith("Vec<") else "item"
                entries[idx] = (key, "Kind::SeqOf(%d, %s)" % (et, json.dumps(item)))
                seqofs[key] = idx
            return seqofs[key]
        rust = resolve(core["rust"])
        if rust.startswith("Vec<"):
            # an alias of a SEQUENCE OF: handled through the helper above
            return ty_of({"core": dict(core, kind="seqof")})
        return index[rust]

    for name in g.order:
        index[name] = len(entries)
        entries.append(None)
    for name in g.order:
        td = g.typedefs[name]
        short = td["asn1"].split(".")[-1] if td["asn1"] else name
        if td["kind"] == "enum":
            kind = "Kind::Enum"
        else:
            ms = ", ".join("Member { name: %s, ty: %d, optional: %s }" % (json.dumps(m["asn1"]), ty_of(m), "true" if m["optional"] else "false")
                           for m in td["members"])
            kind = "Kind::%s(&[%s])" % ("Seq" if td["kind"] == "seq" else "Choice", ms)
        entries[index[name]] = (short, kind)
    lines = []
    w = lines.append
    w("// @generated by codegen/gen_types.py from the ECMA-285 ASN.1 modules. Do not edit.")
    w("//! The shape of every generated type, for the schema-driven XML (ECMA-323) codec.")
    w("")
    w("use crate::xml::schema::{Kind, Member, TypeInfo};")
    w("")
    w("/// Every type, by index.")
    w("pub(crate) static TYPES: &[TypeInfo] = &[")
    for i, (name, kind) in enumerate(entries):
        w("    TypeInfo { name: %s, kind: %s }, // %d" % (json.dumps(name), kind, i))
    w("];")
    w("")
    w("/// The argument and result types of each operation, by ASN.1 operation name.")
    w("pub(crate) static OPERATIONS: &[(&str, Option<u16>, Option<u16>)] = &[")
    for name, rec, arg, res in op_roots:
        a = ty_of(arg) if arg else None
        r = ty_of(res) if res else None
        w("    (%s, %s, %s)," % (json.dumps(name), "Some(%d)" % a if a is not None else "None", "Some(%d)" % r if r is not None else "None"))
    w("];")
    w("")
    w("/// The parameter type of each error, by ASN.1 error name.")
    w("pub(crate) static ERRORS: &[(&str, u16)] = &[")
    for name, rec, m in err_roots:
        w("    (%s, %d)," % (json.dumps(name), ty_of(m)))
    w("];")
    with open(os.path.join(OUT_DIR, "schema.rs"), "w") as f:
        f.write("\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------- XML decode
XML_NAMES = {"crossRefIdentifier": "monitorCrossRefID",
             "systemResourceAvailability": "systemResourceAvailibility"}
XML_SPECIAL = {"DeviceID": "device_id", "ConnectionID": "connection_id"}


def xml_names(asn1):
    """The element names that stand for an ASN.1 member (as `member_for` in xml/mod.rs)."""
    names = [XML_NAMES.get(asn1, asn1)]
    if asn1 not in names:
        names.append(asn1)
    return names


def lower_first(s):
    return s[:1].lower() + s[1:]


def upper_first(s):
    return s[:1].upper() + s[1:]


def event_elements(ev):
    """Every root element name `event_for_element` in xml/mod.rs accepts for event `ev`."""
    out = []
    bases = [ev]
    if ev == "transferred":
        out += ["TransferedEvent"]
    if ev.endswith("Event"):
        out += [upper_first(ev), lower_first(ev)]
    for b in bases:
        out += [upper_first(b) + "Event", lower_first(b) + "Event"]
    seen = []
    for o in out:
        if o not in seen:
            seen.append(o)
    return seen


def write_xml_de(g):
    """`FromXml` for every generated type, and the event dispatch, for the typed XML fast path."""
    lines = []
    w = lines.append
    w("// @generated by codegen/gen_types.py from the ECMA-285 ASN.1 modules. Do not edit.")
    w("//! ECMA-323 XML straight into the generated types (see `xml::typed`).")
    w("")
    w("use crate::ber::{Any, BitString, OctetString, Oid, Text};")
    w("use crate::error::{Error, XmlProblem};")
    w("use crate::generated::types::*;")
    w("use crate::xml::tree::Node;")
    w("use crate::xml::typed::{self, FromXml, X, bad};")
    w("")
    for name in g.order:
        td = g.typedefs[name]
        short = td["asn1"].split(".")[-1] if td["asn1"] else name
        w("impl FromXml for %s {" % name)
        w("    fn from_xml(x: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {")
        if short in XML_SPECIAL:
            w("        typed::%s(x, n)" % XML_SPECIAL[short])
            w("    }")
        elif short == "CSTAPrivateData":
            w("        Ok(typed::private_data(x, n))")
            w("    }")
            w("    fn from_xml_item(x: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {")
            w("        Ok(typed::private_item(x, n))")
            w("    }")
        elif td["kind"] == "enum":
            w("        Self::from_name(n.text.trim()).ok_or_else(|| bad(n, XmlProblem::BadValue))")
            w("    }")
        elif td["kind"] == "seq":
            ms = td["members"]
            w("        let mut v = Self::default();")
            req = [m for m in ms if not m["optional"]]
            for m in req:
                w("        let mut has_%s = false;" % m["field"])
            if ms:
                w("        for c in x.tree.children(n) {")
                w("            match c.name {")
                used = set()
                for m in ms:
                    pats = [p for p in xml_names(m["asn1"]) if p not in used]
                    used.update(pats)
                    if not pats:
                        continue
                    w("                %s => {" % " | ".join(json.dumps(p) for p in pats))
                    if m["default"] is not None:
                        w("                    let d: %s = FromXml::from_xml(x, c)?;" % g.member_type(m))
                        w("                    v.%s = if typed::is_default(&d, %s) { None } else { Some(d) };"
                          % (m["field"], json.dumps(json.dumps(m["default"]))))
                    elif m["optional"]:
                        w("                    v.%s = Some(FromXml::from_xml(x, c)?);" % m["field"])
                    else:
                        w("                    v.%s = FromXml::from_xml(x, c)?;" % m["field"])
                        w("                    has_%s = true;" % m["field"])
                    w("                }")
                w("                _ => {}")
                w("            }")
                w("        }")
            for m in req:
                w("        if !has_%s {" % m["field"])
                w("            return Err(bad(n, XmlProblem::MissingElement(%s)));" % json.dumps(m["asn1"]))
                w("        }")
            w("        Ok(v)")
            w("    }")
        else:  # choice
            def arms(ind, target):
                used = set()
                for m in td["members"]:
                    pats = [p for p in xml_names(m["asn1"]) if p not in used]
                    used.update(pats)
                    if not pats:
                        continue
                    w("%s%s => return Ok(Self::%s(FromXml::from_xml(x, %s)?))," % (ind, " | ".join(json.dumps(p) for p in pats), m["variant"], target))
            w("        for c in x.tree.children(n) {")
            w("            match c.name {")
            arms("                ", "c")
            w("                _ => {}")
            w("            }")
            w("        }")
            w("        Err(bad(n, XmlProblem::UnknownElement))")
            w("    }")
            w("    fn from_xml_item(x: &X<'_, '_>, n: &Node<'_>) -> Result<Self, Error> {")
            w("        match n.name {")
            arms("            ", "n")
            w("            _ => Self::from_xml(x, n),")
            w("        }")
            w("    }")
        w("}")
        w("")
    # Events: root element -> EventSpecificInfo.
    esi = g.typedefs["EventSpecificInfo"]
    w("/// The event a root element stands for, read straight into its type; `None` when the")
    w("/// element is not an event.")
    w("pub(crate) fn event_from_xml(x: &X<'_, '_>, n: &Node<'_>) -> Option<Result<EventSpecificInfo, Error>> {")
    w("    Some(match n.name {")
    taken = set()
    for cat in esi["members"]:
        ctd = g.typedefs[cat["core"]["rust"]]
        for ev in ctd["members"]:
            pats = [p for p in event_elements(ev["asn1"]) if p not in taken]
            taken.update(pats)
            if not pats:
                continue
            w("        %s => FromXml::from_xml(x, n).map(|e| EventSpecificInfo::%s(%s::%s(e)))," % (
                " | ".join(json.dumps(p) for p in pats), cat["variant"], cat["core"]["rust"], ev["variant"]))
    w("        _ => return None,")
    w("    })")
    w("}")
    with open(os.path.join(OUT_DIR, "xml_de.rs"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
