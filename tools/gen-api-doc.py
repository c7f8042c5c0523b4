#!/usr/bin/env python3
"""Writes docs/api.md, the API reference, from the comments of include/gemmnet.h.

Python 3 standard library only. What it reads:
  /*==== Name ====*/ ... */   a section; text after the title line is the section's introduction
  /** ... */                  documents the declarations that follow it directly (no blank line);
                              several adjacent declarations share one entry
  /**< ... */                 documents the struct field, enumerator or macro before it
  /* ... */ inside an enum or struct body: a note between its members
Declarations are functions, typedefs (enum, struct, opaque, function pointer) and #define.
Everything before the first section (guard, export macro) is skipped, except the opening
comment, which becomes the page's introduction.

usage: gen-api-doc.py [--header H] [--output F]   write the reference (default docs/api.md)
       gen-api-doc.py [--header H] --check F       exit 1 with a diff if F is out of date
       gen-api-doc.py [--header H] --names         print every documented name, one per line
"""

import argparse
import difflib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDENT = re.compile(r"[A-Za-z_]\w*")


class Item:
    """One top-level piece of the header: kind is section, doc, comment, define, pp or decl."""

    def __init__(self, kind, text, first, last):
        self.kind, self.text, self.first, self.last = kind, text, first, last


# ---- scanning ----------------------------------------------------------------------------


def skip_quoted(src, i):
    """Index just past the string or character literal starting at src[i]."""
    q, i = src[i], i + 1
    while i < len(src) and src[i] != q:
        i += 2 if src[i] == "\\" else 1
    return i + 1


def comment_end(src, i):
    j = src.find("*/", i + 2)
    if j < 0:
        raise SyntaxError("unterminated comment at line %d" % (src.count("\n", 0, i) + 1))
    return j + 2


def head(src, i, j):
    """The text of the statement src[i:j] before its first '{', comments removed."""
    text = src[i:j]
    k = text.find("{")
    return re.sub(r"/\*.*?\*/", " ", text[:k] if k >= 0 else text, flags=re.S)


def scan(src):
    """Splits the header into Items, with the 1-based lines each one spans."""
    items, i, n = [], 0, len(src)

    def line(pos):
        return src.count("\n", 0, pos) + 1

    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
        elif src.startswith("/*", i):
            j = comment_end(src, i)
            text = src[i:j]
            if re.match(r"/\*=+", text):
                kind = "section"
            elif text.startswith("/**<"):
                kind = "trailing"
            elif text.startswith("/**") and not text.startswith("/**/"):
                kind = "doc"
            else:
                kind = "comment"
            items.append(Item(kind, text, line(i), line(j - 1)))
            i = j
        elif src.startswith("//", i):
            i = src.find("\n", i) if "\n" in src[i:] else n
        elif c == "#":
            j = i
            while j < n and src[j] != "\n":
                if src.startswith("/*", j):  # a comment may span lines
                    j = comment_end(src, j)
                elif src[j] == "\\" and j + 1 < n and src[j + 1] == "\n":
                    j += 2
                else:
                    j += 1
            text = src[i:j]
            kind = "define" if re.match(r"#\s*define\b", text) else "pp"
            items.append(Item(kind, text, line(i), line(max(i, j - 1))))
            i = j
        elif re.match(r'extern\s*"C"\s*\{', src[i:]):
            i = src.index("{", i) + 1
        elif c == "}":  # the end of extern "C"
            i += 1
        else:
            j, depth = i, 0
            while j < n:
                if src.startswith("/*", j):
                    j = comment_end(src, j)
                    continue
                if src[j] in "\"'":
                    j = skip_quoted(src, j)
                    continue
                if src[j] in "{(":
                    depth += 1
                elif src[j] in "})":
                    depth -= 1
                    # the end of an inline function's body: no ';' follows it
                    if src[j] == "}" and depth == 0 and re.search(r"\)\s*$", head(src, i, j)):
                        break
                elif src[j] == ";" and depth == 0:
                    break
                j += 1
            if j >= n:
                raise SyntaxError("declaration without ';' at line %d" % line(i))
            items.append(Item("decl", src[i : j + 1], line(i), line(j)))
            i = j + 1
    return items


# ---- comments to lines -------------------------------------------------------------------


def comment_lines(text):
    """The lines of a comment without its markers: a list of (indent, text) pairs, (0, '')
    for blank lines, indents relative to the least indented line after the first."""
    body = re.sub(r"^/\*+<?", "", text)
    body = re.sub(r"\*+/$", "", body)
    raw = body.split("\n")
    lines = [raw[0].strip()]
    for r in raw[1:]:
        r = re.sub(r"^\s*\*(?!/)", "", r.rstrip())
        lines.append("" if re.fullmatch(r"[\s*=]*", r) else r)
    indents = [len(s) - len(s.lstrip()) for s in lines[1:] if s.strip()]
    base = min(indents) if indents else 0
    out = [(0, lines[0])] if lines[0] else []
    for s in lines[1:]:
        if s.strip():
            out.append((max(0, len(s) - len(s.lstrip()) - base), s.strip()))
        elif out:
            out.append((0, ""))
    while out and not out[-1][1]:
        out.pop()
    return out


def section_title(text):
    first = text.split("\n", 1)[0]
    return re.sub(r"^/\*=+\s*|\s*=*(\*/)?\s*$", "", first).strip()


def flat(text):
    """A short comment (field or enumerator doc) as one line."""
    return " ".join(t for _, t in comment_lines(text) if t)


# ---- markdown ----------------------------------------------------------------------------

PATH = r"\b(?:[\w-]+/)+[\w.-]+\.\w+|\b[\w-]+\.(?:md|c|h|py|gnn|csv|txt|build)\b"
ALNUM = r"(?:[^\W_]|[∇∂])"
PIECE = r"(?:[_^](?:\{[^{}\s]*\}|%s+)|_|\*%s+|\*(?=_)|(?<=_)\*)" % (ALNUM, ALNUM)
WORD = r"\*?_*%s+%s*(?:(?:->|\.)[A-Za-z_]\w*)*(?:\(\))?" % (ALNUM, PIECE)
TOKEN = re.compile("(%s)|(%s)" % (PATH, WORD))
SPECIAL = re.compile(r"([\\*_\[\]<`|])")


class Names:
    """Every documented name and the anchor of the entry that documents it."""

    def __init__(self):
        self.anchor = {}
        self.used = set()

    def new_anchor(self, name):
        a = base = name.lower()
        k = 2
        while a in self.used:
            a, k = "%s-%d" % (base, k), k + 1
        self.used.add(a)
        return a


def escape(text):
    return SPECIAL.sub(r"\\\1", text)


def inline(text, names, table=False):
    """Prose to markdown: names link to their entries, identifiers and math become code, the
    remaining markdown characters are escaped."""
    out = []
    for k, part in enumerate(re.split(r"(`[^`\n]+`)", text)):
        if k % 2:  # already a code span
            word = part[1:-1]
            out.append("[%s](#%s)" % (part, names.anchor[word]) if word in names.anchor else part)
            continue
        pos = 0
        for m in TOKEN.finditer(part):
            out.append(escape(part[pos : m.start()]))
            tok, pos = m.group(0), m.end()
            head = re.match(r"\*?(\w*)", tok).group(1)
            if not m.group(1) and head in names.anchor:
                out.append("[`%s`](#%s)" % (tok, names.anchor[head]))
            elif m.group(1) or re.search(r"[_^*]|->|\(\)", tok):
                out.append("`%s`" % tok)
            else:
                out.append(escape(tok))
        out.append(escape(part[pos:]))
    s = "".join(out)
    if table:
        s = re.sub(r"(?<!\\)\|", r"\|", s)
    elif re.match(r"[#>+=-]|\d+[.)]", s):
        s = "\\" + s
    return s


def label_column(lines, i):
    """If lines[i] opens a hanging-indent block ('Numbers.   All data ...' with later lines
    aligned on 'All'), the label and the column of its text; else (None, indent)."""
    indent, text = lines[i]
    m = re.match(r"([A-Z][\w ()'/-]{0,30}[.:])( +)\S", text)
    if m:
        col = indent + m.end() - 1
        for ind, t in lines[i + 1 :]:
            if t and ind <= indent:
                break
            if t and ind <= col:  # the text column; a long label may push its own line past it
                return m.group(1), ind
    return None, 0


def render_text(lines, names):
    """Comment lines to markdown blocks: prose is reflowed, more deeply indented runs are kept
    as preformatted text, hanging-indent blocks get their label in bold."""
    blocks, i = [], 0
    while i < len(lines):
        if not lines[i][1]:
            i += 1
            continue
        label, col = label_column(lines, i)
        j = i + 1  # the block runs until a line back at the outer indent
        if label:
            while j < len(lines) and (not lines[j][1] or lines[j][0] >= col):
                j += 1
        else:
            while j < len(lines) and lines[j][1]:
                j += 1
        block = list(lines[i:j])
        if label:
            block[0] = (col, block[0][1][len(label) :].strip())
        paras, prose, pre = [], [], []

        def flush():
            if prose:
                paras.append(inline(" ".join(prose), names))
                prose.clear()
            if pre:
                low = min(ind for ind, t in pre if t)
                body = "\n".join((" " * (ind - low) + t).rstrip() for ind, t in pre)
                paras.append("```text\n" + body.strip("\n") + "\n```")
                pre.clear()

        for ind, t in block:
            if not t:
                if pre:
                    pre.append((ind, t))
                else:
                    flush()
            elif ind >= col + 2:
                if prose:
                    flush()
                pre.append((ind, t))
            else:
                if pre:
                    while pre and not pre[-1][1]:
                        pre.pop()
                    flush()
                prose.append(t)
        while pre and not pre[-1][1]:
            pre.pop()
        flush()
        if label and paras:
            if paras[0].startswith("```"):
                paras.insert(0, "**%s**" % escape(label))
            else:
                paras[0] = "**%s** %s" % (escape(label), paras[0].lstrip("\\"))
        blocks.extend(paras)
        i = j
    return blocks


# ---- declarations ------------------------------------------------------------------------


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


def squash(text):
    s = re.sub(r"\s+", " ", text).strip()
    s = re.sub(r"\(\s+", "(", s)
    s = re.sub(r"\s+\)", ")", s)
    return re.sub(r"\s+([,;])", r"\1", s)


def wrap_decl(s, width=96):
    """A one-line declaration broken after commas, continuation lines aligned after '('."""
    if len(s) <= width or "(" not in s:
        return s
    open_at = s.index("(") if not s.startswith("typedef") else s.rindex("(", 0, s.index(")") + 2)
    pad = " " * (open_at + 1)
    out, cur = [], ""
    for piece in re.split(r"(?<=,) ", s):
        if cur and len(cur) + 1 + len(piece) > width:
            out.append(cur)
            cur = pad + piece
        else:
            cur = cur + " " + piece if cur else piece
    out.append(cur)
    return "\n".join(out)


def body_members(body, is_enum):
    """Members of a struct or enum body: a list of dicts with code, doc and note."""
    members, code, before, i = [], "", [], 0
    sep = "," if is_enum else ";"

    def finish():
        nonlocal code, before
        if code.strip():
            members.append({"code": squash(code), "doc": list(before), "note": None})
        code, before = "", []

    depth = 0
    while i < len(body):
        if body.startswith("/*", i):
            j = comment_end(body, i)
            text = body[i:j]
            if text.startswith("/**<"):
                if is_enum:
                    finish()
                if members:
                    members[-1]["doc"].append(flat(text))
            elif text.startswith("/**"):
                before.append(flat(text))
            else:
                finish()
                members.append({"code": None, "doc": [], "note": flat(text)})
            i = j
            continue
        ch = body[i]
        depth += ch in "({"
        depth -= ch in ")}"
        if ch == sep and depth == 0:
            finish()
        else:
            code += ch
        i += 1
    finish()
    return members


def parse_decl(text, strip_macros):
    """A declaration as a dict: kind (function, enum, struct, typedef, variable), names (the
    declared name first, then enumerators), code (for display) and members."""
    clean = squash(strip_comments(text))
    if not re.match(r"(typedef\s+)?(enum|struct|union)\b", clean) and "{" in clean:
        clean = clean[: clean.index("{")].rstrip() + ";"  # an inline function: no body
    for mac in strip_macros:  # export and attribute macros, with their arguments
        clean = re.sub(r"\b%s\b\s*(\([^()]*\))?\s*" % re.escape(mac), "", clean)
    m = re.match(r"(typedef\s+)?(enum|struct|union)\s*(\w*)\s*\{", text)
    if m:
        is_enum = m.group(2) == "enum"
        start = text.index("{")
        depth, k = 0, start
        for k in range(start, len(text)):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
        members = body_members(text[start + 1 : k], is_enum)
        tail = squash(strip_comments(text[k + 1 :])).rstrip(";").strip()
        name = tail if m.group(1) and tail else m.group(3)
        value, enumerators = -1, []
        for mem in members:
            if mem["code"] is None:
                continue
            if is_enum:
                em = re.match(r"(\w+)\s*(?:=\s*(.+))?$", mem["code"])
                mem["name"] = em.group(1)
                if em.group(2) is not None:
                    mem["value"] = em.group(2)
                    try:
                        value = int(em.group(2), 0)
                    except ValueError:
                        value = None
                else:
                    value = None if value is None else value + 1
                    mem["value"] = "" if value is None else str(value)
                enumerators.append(mem["name"])
        head = text[: text.index("{")].strip()
        lines = [squash(head) + " {"]
        for mem in members:
            if mem["code"] is not None:
                lines.append("    " + mem["code"] + ("," if is_enum else ";"))
        lines.append("}" + (" " + tail if tail else "") + ";")
        kind = "enum" if is_enum else "struct"
        return {"kind": kind, "names": [name] + enumerators, "code": "\n".join(lines),
                "members": members}
    fp = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", clean)
    if clean.startswith("typedef"):
        name = fp.group(1) if fp else IDENT.findall(clean)[-1]
        kind = "typedef"
    elif "(" in clean:
        name = re.search(r"(\w+)\s*\(", clean).group(1)
        kind = "function"
    else:
        name = IDENT.findall(clean.split("=")[0])[-1]
        kind = "variable"
    return {"kind": kind, "names": [name], "code": wrap_decl(clean), "members": []}


def parse_define(text):
    body = re.sub(r"\\\n", " ", text)
    docs = [flat(d) for d in re.findall(r"/\*\*<.*?\*/", body, flags=re.S)]
    clean = squash(strip_comments(body))
    m = re.match(r"#\s*define\s+(\w+)(\([^)]*\))?\s*(.*)$", clean)
    return {"kind": "define", "names": [m.group(1)], "params": m.group(2) or "",
            "value": m.group(3), "doc": docs, "members": [],
            "code": "#define %s%s %s" % (m.group(1), m.group(2) or "", m.group(3))}


# ---- the page ----------------------------------------------------------------------------


def build(src):
    """Parses the header into (intro, sections); a section is (title, intro lines, blocks) and
    a block is ('text', lines) or ('entry', doc lines, [declarations])."""
    items = scan(src)
    first = next((k for k, it in enumerate(items) if it.kind == "section"), len(items))
    intro = next((it for it in items[:first] if it.kind in ("comment", "doc")), None)
    strip_macros = set()
    for it in items[:first]:
        if it.kind == "define":
            strip_macros.add(parse_define(it.text)["names"][0])
    sections, seen = [], set()
    sec = None
    pending = None  # a doc comment waiting for its declarations
    entry = None  # the entry that adjacent declarations join
    for it in items[first:]:
        if it.kind == "section":
            if pending is not None and sec is not None:
                sec[2].append(("text", comment_lines(pending.text)))
            body = "/*\n" + it.text.split("\n", 1)[1] if "\n" in it.text else ""
            sec = (section_title(it.text), comment_lines(body) if body else [], [])
            sections.append(sec)
            pending = entry = None
        elif it.kind == "doc":
            if pending is not None:
                sec[2].append(("text", comment_lines(pending.text)))
            pending, entry = it, None
        elif it.kind in ("decl", "define"):
            d = parse_define(it.text) if it.kind == "define" else parse_decl(it.text, strip_macros)
            if d["names"][0] in seen or d["names"][0] in strip_macros:
                continue
            seen.add(d["names"][0])
            last = entry[2][-1]["kind"] if entry is not None else None
            # adjacent declarations share an entry: functions with functions, macros with
            # macros, and an enum with the macros right after it (its GN_*_COUNT)
            joins = last is not None and (
                (d["kind"] == last and last not in ("enum", "struct"))
                or (d["kind"] == "define" and last == "enum"))
            if entry is not None and it.first == entry[3] + 1 and joins:
                entry[2].append(d)
                entry[3] = it.last
            else:
                doc = []
                if pending is not None and it.first == pending.last + 1:
                    doc = comment_lines(pending.text)
                elif pending is not None:
                    sec[2].append(("text", comment_lines(pending.text)))
                entry = ["entry", doc, [d], it.last]
                sec[2].append(entry)
            pending = None
        elif it.kind == "pp":
            pending = None if pending is None else pending
    if pending is not None and sec is not None:
        sec[2].append(("text", comment_lines(pending.text)))
    return intro, sections


def slug(title):
    s = re.sub(r"[^\w\- ]", "", title.lower())
    return s.replace(" ", "-")


def render(src, header_name="include/gemmnet.h"):
    intro, sections = build(src)
    names = Names()
    for _, _, blocks in sections:
        for b in blocks:
            if b[0] == "entry":  # one anchor per declared name; enumerators share their enum's
                anchors = [(d["names"][0], names.new_anchor(d["names"][0])) for d in b[2]]
                b.append(anchors)
                for d, (nm, anchor) in zip(b[2], anchors):
                    for other in d["names"]:
                        names.anchor.setdefault(other, anchor)
    out = ["# gemmnet API reference", "",
           "<!-- Generated from %s by tools/gen-api-doc.py. Do not edit: change the header's"
           % header_name,
           "     comments and run `ninja -C <builddir> api-doc`. -->", ""]
    if intro is not None:
        out += render_text(comment_lines(intro.text), names)
        out.append("")
    out += ["Every public declaration of `%s`, section by section, with the documentation "
            "written next to it in the header. The math, the memory layout and the threading "
            "rules are explained in [design.md](design.md); [tutorial.md](tutorial.md) embeds "
            "the library in a C program step by step." % header_name, "", "## Contents", ""]
    for title, _, blocks in sections:
        entries = [b for b in blocks if b[0] == "entry"]
        line = "- [%s](#%s)" % (escape(title.capitalize() if title.isupper() else title),
                                slug(title))
        if entries:
            line += ": " + ", ".join("[`%s`](#%s)" % a for b in entries for a in b[4])
        out.append(line)
    out.append("- [Index](#index)")
    for title, intro_lines, blocks in sections:
        out += ["", "## " + (title.capitalize() if title.isupper() else title)]
        if title.isupper():  # the heading is shown capitalised: keep the original anchor
            out[-1:] = ['<a id="%s"></a>' % slug(title), "", out[-1]]
        for para in render_text(intro_lines, names):
            out += ["", para]
        for b in blocks:
            if b[0] == "text":
                for para in render_text(b[1], names):
                    out += ["", para]
                continue
            _, doc, decls, _, anchors = b
            out.append("")
            out += ['<a id="%s"></a>' % anchor for _, anchor in anchors]
            out += ["", "### " + ", ".join("`%s`" % nm for nm, _ in anchors)]
            table_defines = [d for d in decls if d["kind"] == "define" and d["doc"]]
            code, prev = [], None
            for d in decls:
                tabled = d["kind"] in ("enum", "struct") and d["members"]
                if d not in table_defines and not tabled:
                    if prev is not None and not (prev == d["kind"] == "define"):
                        code.append("")
                    code += d["code"].split("\n")
                    prev = d["kind"]
            if code:
                out += ["", "```c"] + code + ["```"]
            for para in render_text(doc, names):
                out += ["", para]
            if table_defines:
                out += ["", "| Macro | Value | Meaning |", "|---|---|---|"]
                for d in table_defines:
                    out.append("| `%s%s` | `%s` | %s |" % (
                        d["names"][0], d["params"], d["value"].replace("|", "\\|"),
                        inline(" ".join(d["doc"]), names, table=True)))
            for d in decls:
                if d["kind"] == "enum":
                    out += ["", "| Enumerator | Value | Meaning |", "|---|---|---|"]
                    for mem in d["members"]:
                        if mem["code"] is None:
                            out.append("| | | *%s* |" % inline(mem["note"], names, table=True))
                        else:
                            out.append("| `%s` | %s | %s |" % (
                                mem["name"], ("`%s`" % mem["value"]) if mem["value"] else "",
                                inline(" ".join(mem["doc"]), names, table=True)))
                elif d["kind"] == "struct" and d["members"]:
                    out += ["", "| Field | Meaning |", "|---|---|"]
                    for mem in d["members"]:
                        if mem["code"] is None:
                            out.append("| | *%s* |" % inline(mem["note"], names, table=True))
                        else:
                            out.append("| `%s` | %s |" % (
                                mem["code"].replace("|", "\\|"),
                                inline(" ".join(mem["doc"]), names, table=True)))
    out += ["", "## Index", ""]
    for nm in sorted(names.anchor, key=lambda s: (s.lower(), s)):
        out.append("- [`%s`](#%s)" % (nm, names.anchor[nm]))
    return "\n".join(out) + "\n", names


def undocumented(src):
    """Functions whose entry has no doc comment (the header promises one for each)."""
    _, sections = build(src)
    missing = []
    for _, _, blocks in sections:
        for b in blocks:
            if b[0] == "entry" and not b[1]:
                missing += [d["names"][0] for d in b[2] if d["kind"] == "function"]
    return missing


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--header", default=os.path.join(ROOT, "include", "gemmnet.h"))
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--output", default=os.path.join(ROOT, "docs", "api.md"))
    g.add_argument("--check", metavar="FILE")
    g.add_argument("--names", action="store_true")
    a = ap.parse_args(argv)
    with open(a.header, encoding="utf-8") as f:
        src = f.read()
    try:
        page, names = render(src)
    except (SyntaxError, AttributeError, IndexError, ValueError) as e:
        sys.stderr.write("gen-api-doc: cannot read %s: %s\n" % (a.header, e))
        return 2
    for fn in undocumented(src):
        sys.stderr.write("gen-api-doc: warning: %s has no doc comment\n" % fn)
    if a.names:
        sys.stdout.write("".join(nm + "\n" for nm in sorted(names.anchor)))
        return 0
    if a.check:
        try:
            with open(a.check, encoding="utf-8") as f:
                old = f.read()
        except OSError as e:
            sys.stderr.write("gen-api-doc: %s\n" % e)
            return 1
        if old == page:
            return 0
        diff = difflib.unified_diff(old.splitlines(True), page.splitlines(True),
                                    a.check + " (committed)", a.check + " (from the header)")
        sys.stderr.writelines(list(diff)[:200])
        sys.stderr.write("\n%s is out of date with %s: regenerate it with "
                         "`ninja -C <builddir> api-doc` (or tools/gen-api-doc.py).\n"
                         % (a.check, a.header))
        return 1
    tmp = a.output + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(page)
    os.replace(tmp, a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
