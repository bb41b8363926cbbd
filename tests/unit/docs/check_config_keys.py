#!/usr/bin/env python3
"""docs/configuration.md documents exactly the configuration keys the programs declare.

  check_config_keys.py REPO_ROOT

The keys are read from the schema declarations in the sources (the first string of each entry:
str("db", ..), num("mqtt.batch_max", ..), int_key("security.lockout_s", ..), ms(..), text_key(..),
{"http.listen", config_type::..}); the documented keys are the first column of the tables in
docs/configuration.md. A declared key without a row, or a row naming no declared key, fails.
A source that yields no key at all fails too, so a rewrite of the declarations cannot make the
check pass by finding nothing.
Prints one line per problem; exit 0 when there is none, 1 otherwise, 2 on a usage error.
"""
import os
import re
import sys

SOURCES = [
    "cloud/src/daemon/cloud_config.cpp",
    "cloud/src/http/server.cpp",
    "cloud/src/security/settings.cpp",
    "cloud/src/security/device_claim.cpp",
    "cloud/src/security/password_hashing_pool.cpp",
    "cloud/src/notices/notice_rules.cpp",
    "agent/src/agent_config.cpp",
]
DOC = "docs/configuration.md"
KEY = r"([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)"
DECLARATION = re.compile(
    r"\b(?:str|num|ms|int_key|key|config_key|text_key|required_text_key|bool_key|list_key)\(\s*\"" + KEY + r"\""
    r"|\{\s*\"" + KEY + r"\",\s*(?:common::)?config_type::"
    r"|^\s*\{\s*\"" + KEY + r"\",\s*$",
    re.M,
)
DOC_ROW = re.compile(r"^\|\s*`" + KEY + r"`\s*\|")


def declared(root):
    keys, problems = set(), []
    for rel in SOURCES:
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            problems.append(f"{rel}: missing (update SOURCES in {os.path.basename(__file__)})")
            continue
        with open(path, encoding="utf-8") as f:
            found = {g for m in DECLARATION.finditer(f.read()) for g in m.groups() if g}
        if not found:
            problems.append(f"{rel}: no configuration key declarations found")
        keys |= found
    return keys, problems


def documented(root):
    keys = {}
    with open(os.path.join(root, DOC), encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            m = DOC_ROW.match(line)
            if m:
                keys[m.group(1)] = number
    return keys


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print("usage: check_config_keys.py REPO_ROOT", file=sys.stderr)
        return 2
    root = argv[1]
    code, problems = declared(root)
    docs = documented(root)
    for k in sorted(code - docs.keys()):
        problems.append(f"{DOC}: no row for the key `{k}` that the code declares")
    for k in sorted(docs.keys() - code):
        problems.append(f"{DOC}:{docs[k]}: `{k}` is not a key the code declares")
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} problem(s)")
        return 1
    print(f"{DOC}: all {len(code)} configuration keys documented, and no other")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
