#!/usr/bin/env python3
"""Keeps the reference documentation honest.

  test_docs.py api SRCROOT       docs/api.md is what tools/gen-api-doc.py makes of
                                 include/gemmnet.h today, and it covers every public name
                                 (found here with simple patterns of our own, not with the
                                 generator's parser)
  test_docs.py tutorial SRCROOT  every C block of docs/tutorial.md is a verbatim excerpt of
                                 docs/tutorial.c, which the test suite compiles and runs

Exit status 0 when everything holds, 1 with the reasons on stderr otherwise.
"""

import os
import re
import subprocess
import sys
import tempfile


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def generator(root, *args):
    cmd = [sys.executable, os.path.join(root, "tools", "gen-api-doc.py")] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True)


def public_names(header):
    """Functions, typedefs, macros and enumerators of the header, by plain regexes."""
    code = re.sub(r"/\*.*?\*/", " ", header, flags=re.S)
    macros = set(re.findall(r"^\s*#\s*define\s+(GN_\w+)", code, flags=re.M)) - {"GN_API"}
    code = re.sub(r"^\s*#.*(?:\\\n.*)*$", " ", code, flags=re.M)  # no preprocessor lines
    funcs = set(re.findall(r"\bGN_API\b[^;]*?\b(\w+)\s*\(", code))
    types = set(re.findall(r"\btypedef\s+(?:enum|struct)\s*\w*\s*\{[^}]*\}\s*(\w+)\s*;", code))
    types |= set(re.findall(r"\btypedef\s+struct\s+\w+\s+(\w+)\s*;", code))
    types |= set(re.findall(r"\btypedef\b[^;{]*\(\s*\*\s*(\w+)\s*\)", code))
    enumerators = set()
    for body in re.findall(r"\benum\s*\w*\s*\{([^}]*)\}", code):
        enumerators |= set(re.findall(r"(?:^|,)\s*([A-Za-z_]\w*)\s*(?==|,|$)", body.strip()))
    return funcs, types, macros, enumerators


def plain(md):
    """Markdown reduced to words: links, code marks and escapes removed."""
    md = re.sub(r"\]\(#[^)]*\)", "]", md)
    md = re.sub(r"[`\\\[\]*]", "", md)
    return " ".join(md.split())


def check_api(root):
    problems = []
    header_path = os.path.join(root, "include", "gemmnet.h")
    api_path = os.path.join(root, "docs", "api.md")
    header, api = read(header_path), read(api_path)

    r = generator(root, "--header", header_path, "--check", api_path)
    if r.returncode != 0:
        problems.append("docs/api.md is out of date (or the generator failed):\n" + r.stderr)

    funcs, types, macros, enumerators = public_names(header)
    if len(funcs) < 50:
        problems.append("only %d public functions found: the patterns no longer match the "
                        "header" % len(funcs))
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', api))
    for name in sorted(funcs | types | macros):
        if name.lower() not in anchors or not re.search(r"^### .*`%s`" % name, api, re.M):
            problems.append("%s has no entry in docs/api.md" % name)
    for name in sorted(enumerators):
        if not re.search(r"^\| `%s` \|" % name, api, re.M):
            problems.append("enumerator %s is missing from its table in docs/api.md" % name)

    # The opening words of every function's doc comment are on the page.
    flat = plain(api)
    documented = r"/\*\*(?!<)((?:(?!\*/).)*)\*/\s*(GN_API[^;]*;)"
    for doc, decl in re.findall(documented, header, flags=re.S):
        text = " ".join(re.sub(r"^\s*\*", "", ln) for ln in doc.split("\n"))
        words = " ".join(text.split()[:8])
        if plain(words) not in flat:
            name = re.search(r"(\w+)\s*\(", decl)
            problems.append("the doc of %s (\"%s …\") is not in docs/api.md"
                            % (name.group(1) if name else decl[:40], words))

    # The check above must be able to fail: a header with one more documented function
    # does not match the committed page.
    with tempfile.TemporaryDirectory() as tmp:
        mutated = os.path.join(tmp, "gemmnet.h")
        extra = ("\n/** Added by test_docs.py. */\nGN_API int gn_docs_probe(void);\n"
                 "#ifdef __cplusplus")
        with open(mutated, "w", encoding="utf-8") as f:
            f.write(header.replace("\n#ifdef __cplusplus\n}", extra + "\n}", 1))
        r = generator(root, "--header", mutated, "--check", api_path)
        if r.returncode == 0 or "gn_docs_probe" not in r.stderr:
            problems.append("gen-api-doc.py --check did not notice a new function")
    return problems


def check_tutorial(root):
    problems = []
    md = read(os.path.join(root, "docs", "tutorial.md"))
    program = [ln.strip() for ln in read(os.path.join(root, "docs", "tutorial.c")).split("\n")]
    blocks = re.findall(r"^```c\n(.*?)^```", md, flags=re.S | re.M)
    if len(blocks) < 5:
        problems.append("docs/tutorial.md has only %d C blocks" % len(blocks))
    for k, block in enumerate(blocks, 1):
        lines = [ln.strip() for ln in block.rstrip("\n").split("\n")]
        n = len(lines)
        if not any(program[i : i + n] == lines for i in range(len(program) - n + 1)):
            problems.append("C block %d of docs/tutorial.md (starting \"%s\") is not an excerpt "
                            "of docs/tutorial.c" % (k, lines[0]))
    return problems


def main(argv):
    if len(argv) != 2 or argv[0] not in ("api", "tutorial"):
        sys.stderr.write(__doc__)
        return 2
    root = argv[1]
    problems = check_api(root) if argv[0] == "api" else check_tutorial(root)
    for p in problems:
        sys.stderr.write("test_docs: %s\n" % p)
    if not problems:
        print("test_docs %s: ok" % argv[0])
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
