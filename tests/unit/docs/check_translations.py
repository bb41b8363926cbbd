#!/usr/bin/env python3
"""Every stable name the dashboard shows has a Japanese and an English entry in the page's
dictionaries (cloud/web/js/i18n.js and i18n_terms.js): each error code the API answers (collected
from the sources), each reason of a bad_command and of a delegation refusal, each permission,
built-in role, command op and status with a name and a one-line description, each access-log
action with a name and a description, and each result an access-log record is written with.

The error codes come from every error_response/deny call of the API and HTTP sources. A call
whose code is not a string literal must be one of RESOLVED, which says where its codes are
declared; any other fails the check naming the call, so a new way of answering a code cannot
slip past it.

The field names an error names (`field.<name>`, shown by the page's words for the field) come the
same way: the first argument of each refusal helper (field_required, wrong_type, invalid_name, ...)
and each {"field", ...} detail row. A name that is not a string literal must be one of
RESOLVED_FIELDS, which says where in its file the names it takes are written; any other fails the
check naming the call.

    check_translations.py REPO      exit 1 naming every missing entry
    check_translations.py --self-test
"""
import pathlib
import re
import sys

KEY = re.compile(r"^\s*'([^']+)'\s*:", re.M)
# Every call answering an error: the status and the code expression.
ERROR_CALL = re.compile(r'\b(?:error_response|deny)\(\s*([^,()]*?(?:\([^()]*\))?[^,()]*?),'
                        r'\s*(?P<expr>[^,]+?)\s*,', re.S)
LITERAL = re.compile(r'^"([a-z_]+)"$')
# An error answer built as a row: {"error", "code"}.
ERROR_ROW = re.compile(r'\{"error",\s*"([a-z_]+)"\}')
STATUS_ERROR = re.compile(r'status::error\(\s*"([a-z_]+)"', re.S)
# The catalogue's reasons of a 400 bad_command {reason}.
COMMAND_REASON = re.compile(r'command_refusal\(\s*"([a-z_]+)"', re.S)
# A name table row {enum::x, "name", ...}.
TABLE_NAME = re.compile(r'\{\s*[a-z_]+::[a-z_]+,\s*"([a-z_]+)"', re.S)
GUARDED = re.compile(r'guarded\(\s*"([a-z_.]+)"', re.S)
AUDIT_CALL = re.compile(r'\b(?:audit|append_audit|failure)\((.*?)\);', re.S)
ACTION = re.compile(r'"((?:[a-z_]+\.)+[a-z_]+|login|logout)"')
# An access-log record's result set by name (`outcome = "locked"`, `r.result = "ok"`).
RESULT_SET = re.compile(r'\b(?:outcome|result)\s*=\s*"([a-z_]+)"')
ENUM_NAMES = re.compile(r'\{[a-z_:]+,\s*"([a-z_.]+)"\}')

# Calls whose code is not a literal, by file and code expression: where the codes they answer are
# declared. ("status", FILE): the status::error codes of FILE (a rule whose code the API answers
# as it is); ("constant", HEADER): the string constant of that name in HEADER; ("forwarded",):
# a wrapper whose callers are themselves calls of this check (deny, error_response's overload).
RESOLVED = {
    ("cloud/src/api/accounts_routes.cpp", "s.code()"):
        ("status", "cloud/src/security/password_policy.cpp"),
    ("cloud/src/api/accounts_routes.cpp", "verdict.error().code()"):
        ("status", "cloud/src/security/lockout_policy.cpp"),
    ("cloud/src/api/service.cpp", "security::k_password_change_required"):
        ("constant", "cloud/include/aterm/cloud/security/password_change_rule.h"),
    ("cloud/src/api/service.cpp", "code"): ("forwarded",),
    ("cloud/src/http/message.cpp", "std::string_view code"): ("forwarded",),
    ("cloud/src/http/message.cpp", "code"): ("forwarded",),
}
# The refusal helpers of json_out.cpp whose first argument is the field the answer names.
FIELD_CALL = re.compile(r'\b(?:wrong_type|field_required|out_of_range|too_long|invalid_value|'
                        r'invalid_name|invalid_time|invalid_email|invalid_device_id|bad_count)\(\s*'
                        r'(?P<expr>[^,()]*?(?:\([^()]*\))?[^,()]*?)\s*[,)]', re.S)
# A detail row naming the field: {"field", EXPR}.
FIELD_ROW = re.compile(r'\{"field",\s*(?P<expr>[^{}]+?)\s*\}', re.S)
FIELD_LITERAL = re.compile(r'^(?:std::string(?:_view)?\()?"([a-z_]+)"\)?$')
# Field expressions that are not literals, by file and expression: a pattern whose matches in
# that file hold the names the expression takes (as string literals), or ("forwarded",) for the
# helpers' own parameters and ("client",) for a name the client sent (unknown_field), which the
# page shows as sent.
RESOLVED_FIELDS = {
    ("cloud/src/api/json_out.cpp", "std::string_view field"): ("forwarded",),
    ("cloud/src/api/json_out.cpp", "std::string(field)"): ("forwarded",),
    ("cloud/src/api/json_out.cpp", "shown"): ("client",),
    # A body field, named by the key it was read under: the keys the route compares it with.
    ("cloud/src/api/accounts_routes.cpp", "k"): ("pattern", r'\bk\s*[!=]=\s*"[a-z_]+"'),
    ("cloud/src/api/admin_routes.cpp", "k"): ("pattern", r'\bk\s*[!=]=\s*"[a-z_]+"'),
    ("cloud/src/api/company_routes.cpp", "k"): ("pattern", r'\bk\s*[!=]=\s*"[a-z_]+"'),
    ("cloud/src/api/roles_routes.cpp", "k"): ("pattern", r'\bk\s*[!=]=\s*"[a-z_]+"'),
    ("cloud/src/api/destination_routes.cpp", "k"): ("pattern", r'\bk\s*[!=]=\s*"[a-z_]+"'),
    ("cloud/src/api/alert_routes.cpp", "k"): ("pattern", r'\bk\s*[!=]=\s*"[a-z_]+"'),
    ("cloud/src/api/notice_routes.cpp", "k"): ("pattern", r'\bk\s*[!=]=\s*"[a-z_]+"'),
    ("cloud/src/api/notice_routes.cpp", "std::string(k)"):
        ("pattern", r'\bk\s*[!=]=\s*"[a-z_]+"'),
    ("cloud/src/api/admin_routes.cpp", "item->string"): ("pattern", r'k == "contract_end"'),
    # read_claim(object, "id" or "device_id").
    ("cloud/src/api/destination_routes.cpp", "id_key"):
        ("pattern", r'read_claim\([a-z]+,\s*"[a-z_]+"\)'),
    # The device-list filters read in pairs {"model", &q.model}.
    ("cloud/src/api/fleet_routes.cpp", "name"): ("pattern", r'std::pair\{"[a-z_]+"'),
    ("cloud/src/api/audit_routes.cpp", "key"): ("pattern", r'const char\* key : \{[^}]*\}'),
    ("cloud/src/api/session_routes.cpp", "field"):
        ("pattern", r'const char\* field : \{[^}]*\}'),
}
# The refusals of the delegation rule, answered as 403 forbidden {reason}.
DELEGATION_TABLE = "cloud/src/security/delegation_policy.cpp"


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


def read(repo, f):
    path = repo / f
    return path.read_text(encoding="utf-8") if path.exists() else ""


def traced(repo, patterns, literal, resolved, what, unresolved):
    """The names the expression (group "expr") of each match of `patterns` in the API and HTTP
    sources stands for: a literal's own, or those its entry of `resolved` declares as
    resolve(how, expr, file text) answers them. Appends each expression it cannot resolve."""
    names = set()
    for folder in ("cloud/src/api", "cloud/src/http"):
        for p in sorted((repo / folder).rglob("*.cpp")):
            rel = p.relative_to(repo).as_posix()
            text = p.read_text(encoding="utf-8")
            for m in (m for pattern in patterns for m in pattern.finditer(text)):
                expr = " ".join(m.group("expr").split())
                lit = literal.match(expr)
                how = None if lit else resolved.get((rel, expr))
                if lit:
                    names.add(lit.group(1))
                elif how is None:
                    line = text.count("\n", 0, m.start()) + 1
                    unresolved.append(f"{rel}:{line}: {what} `{expr}` is not a literal")
                else:
                    names |= resolve(repo, rel, how, expr, text, unresolved)
    return names


def resolve(repo, rel, how, expr, text, unresolved):
    """The names an entry of RESOLVED or RESOLVED_FIELDS declares for `expr` of file `rel`."""
    if how[0] == "status":
        return set(STATUS_ERROR.findall(read(repo, how[1])))
    if how[0] == "constant":
        found = re.search(expr.split("::")[-1] + r'\s*=\s*"([a-z_]+)"', read(repo, how[1]))
        if not found:
            unresolved.append(f"{rel}: {expr} not found in {how[1]}")
        return {found.group(1)} if found else set()
    if how[0] == "pattern":
        found = re.findall(how[1], text)
        if not found:
            unresolved.append(f"{rel}: `{expr}`: no match of {how[1]}")
        return {name for match in found for name in re.findall(r'"([a-z_]+)"', match)}
    return set()


def error_codes(repo, unresolved):
    """The codes every error_response/deny call answers and every {"error", ...} row names."""
    codes = set()
    for text in sources(repo, "cloud/src/api", "cloud/src/http"):
        codes |= set(ERROR_ROW.findall(text))
    return codes | traced(repo, [ERROR_CALL], LITERAL, RESOLVED, "error code", unresolved)


def error_fields(repo, unresolved):
    """The field names error answers name."""
    return traced(repo, [FIELD_CALL, FIELD_ROW], FIELD_LITERAL, RESOLVED_FIELDS, "field name",
                  unresolved)


def top_level_args(text):
    """The comma-separated arguments of a call's text, commas inside brackets and strings kept."""
    args, depth, current, quoted = [], 0, "", False
    i = 0
    while i < len(text):
        c = text[i]
        current += c
        if quoted:
            if c == "\\" and i + 1 < len(text):
                current += text[i + 1]
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "," and depth == 0:
            args.append(current[:-1].strip())
            current = ""
        i += 1
    args.append(current.strip())
    return args


def audit_result_arg(call):
    """The result argument (the fifth: company, actor, action, target, result) of an access-log
    call, also of one taking a braced audit_entry; "" when it has none."""
    args = top_level_args(call)
    if len(args) == 1 and args[0].startswith("{") and args[0].endswith("}"):
        args = top_level_args(args[0][1:-1])
    return args[4] if len(args) >= 5 else ""


def wanted(repo, unresolved=None):
    unresolved = [] if unresolved is None else unresolved
    keys = {f"error.{c}" for c in error_codes(repo, unresolved)}
    keys |= {f"field.{f}" for f in error_fields(repo, unresolved)}
    for text in sources(repo, "cloud/src/api"):
        keys |= {f"error.bad_command.{r}" for r in COMMAND_REASON.findall(text)}
    keys |= {f"error.forbidden.{r}" for r in TABLE_NAME.findall(read(repo, DELEGATION_TABLE))}
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
    results = set()
    for text in sources(repo, "cloud/src", "broker-bridge/src"):
        actions |= set(GUARDED.findall(text))
        results |= set(RESULT_SET.findall(text))
        for call in AUDIT_CALL.findall(text):
            found = ACTION.findall(call)
            if found:
                actions.add(found[0])
            results |= set(re.findall(r'"([a-z_]+)"', audit_result_arg(call)))
    keys |= {f"audit.result.{r}" for r in results}
    actions |= {"technician_login.used", "technician_login.failed", "technician_login.locked",
                "technician_login.install"}
    for a in actions:
        keys |= {f"action.{a}", f"action.{a}.desc"}
    return keys


def check(repo):
    have = dictionaries(repo)
    missing = []
    need = wanted(repo, missing)
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
            "cloud/src/api/x.cpp": 'return http::error_response(400, "a", "m"); error_response(409,\n "b", "m");'
                                   ' error_response(400, s.code(), "m"); command_refusal("r", "m");'
                                   ' field_required("f_a"); error_response(400, "a", "m", {{"field", "f_b"}});'
                                   '\n wrong_type(k, "string");',
            "cloud/src/api/audit_routes.cpp": 'for (const char* key : {"from", "to"}) invalid_time(key);',
            "cloud/src/http/y.cpp": "",
            "cloud/src/security/password_policy.cpp": "",
            "cloud/src/security/lockout_policy.cpp": "",
            "cloud/include/aterm/cloud/model.h": 'k_permissions = {"p.q"};',
            "common/src/command_table.cpp": 'op_spec{op_id::x, "x.y", a},',
            "broker-bridge/src/z.cpp": 'm.audit(c, a, "x.y", t, ok ? "success" : "refused", "d, e");'
                                       ' db.append_audit({c, "system", "x.z", "", "purged", d});',
        }.items():
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            (repo / f).write_text(text, encoding="utf-8")
        need, missing = check(repo)
        assert "ja: error.b" in missing, missing
        assert "en: error.b" not in missing, missing
        assert "ja: error.a" not in missing, missing
        assert "en: perm.p.q.desc" in missing, missing
        assert "en: op.x.y.desc" in missing, missing
        assert "en: error.bad_command.r" in missing, missing
        assert any("x.cpp:2: error code `s.code()` is not a literal" in m for m in missing), missing
        assert "en: field.f_a" in missing and "ja: field.f_b" in missing, missing
        assert "ja: field.from" in missing and "en: field.to" in missing, missing
        assert any("x.cpp:3: field name `k` is not a literal" in m for m in missing), missing
        for r in ("success", "refused", "purged"):
            assert f"ja: audit.result.{r}" in missing, missing
        assert not any("audit.result.d" in m for m in missing), missing
    print("self-test passed")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    repo = pathlib.Path(sys.argv[1])
    need, missing = check(repo)
    for m in missing:
        print(m if "not a literal" in m or "not found" in m else f"no translation: {m}")
    print(f"{len(need)} names checked, {len(missing)} entries missing")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
