#!/usr/bin/env python3
"""Every stable name the dashboard shows has a Japanese and an English entry in the page's
dictionaries (cloud/web/js/i18n.js and i18n_terms.js): each error code the API answers (collected
from the sources), each permission, built-in role, command op and status with a name and a
one-line description, and each access-log action with a name and a description.

    check_translations.py REPO      exit 1 naming every missing entry
    check_translations.py --self-test
"""
import pathlib
import re
import sys

KEY = re.compile(r"^\s*'([^']+)'\s*:", re.M)
ERROR_LITERAL = re.compile(r'(?:error_response|deny)\(\s*[^,()]*?,\s*"([a-z_]+)"', re.S)
# An error answer built as a row: {"error", "code"}.
ERROR_ROW = re.compile(r'\{"error",\s*"([a-z_]+)"\}')
STATUS_ERROR = re.compile(r'status::error\(\s*"([a-z_]+)"', re.S)
GUARDED = re.compile(r'guarded\(\s*"([a-z_.]+)"', re.S)
AUDIT_CALL = re.compile(r'\b(?:audit|append_audit|failure)\((.*?)\);', re.S)
ACTION = re.compile(r'"((?:[a-z_]+\.)+[a-z_]+|login|logout)"')
ENUM_NAMES = re.compile(r'\{[a-z_:]+,\s*"([a-z_.]+)"\}')

# Codes the API answers that are not a literal at an error_response call: the store's outcomes
# (api service store_error), the JSON body parser and the page's own fallback for an answer
# without a body.
INDIRECT_CODES = {"not_found", "conflict", "invalid", "internal", "bad_json"}
# status::error codes of the rules whose code the API answers as it is (password_refused,
# unlock_refused); other status codes stay inside the daemon.
ANSWERED_STATUS_FILES = ["cloud/src/security/password_policy.cpp",
                         "cloud/src/security/lockout_policy.cpp"]


def dictionaries(repo):
    """{'ja': keys, 'en': keys} of i18n.js (split at its en block) and i18n_terms.js."""
    out = {"ja": set(), "en": set()}
    main = (repo / "cloud/web/js/i18n.js").read_text(encoding="utf-8")
    split = main.index("\n  en: {")
    out["ja"] |= set(KEY.findall(main[:split]))
    out["en"] |= set(KEY.findall(main[split:]))
    terms = (repo / "cloud/web/js/i18n_terms.js").read_text(encoding="utf-8")
    split = terms.index("export const terms_en")
    out["ja"] |= set(KEY.findall(terms[:split]))
    out["en"] |= set(KEY.findall(terms[split:]))
    return out


def sources(repo, *folders):
    for folder in folders:
        for p in sorted((repo / folder).rglob("*.cpp")):
            yield p.read_text(encoding="utf-8")


def wanted(repo):
    keys = set()
    for text in sources(repo, "cloud/src/api", "cloud/src/http"):
        keys |= {f"error.{c}" for c in ERROR_LITERAL.findall(text)}
        keys |= {f"error.{c}" for c in ERROR_ROW.findall(text)}
    for f in ANSWERED_STATUS_FILES:
        keys |= {f"error.{c}" for c in STATUS_ERROR.findall((repo / f).read_text(encoding="utf-8"))}
    keys |= {f"error.{c}" for c in INDIRECT_CODES}
    keys.add("error.password_change_required")
    model = (repo / "cloud/include/aterm/cloud/model.h").read_text(encoding="utf-8")
    perms = re.search(r"k_permissions = \{(.*?)\};", model, re.S).group(1)
    for p in re.findall(r'"([a-z_.]+)"', perms):
        keys |= {f"perm.{p}", f"perm.{p}.desc"}
    for r in re.findall(r'k_role_\w+ = "([a-z_]+)"', model):
        keys |= {f"role.{r}", f"role.{r}.desc"}
    statuses = re.search(r"k_command_status_names = \{\{(.*?)\}\};", model, re.S)
    for s in ENUM_NAMES.findall(statuses.group(1)) if statuses else []:
        keys |= {f"status.{s}", f"status.{s}.desc"}
    table = (repo / "common/src/command_table.cpp").read_text(encoding="utf-8")
    for op in set(re.findall(r'op_spec\{op_id::\w+,\s*"([a-z_.]+)"', table)):
        keys |= {f"device.command.op.{op}", f"op.{op}.desc"}
    actions = set()
    for text in sources(repo, "cloud/src", "broker-bridge/src"):
        actions |= set(GUARDED.findall(text))
        for call in AUDIT_CALL.findall(text):
            found = ACTION.findall(call)
            if found:
                actions.add(found[0])
    actions |= {"technician_login.used", "technician_login.failed", "technician_login.locked",
                "technician_login.install"}
    for a in actions:
        keys |= {f"action.{a}", f"action.{a}.desc"}
    return keys


def check(repo):
    have = dictionaries(repo)
    need = wanted(repo)
    missing = []
    for lang in ("ja", "en"):
        missing += [f"{lang}: {k}" for k in sorted(need - have[lang])]
    return need, missing


def self_test():
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        repo = pathlib.Path(d)
        for f, text in {
            "cloud/web/js/i18n.js": "const dict = {\n  ja: {\n    'error.a': 'x',\n  },\n  en: {\n    'error.a': 'x',\n  },\n};\n",
            "cloud/web/js/i18n_terms.js": "export const terms_ja = {};\nexport const terms_en = {\n  'error.b': 'y',\n};\n",
            "cloud/src/api/x.cpp": 'return http::error_response(400, "a", "m"); error_response(409,\n "b", "m");',
            "cloud/src/http/y.cpp": "",
            "cloud/src/security/password_policy.cpp": "",
            "cloud/src/security/lockout_policy.cpp": "",
            "cloud/include/aterm/cloud/model.h": 'k_permissions = {"p.q"};',
            "common/src/command_table.cpp": 'op_spec{op_id::x, "x.y", a},',
            "broker-bridge/src/z.cpp": "",
        }.items():
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            (repo / f).write_text(text, encoding="utf-8")
        need, missing = check(repo)
        assert "ja: error.b" in missing, missing
        assert "en: error.b" not in missing, missing
        assert "ja: error.a" not in missing, missing
        assert "en: perm.p.q.desc" in missing, missing
        assert "en: op.x.y.desc" in missing, missing
    print("self-test passed")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    repo = pathlib.Path(sys.argv[1])
    need, missing = check(repo)
    for m in missing:
        print("no translation:", m)
    print(f"{len(need)} names checked, {len(missing)} entries missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
