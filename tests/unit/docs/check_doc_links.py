#!/usr/bin/env python3
"""The repository documents itself: README.md and every Markdown file under docs/ may link only
to files of the repository, and none names the design notes kept outside it.

  check_doc_links.py REPO_ROOT
  check_doc_links.py --self-test     the checker against small trees with known problems

Checks, for README.md and docs/**/*.md:
  - every relative link ([text](path), [text](path#anchor), [ref]: path) resolves to a file or
    folder inside REPO_ROOT (absolute paths and links that climb out of the repository fail);
  - an anchor into a Markdown file names one of its headings (GitHub's slugs);
  - no text mentions the notes outside the repository (../shared, DESIGN.md, CONVENTIONS.md,
    MEASURED.md), which a clone does not contain.
Links with a scheme (https:, mailto:) are not checked. Fenced code blocks and code spans are not
Markdown links and are skipped for the link check (but not for the mentions check).
Prints one line per problem; exit 0 when there is none, 1 otherwise, 2 on a usage error.
"""
import os
import re
import sys

OUTSIDE_MENTIONS = ("../shared", "DESIGN.md", "CONVENTIONS.md", "MEASURED.md")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
FENCE = re.compile(r"^\s{0,3}(```+|~~~+)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def doc_files(root):
    files = []
    if os.path.isfile(os.path.join(root, "README.md")):
        files.append("README.md")
    docs = os.path.join(root, "docs")
    for dirpath, _, names in os.walk(docs):
        for n in sorted(names):
            if n.endswith(".md"):
                files.append(os.path.relpath(os.path.join(dirpath, n), root))
    return sorted(files)


def prose_lines(text):
    """(line number, line) outside fenced code blocks, with code spans blanked."""
    fence = None
    for number, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if m:
            marker = m.group(1)[0] * 3
            if fence is None:
                fence = marker
                continue
            if marker == fence:
                fence = None
                continue
        if fence is None:
            yield number, CODE_SPAN.sub(lambda s: " " * len(s.group(0)), line)


def slug(heading):
    """GitHub's anchor of a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


def anchors(path):
    seen = {}
    out = set()
    with open(path, encoding="utf-8") as f:
        for _, line in prose_lines(f.read()):
            m = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
            if not m:
                continue
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def check(root):
    root = os.path.realpath(root)
    problems = []
    for rel in doc_files(root):
        path = os.path.join(root, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for number, line in enumerate(text.split("\n"), 1):
            for word in OUTSIDE_MENTIONS:
                if word in line:
                    problems.append(f"{rel}:{number}: mentions {word}, which is not in the repository")
        for number, line in prose_lines(text):
            targets = [m.group(1) for m in INLINE_LINK.finditer(line)]
            ref = REFERENCE_DEF.match(line)
            if ref:
                targets.append(ref.group(1))
            for target in targets:
                if not target or SCHEME.match(target):
                    continue
                file_part, _, anchor = target.partition("#")
                if file_part.startswith("/"):
                    problems.append(f"{rel}:{number}: link {target} is absolute; use a relative path")
                    continue
                resolved = os.path.realpath(os.path.join(os.path.dirname(path), file_part))
                if os.path.commonpath([root, resolved]) != root:
                    problems.append(f"{rel}:{number}: link {target} leaves the repository")
                    continue
                if not os.path.exists(resolved):
                    problems.append(f"{rel}:{number}: link {target}: no such file in the repository")
                    continue
                if anchor and os.path.isfile(resolved) and resolved.endswith(".md"):
                    if anchor not in anchors(resolved):
                        problems.append(f"{rel}:{number}: link {target}: no heading #{anchor}")
    return problems


def self_test():
    """Each case: files of a tiny repository, and the problems the checker must report."""
    import tempfile
    cases = [
        ({"README.md": "[a](docs/a.md) [b](docs/a.md#one) [c](scripts/) [d](https://x.org)\n",
          "docs/a.md": "# One\n[back](../README.md)\n", "scripts/x": ""}, []),
        ({"README.md": "[gone](docs/gone.md)\n"}, ["no such file"]),
        ({"README.md": "[up](../outside.md)\n"}, ["leaves the repository"]),
        ({"README.md": "[abs](/etc/passwd)\n"}, ["is absolute"]),
        ({"README.md": "[x](docs/a.md#two)\n", "docs/a.md": "# One\n"}, ["no heading #two"]),
        ({"README.md": "[r]: docs/none.md\n"}, ["no such file"]),
        ({"README.md": "see ../shared/notes\n"}, ["mentions ../shared"]),
        ({"README.md": "", "docs/a.md": "the contract is DESIGN.md\n"}, ["mentions DESIGN.md"]),
        ({"README.md": "```\n[not a link](nowhere.md)\n```\n`[code](nowhere.md)`\n"}, []),
        ({"README.md": "[j](docs/j.md#日本語の見出し-v1)\n",
          "docs/j.md": "## 日本語の見出し (v1)\n"}, []),
    ]
    failed = 0
    for number, (files, expected) in enumerate(cases, 1):
        with tempfile.TemporaryDirectory() as root:
            for name, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
                with open(os.path.join(root, name), "w", encoding="utf-8") as f:
                    f.write(text)
            got = check(root)
            ok = len(got) == len(expected) and all(e in g for e, g in zip(expected, got))
            if not ok:
                failed += 1
                print(f"self-test case {number}: expected {expected}, got {got}")
    print(f"self-test: {len(cases) - failed} of {len(cases)} cases as expected")
    return 1 if failed else 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print("usage: check_doc_links.py REPO_ROOT", file=sys.stderr)
        return 2
    problems = check(argv[1])
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s) in README.md and docs/")
        return 1
    print("README.md and docs/: every relative link resolves inside the repository")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
