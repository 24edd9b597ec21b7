"""Job files, templates, the report file and the progress display of the
provisioning workflow, without cards."""
import csv
import io
import json
import os

import pytest

import scboot
from conftest import GP_KEY
from scboot._job import Job, JobError, Template
from scboot._progress import Progress, result_line
from scboot._report import FIELDS, Report, ReportError
from scboot import provision

DOC = {"security": [{"server_uri": "coap://x.example.org", "bootstrap_server": True,
                     "security_mode": 3}]}
KEYS = {"enc": GP_KEY, "mac": GP_KEY, "dek": GP_KEY, "kvn": 48}
SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def jsonl(tmp_path, rows, name="job.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def csv_file(tmp_path, header, rows, name="job.csv"):
    path = tmp_path / name
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def encoded(doc):
    with scboot.Bootstrap(doc) as bs:
        return bs.encode()


# ---- rows --------------------------------------------------------------------

@pytest.mark.parametrize("row,message", [
    ({"bootstrap": {"security": [{"security_mode": 7}]}},
     "row 2: bootstrap: security[0].security_mode: expected integer 0..4"),
    ({"bootstrap": {"security": [{"secret_key": "<redacted>"}]}},
     "row 2: bootstrap: security[0].secret_key: is \"<redacted>\""),
    ({"bootstrap": DOC, "keys": dict(KEYS, mac="00" * 24)}, "row 2: keys.mac: 24 bytes"),
    ({"bootstrap": DOC, "keys": dict(KEYS, enc=SECRET[:-1])}, "row 2: keys.enc: "),
    ({"bootstrap": DOC, "keys": dict(KEYS, kvn=300)},
     "row 2: keys.kvn: 300 is not a key version number"),
    ({"bootstrap": DOC, "new_keys": dict(KEYS, mak=SECRET)},
     "row 2: new_keys.mak: unknown key set field"),
    ({"bootstrap": DOC, "colour": "red"}, "row 2: colour: unknown field"),
    ({"bootstrap": DOC, "iccid": "8988-12"}, "row 2: iccid: expected 1..20 decimal digits"),
    ({"bootstrap": DOC, "replace_kvn": "x"}, "row 2: replace_kvn: not a number"),
    ({"bootstrap": [1]}, "row 2: bootstrap: expected a JSON object"),
    ({"bootstrap_hex": "00010004"}, "row 2: bootstrap_hex: "),
    ({"bootstrap_hex": "zz"}, "row 2: bootstrap_hex: not hex text"),
    ({"bootstrap": DOC, "bootstrap_hex": "00000000"}, "row 2: bootstrap and bootstrap_hex"),
    ({}, "row 2: no bootstrap data"),
])
def test_row_errors_name_the_row_and_the_field(tmp_path, row, message):
    path = jsonl(tmp_path, [{"bootstrap": DOC}, row])
    with pytest.raises(JobError) as e:
        Job.load(path, need_keys=False)
    assert f"{path} {message}" in str(e.value)
    assert SECRET not in str(e.value)


def test_every_bad_row_is_listed_and_keys_are_required(tmp_path):
    path = jsonl(tmp_path, [{"bootstrap": DOC}, {"bootstrap": DOC, "keys": KEYS},
                            {"bootstrap": DOC, "iccid": "1"}, {"bootstrap": DOC, "iccid": "1"}])
    with pytest.raises(JobError) as e:
        Job.load(path)   # no job-wide keys: each row needs its own
    text = str(e.value)
    assert "row 1: no keys" in text and "row 3: no keys" in text and "row 2" not in text
    with pytest.raises(JobError, match="row 4: ICCID 1 is also in row 3"):
        Job.load(path, need_keys=False)


def test_file_level_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"bootstrap": DOC}) + "\n\n{\"bootstrap\": \n")
    with pytest.raises(JobError, match="bad.jsonl line 3: not valid JSON"):
        Job.load(str(bad), need_keys=False)
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(JobError, match="no rows"):
        Job.load(str(tmp_path / "empty.jsonl"), need_keys=False)
    with pytest.raises(JobError, match="missing.csv"):
        Job.load(str(tmp_path / "missing.csv"), need_keys=False)
    path = csv_file(tmp_path, ["iccid", "iccid"], [["1", "2"]])
    with pytest.raises(JobError, match="'iccid' column name twice"):
        Job.load(path, need_keys=False)
    path = csv_file(tmp_path, ["iccid", "bootstrap"], [["1"]])
    with pytest.raises(JobError, match=r"row 1 \(line 2\): 1 cells, the header has 2"):
        Job.load(path, need_keys=False)
    path = csv_file(tmp_path, ["bootstrap"], [["{oops"]])
    with pytest.raises(JobError, match="row 1: bootstrap: not valid JSON"):
        Job.load(path, need_keys=False)


def test_csv_rows_with_keys_columns_and_empty_cells(tmp_path):
    header = ["iccid", "bootstrap", "keys.enc", "keys.mac", "keys.dek", "keys.kvn",
              "new_keys.enc", "new_keys.mac", "new_keys.dek", "new_keys.kvn", "replace_kvn"]
    path = csv_file(tmp_path, header, [
        ["8988 3000 01", json.dumps(DOC), GP_KEY, GP_KEY, GP_KEY, "0x30",
         SECRET, SECRET, SECRET, "49", "48"],
        ["898830002", json.dumps(DOC), GP_KEY, GP_KEY, "", "48", "", "", "", "", ""],
    ])
    with Job.load(path) as job:
        first, second = job.rows
        assert first.iccid == "8988300001" and first.keys.kvn == 0x30 and first.keys.has_dek
        assert first.new_keys.kvn == 49 and first.new_keys.kcv() == scboot.kcv(SECRET)
        assert first.replace_kvn == 48
        assert second.keys is not None and not second.keys.has_dek
        assert second.new_keys is None and second.replace_kvn is None
        assert first.data == encoded(DOC)


def test_raw_rows_and_read_output_rows(tmp_path):
    data = encoded(DOC)
    read_json = dict(DOC, read={"apdus": 12}, digest="00")   # `scboot read --json` output
    with Job.load(jsonl(tmp_path, [{"bootstrap_hex": data.hex() + "ffff"},
                                   {"bootstrap": read_json}]), need_keys=False) as job:
        raw, doc = job.rows
        assert raw.data == data + b"\xff\xff" and raw.digest == doc.digest
        assert doc.data == data


# ---- templates -------------------------------------------------------------

TEMPLATE = {
    "security": [{"server_uri": "coaps://${host}:5684/${iccid}?p=$$x", "bootstrap_server": True,
                  "security_mode": "${mode:int}", "public_key_or_identity": "${identity}",
                  "secret_key": "${psk}"}],
    "servers": [{"short_server_id": "${ssid}", "lifetime": 60, "binding": "U",
                 "notification_storing": "${store:bool}"}],
    "objects": [{"id": 10241, "instances": [{"id": 0, "resources": {
        "0": {"hex": "${blob}"}, "1": "${extra:json}"}}]}],
}


def test_template_fills_values_with_their_types(tmp_path):
    tpl = tmp_path / "t.json"
    tpl.write_text(json.dumps(TEMPLATE))
    row = {"iccid": "89 88", "host": "bs.example.com", "mode": "0", "identity": "6964",
           "psk": SECRET, "ssid": 7, "store": "yes", "blob": "0102", "extra": "{\"hex\": \"ff\"}"}
    with Job.load(jsonl(tmp_path, [row]), template=str(tpl), need_keys=False) as job:
        with scboot.Bootstrap.parse(job.rows[0].data) as bs:
            d = bs.to_dict(secrets=True)
    sec, srv = d["security"][0], d["servers"][0]
    assert sec["server_uri"] == "coaps://bs.example.com:5684/8988?p=$x"
    assert sec["security_mode"] == 0 and sec["secret_key"] == SECRET
    assert srv["short_server_id"] == 7 and srv["notification_storing"] is True
    res = d["objects"][0]["instances"][0]["resources"]
    assert res["0"] == {"hex": "0102"} and res["1"] == {"hex": "ff"}


def test_template_from_csv(tmp_path):
    tpl = tmp_path / "t.json"
    tpl.write_text(json.dumps({"servers": [{"short_server_id": "${ssid:int}",
                                            "lifetime": "${life:int}", "binding": "${b}"}]}))
    path = csv_file(tmp_path, ["ssid", "life", "b"], [["1", "0x10", "UQ"], ["2", "20", "U"]])
    with Job.load(path, template=str(tpl), need_keys=False) as job:
        expected = [{"servers": [{"short_server_id": 1, "lifetime": 16, "binding": "UQ"}]},
                    {"servers": [{"short_server_id": 2, "lifetime": 20, "binding": "U"}]}]
        assert [r.data for r in job.rows] == [encoded(e) for e in expected]


@pytest.mark.parametrize("template,row,message", [
    ({"servers": [{"binding": "${b}"}]}, {}, "the template needs ${b} (template.servers[0]"
                                             ".binding) and the row has no b"),
    ({"servers": [{"binding": "${b}"}]}, {"b": "U", "c": "x"}, "c: no ${c} in the template"),
    ({"servers": [{"lifetime": "${l:int}"}]}, {"l": "ten"}, "l (for template.servers[0]"
                                                            ".lifetime): not an integer"),
    ({"servers": [{"lifetime": "${l:bool}"}]}, {"l": "maybe"}, "not a boolean"),
    ({"servers": [{"lifetime": "${l:json}"}]}, {"l": "{"}, "not valid JSON"),
    ({"servers": [{"binding": "${b}"}]}, {"b": "U", "bootstrap": DOC},
     "bootstrap: the template gives the bootstrap data"),
])
def test_template_row_errors(tmp_path, template, row, message):
    tpl = tmp_path / "t.json"
    tpl.write_text(json.dumps(template))
    with pytest.raises(JobError) as e:
        Job.load(jsonl(tmp_path, [row]), template=str(tpl), need_keys=False)
    assert message in str(e.value)


@pytest.mark.parametrize("document,message", [
    ({"servers": [{"binding": "${b:float}"}]}, "template.servers[0].binding: ${b:float}: "
                                               "unknown type"),
    ({"servers": [{"binding": "U${b:int}"}]}, "${b:int} must be the whole string"),
    ({"servers": [{"binding": "${keys}"}]}, "${keys} is a reserved job field"),
    ({"servers": [{"binding": "${b"}]}, "template.servers[0].binding: malformed placeholder"),
    ([1], "expected a JSON object"),
])
def test_template_errors(document, message):
    with pytest.raises(JobError) as e:
        Template(document)
    assert message in str(e.value)


# ---- which card gets which row -------------------------------------------------

def test_assignment_by_iccid_then_in_order_and_restored(tmp_path):
    path = jsonl(tmp_path, [{"bootstrap": DOC}, {"iccid": "42", "bootstrap": DOC},
                            {"bootstrap": DOC}, {"bootstrap": DOC}])
    with Job.load(path, need_keys=False) as job:
        assert job.assign("42").row == 2
        assert job.assign("7").row == 1
        assert job.assign("7").row == 1   # a card keeps its row
        assert job.assign("8").row == 3
        assert job.assign("9").row == 4
        assert job.assign("10") is None   # no free row left
    with Job.load(path, need_keys=False) as job:
        digest = job.rows[3].digest.hex()
        assert not job.restore("9", 4, "00" * 32)   # the row's data changed: not restored
        assert not job.restore("42", 4, digest)     # a card with its own row
        assert job.restore("9", 4, digest)
        assert job.assign("7").row == 1 and job.assign("8").row == 3
        assert job.assign("9").row == 4


# ---- the report -----------------------------------------------------------------

RESULT = {"time": "t", "reader": "R, 1", "iccid": "8988", "row": 3, "outcome": "written",
          "digest": "ab" * 32, "keys": "", "error": "", "apdus": 20, "seconds": 0.5,
          "station": "line-1", "card_digest": "ab" * 32}


def test_report_jsonl_appends_and_reads_back(tmp_path):
    path = str(tmp_path / "r.jsonl")
    with Report(path) as r:
        assert r.previous == [] and r.fmt == "jsonl"
        r.write(RESULT)
    with open(path, "a") as f:
        f.write('{"reader": "cut sh')   # a line torn by a crash
    with Report(path) as r:
        assert r.previous == [RESULT]
        r.write(dict(RESULT, outcome="skipped"))
    lines = open(path).read().splitlines()
    assert json.loads(lines[0]) == RESULT and json.loads(lines[2])["outcome"] == "skipped"
    assert list(json.loads(lines[2])) == list(FIELDS)


def test_report_csv_has_a_header_once(tmp_path):
    path = str(tmp_path / "r.csv")
    for _ in range(2):
        with Report(path) as r:
            r.write(RESULT)
    rows = list(csv.reader(open(path, newline="")))
    assert rows[0] == list(FIELDS) and len(rows) == 3
    assert dict(zip(FIELDS, rows[2]))["reader"] == "R, 1"
    with Report(path) as r:
        assert r.previous[0]["row"] == "3"
    foreign = tmp_path / "other.csv"
    foreign.write_text("a,b\n1,2\n")
    with pytest.raises(ReportError, match="not a provisioning report"):
        Report(str(foreign))
    with pytest.raises(ReportError, match="unknown report format"):
        Report(path, "xml")


# ---- progress ---------------------------------------------------------------------

class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal_redraws_one_status_line():
    out = Terminal()
    p = Progress(["A", "B"], out)
    assert p.mode == "tty"
    p.step("A", "writing")
    assert out.getvalue().endswith("\r\x1b[K[0/2] 0 written, 0 skipped, 0 failed | A: writing; "
                                   "B: waiting")
    p.started("A", "8988", 1)   # the status line shows it; no line of its own
    p.finished("A", dict(RESULT, reader="A"))
    text = out.getvalue()
    assert "\r\x1b[KA: ICCID 8988, row 3: written (digest abababababababab, 0.50 s, " \
           "20 APDUs)\n" in text
    assert text.endswith("[1/2] 1 written, 0 skipped, 0 failed | B: waiting")
    p.finished("B", dict(RESULT, reader="B", outcome="interrupted", error="cut"))
    assert p.summary(1.25) == ("2 cards in 1.2 s: 1 written, 0 skipped, 1 failed "
                               "(1 interrupted: re-provision them)")
    assert out.getvalue().endswith("\r\x1b[K" + p.summary(1.25) + "\n")


def test_progress_status_line_shortens_reader_names():
    out = Terminal()
    p = Progress(["Virtual PCD 00 00", "Virtual PCD B 00 00"], out)
    p.step("Virtual PCD B 00 00", "checking")
    assert out.getvalue().endswith("| 00 00: waiting; B 00 00: checking")
    p.finished("Virtual PCD 00 00", dict(RESULT, reader="Virtual PCD 00 00"))
    assert "Virtual PCD 00 00: ICCID 8988" in out.getvalue()   # full names on result lines


def test_progress_plain_and_off():
    out = io.StringIO()
    p = Progress(["A"], out)
    assert p.mode == "plain"
    p.step("A", "writing")
    p.started("A", "8988", None)
    p.finished("A", dict(RESULT, reader="A", row=None, iccid="", outcome="failed",
                         error="no card"))
    p.summary(2)
    assert out.getvalue().splitlines() == [
        "A: ICCID 8988, no job row: started",
        "A: no ICCID: failed (0.50 s, 20 APDUs): no card",
        "1 card in 2.0 s: 0 written, 0 skipped, 1 failed"]
    silent = io.StringIO()
    q = Progress(["A"], silent, mode="off")
    q.finished("A", dict(RESULT, reader="A"))
    q.summary(1)
    assert silent.getvalue() == ""
    assert result_line(dict(RESULT, keys="rotated")).startswith(
        "R, 1: ICCID 8988, row 3: written, keys rotated (")


# ---- the command line before any card ---------------------------------------------

def test_command_line_errors_touch_no_card(tmp_path, capsys):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(KEYS))
    job = jsonl(tmp_path, [{"bootstrap": {"security": [{"security_mode": 9}]}}])
    assert provision.main([job, "--keys", str(keys)]) == provision.EXIT_USAGE
    err = capsys.readouterr().err
    assert "row 1: bootstrap: security[0].security_mode" in err
    assert not (tmp_path / "job.report.jsonl").exists()

    good = jsonl(tmp_path, [{"bootstrap": DOC}], "good.jsonl")
    assert provision.main([good]) == provision.EXIT_USAGE   # no keys anywhere
    assert "row 1: no keys" in capsys.readouterr().err
    # the level is checked against the library's option table (whether it
    # is enough to write, the library says at the write: test_provision_sim)
    assert provision.main([good, "--keys", str(keys), "--level", "0x22"]) == 2
    assert "--level 0x22: option 'level': 34 (0x22) is not one of" in capsys.readouterr().err
    assert provision.main([good, "--keys", str(keys), "--level", "lots"]) == 2
    assert "--level lots: not a number" in capsys.readouterr().err
    assert provision.main([good, "--keys", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err
    assert "--keys" in err and "none.json" in err
    bad_keys = tmp_path / "bad_keys.json"
    bad_keys.write_text(json.dumps(dict(KEYS, dek="00")))
    assert provision.main([good, "--new-keys", str(bad_keys), "--keys", str(keys)]) == 2
    err = capsys.readouterr().err
    assert "--new-keys" in err and "dek" in err and GP_KEY not in err
    report = tmp_path / "foreign.csv"
    report.write_text("x\n")
    assert provision.main([good, "--keys", str(keys), "--report", str(report)]) == 2
    assert "not a provisioning report" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        provision.main([good, "--report-format", "xml"])
    assert usage.value.code == 2


def test_default_report_name_follows_the_job():
    assert provision._default_report("cards.csv", None) == "cards.report.csv"
    assert provision._default_report("dir.v2/cards", None) == "dir.v2/cards.report.jsonl"
    assert provision._default_report("cards.jsonl", "csv") == "cards.report.csv"


def test_help_documents_the_workflow(capsys):
    with pytest.raises(SystemExit):
        provision.main(["--help"])
    text = capsys.readouterr().out
    for option in ("--template", "--keys", "--kdf3", "--new-keys", "--replace", "--readers",
                   "--report", "--pad", "Exit status"):
        assert option in text
    assert "resumable" in provision.__doc__ or "repeated" in provision.__doc__


def test_no_pcsc_service_is_exit_3_in_one_line(tmp_path, monkeypatch):
    """Without a PC/SC daemon (pcsc-lite's client socket pointed nowhere)
    the run stops before the job is imported: one line, exit 3."""
    from conftest import run_provision
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(KEYS))
    job = jsonl(tmp_path, [{"bootstrap": DOC}])
    monkeypatch.setenv("PCSCLITE_CSOCK_NAME", str(tmp_path / "no-pcscd.comm"))
    # A library built without PC/SC says so instead (exit 1: unsupported).
    code, why = 3, ("cannot reach the PC/SC daemon (Service not available.): is pcscd "
                    "running? (SCB_E_NO_SERVICE)")
    if os.environ.get("SCB_WITH_PCSC") == "OFF":
        code, why = 1, ("this build of libscboot has no PC/SC support (built with "
                        "SCB_WITH_PCSC=OFF): use the modem or another transport "
                        "(SCB_E_UNSUPPORTED)")
    for extra in (["--readers", "X"], []):
        run = run_provision(job, "--keys", keys, *extra)
        assert run.returncode == code, run.stderr
        assert run.stderr.splitlines() == ["provision: " + why]
    assert not (tmp_path / "job.store.sqlite").exists()
    store = f"sqlite:{tmp_path / 's.sqlite'}"
    assert run_provision("import", job, "--store", store, "--keys", keys).returncode == 0
    run = run_provision("run", "--store", store, "--readers", "X", "--once")
    assert (run.returncode, run.stderr.splitlines()) == (code, ["provision run: " + why])


@pytest.mark.parametrize("where,why", [("nothere.json", "No such file or directory"),
                                       (".", "Is a directory"),
                                       ("binary.json", "not UTF-8 text"),
                                       ("bad.json", "not valid JSON")])
def test_a_template_that_cannot_be_read_is_one_line(tmp_path, where, why):
    from conftest import run_provision
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe{")
    (tmp_path / "bad.json").write_text("{")
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(KEYS))
    job = jsonl(tmp_path, [{"iccid": "1", "psk": "00"}])
    template = tmp_path / where
    for argv in ([job, "--keys", keys, "--template", template],
                 ["import", job, "--store", f"sqlite:{tmp_path / 's.sqlite'}", "--template",
                  template]):
        run = run_provision(*argv)
        assert run.returncode == 2, run.stderr
        (line,) = run.stderr.splitlines()
        assert line.startswith("provision") and f"template {template}: {why}" in line, line


@pytest.mark.parametrize("fields", [FIELDS[:-1], FIELDS[:-2]])
def test_a_csv_report_of_an_earlier_version_is_appended_as_it_is(tmp_path, fields):
    path = tmp_path / "r.csv"
    path.write_text(",".join(fields) + "\r\n")
    with Report(str(path)) as r:
        r.write(RESULT)
    rows = list(csv.reader(open(path, newline="")))
    assert rows == [list(fields), [str(RESULT[k]) for k in fields]]
