"""The store commands of python3 -m scboot.provision (import, status,
report, run's checks before any card) and their failures: a bad URI, a
store of a newer schema, rows refused at import with their numbers."""
import csv
import io
import json
import os
import subprocess
import sys

import pytest

from conftest import GP_KEY, PACKAGE_PARENT, account, encoded, iccid, key_file, write_jsonl
from scboot._report import FIELDS
from scboot._store import SCHEMA_VERSION, open_store

TEMPLATE = {"security": [{"server_uri": "${uri}", "bootstrap_server": True, "security_mode": 0,
                          "public_key_or_identity": "${identity}", "secret_key": "${psk}"}]}


def cli(*args, timeout=60):
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    return subprocess.run([sys.executable, "-m", "scboot.provision", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def one_line_error(run, code=2):
    assert run.returncode == code, run
    assert run.stdout == "" and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    return run.stderr


def encoded_hex(n):
    return encoded(account(n)).hex()


def csv_job(tmp_path, n_named, n_free):
    path = tmp_path / "cards.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["iccid", "identity", "psk", "uri"])
        for i in range(n_named + n_free):
            w.writerow([iccid(i) if i < n_named else "", f"id-{i}".encode().hex(),
                        f"{i:032x}", f"coaps://bs{i}.example.com"])
    (tmp_path / "t.json").write_text(json.dumps(TEMPLATE))
    return path


def test_import_then_status_and_report(store_uri, tmp_path):
    job = csv_job(tmp_path, 3, 2)
    run = cli("import", job, "--store", store_uri, "--template", tmp_path / "t.json",
              "--keys", "keys.json")
    assert run.returncode == 0, run.stderr
    assert "5 rows of" in run.stderr and "3 for the cards they name, 2 for any card" in run.stderr
    st = cli("status", "--store", store_uri, "--json")
    assert st.returncode == 0, st.stderr
    counts = json.loads(st.stdout)
    assert (counts["rows"], counts["pending"], counts["free"], counts["written"]) == (5, 5, 2, 0)
    text = cli("status", "--store", store_uri).stdout
    assert "pending: 5" in text and "claimed: 0" in text and "written: 0" in text
    with open_store(store_uri) as store:   # the reference, made absolute from where it was given
        assert store.key_references() == {"named": 5}
        c = store.claim(iccid(1), store.start_lease("st-1", 30), "Reader 1")
        store.finish(c, "st-1", {"outcome": "written", "reader": "Reader 1", "digest": "ab",
                                 "apdus": 22, "seconds": 0.05})
    lines = cli("report", "--store", store_uri).stdout.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert list(record) == list(FIELDS)
    assert (record["station"], record["reader"], record["iccid"], record["row"],
            record["outcome"]) == ("st-1", "Reader 1", iccid(1), 2, "written")
    table = list(csv.reader(io.StringIO(cli("report", "--store", store_uri, "--format",
                                            "csv").stdout)))
    assert table[0] == list(FIELDS) and table[1][FIELDS.index("outcome")] == "written"
    assert "written: 1" in cli("status", "--store", store_uri).stdout


def test_import_refuses_a_bad_row_with_its_number_and_imports_nothing(store_uri, tmp_path):
    rows = [{"iccid": iccid(i), "bootstrap": account(i)} for i in range(4)]
    rows[2]["bootstrap"]["security"][0]["security_mode"] = 9
    job = write_jsonl(tmp_path / "job.jsonl", rows)
    run = cli("import", job, "--store", store_uri)
    assert run.returncode == 2
    assert f"{job} row 3: bootstrap: security[0].security_mode: expected integer 0..4" in \
        run.stderr
    st = cli("status", "--store", store_uri, "--json")
    assert st.returncode == 2 or json.loads(st.stdout)["rows"] == 0
    # a row whose ICCID the store already has: refused by the store, by row
    ok = write_jsonl(tmp_path / "ok.jsonl", [{"iccid": iccid(9), "bootstrap": account(9)}])
    assert cli("import", ok, "--store", store_uri).returncode == 0
    clash = write_jsonl(tmp_path / "more.jsonl", [{"bootstrap": account(1)},
                                                  {"iccid": iccid(9), "bootstrap": account(2)}])
    run = cli("import", clash, "--store", store_uri)
    assert run.returncode == 2
    assert f"more.jsonl row 2: ICCID {iccid(9)} is already in the store (row 1)" in run.stderr
    assert json.loads(cli("status", "--store", store_uri, "--json").stdout)["rows"] == 1


@pytest.mark.parametrize("keys,message", [
    ({"enc": GP_KEY, "mac": GP_KEY, "kvn": 48},
     "row 1: keys: the key set is written in the job; a store keeps keys by reference only"),
    ("pkcs11:token=a;object=b?pin-value=1234", "row 1: keys: a PIN in the URI (pin-value)"),
    ("keys/${serial}.json", "row 1: keys: ${serial}: only ${iccid} can be filled in"),
])
def test_import_takes_keys_by_reference_only(sqlite_uri, tmp_path, keys, message):
    job = write_jsonl(tmp_path / "job.jsonl", [{"bootstrap": account(0), "keys": keys}])
    run = cli("import", job, "--store", sqlite_uri)
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert GP_KEY not in run.stderr and "1234" not in run.stderr


TOKEN = "pkcs11:token=line;object=card-${iccid}?module-path=/usr/lib/softhsm/libsofthsm2.so"


@pytest.mark.parametrize("rows,args,message", [
    # a bare URI names no key version, which new keys need
    ([{"new_keys": TOKEN}], [], "job.jsonl row 1: new_keys: new keys in a token need a key "
                                "version: give {\"pkcs11\": URI, \"kvn\": N}"),
    ([{}], ["--new-keys", TOKEN], "--new-keys: new keys in a token need a key version"),
    ([{"new_keys": {"pkcs11": TOKEN}}], [], "row 1: new_keys.kvn: missing: new keys in a token"),
    ([{"new_keys": {"pkcs11": TOKEN, "kvn": 0}}], [], "row 1: new_keys: key version 0 asks the "
                                                      "card for its default key set"),
    ([{"new_keys": {"pkcs11": TOKEN, "kvn": 49, "enc": GP_KEY}}], [],
     "row 1: new_keys.pkcs11 and new_keys.enc: a token key set is named by pkcs11 and kvn"),
    ([{"keys": {"pkcs11": "keys.json", "kvn": 48}}], [], "row 1: keys.pkcs11: expected a "
                                                         "pkcs11: URI"),
    ([{}], ["--keys", "keys.json", "--kvn", "0x30"], "--keys: a key version applies to a "
                                                      "pkcs11: URI"),
    ([{}], ["--new-kvn", "0x31"], "--new-kvn: the version of a pkcs11: URI given with "
                                  "--new-keys"),
    # one token set for new keys, named by two rows: it would go to one card
    ([{"new_keys": {"pkcs11": TOKEN.replace("${iccid}", "7"), "kvn": 49}}] * 3, [],
     "job.jsonl row 2: new_keys: pkcs11:token=line;object=card-7?module-path="
     "/usr/lib/softhsm/libsofthsm2.so (kvn 0x31) is the new key set of row 1 too"),
    ([{}, {}], ["--new-keys", TOKEN.replace("${iccid}", "7"), "--new-kvn", "0x31"],
     "row 2: new_keys: pkcs11:token=line;object=card-7"),
])
def test_import_refuses_ambiguous_token_references(sqlite_uri, tmp_path, rows, args, message):
    job = write_jsonl(tmp_path / "job.jsonl", [dict(r, bootstrap=account(i))
                                               for i, r in enumerate(rows)])
    run = cli("import", job, "--store", sqlite_uri, *args)
    assert run.returncode == 2 and message in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and GP_KEY not in run.stderr
    assert not (tmp_path / "store.sqlite").exists()   # nothing imported, no store made


def test_import_stores_token_references_with_their_versions(sqlite_uri, tmp_path):
    """A row's {"pkcs11", "kvn"} (JSON lines, or CSV's new_keys.pkcs11 and
    new_keys.kvn cells), import --keys URI --kvn, --new-keys URI --new-kvn:
    the keys JSON token form, ${iccid} kept; a bare URI for current keys
    stays as it is (key version 0)."""
    job = write_jsonl(tmp_path / "job.jsonl", [
        {"bootstrap": account(0), "new_keys": {"pkcs11": TOKEN, "kvn": "0x31"}},
        {"bootstrap": account(1), "keys": TOKEN},
        {"bootstrap": account(2)}])
    run = cli("import", job, "--store", sqlite_uri, "--keys", TOKEN, "--kvn", "48",
              "--new-keys", TOKEN, "--new-kvn", "0x32")
    assert run.returncode == 0, run.stderr
    csv_job = tmp_path / "cards.csv"
    csv_job.write_text("iccid,bootstrap_hex,new_keys.pkcs11,new_keys.kvn\n"
                       f"{iccid(5)},{encoded_hex(5)},{TOKEN},49\n")
    run = cli("import", csv_job, "--store", sqlite_uri)
    assert run.returncode == 0, run.stderr
    import sqlite3
    rows = sqlite3.connect(sqlite_uri[len("sqlite:"):]).execute(
        "SELECT keys_ref, new_keys_ref FROM scboot_rows ORDER BY id").fetchall()
    form = '{{"kvn":{},"pkcs11":"{}"}}'.format
    assert rows == [(form(48, TOKEN), form(49, TOKEN)), (TOKEN, form(50, TOKEN)),
                    (form(48, TOKEN), form(50, TOKEN)), (None, form(49, TOKEN))]


def test_bad_store_uri(tmp_path):
    for command in (["status"], ["report"], ["run", "--once"],
                    ["import", write_jsonl(tmp_path / "j.jsonl", [{"bootstrap": account(0)}])]):
        err = one_line_error(cli(*command, "--store", "mysql://db.example.com/line"))
        assert "mysql://db.example.com/line: not a store URI (sqlite:PATH or postgresql://...)" \
            in err
    err = one_line_error(cli("status", "--store", "postgresql://u:pw@/x?host=/nonexistent"))
    assert "cannot connect" in err and ":pw@" not in err
    err = one_line_error(cli("status", "--store", f"sqlite:{tmp_path / 'none.sqlite'}"))
    assert "no such file (import a job first" in err


def test_a_store_of_a_newer_schema_is_refused(store_uri, raw, tmp_path):
    job = write_jsonl(tmp_path / "job.jsonl", [{"bootstrap": account(0)}])
    assert cli("import", job, "--store", store_uri).returncode == 0
    raw(f"UPDATE scboot_meta SET value = '{SCHEMA_VERSION + 1}' WHERE name = 'schema'")
    for command in (["status"], ["report"], ["run"], ["import", job]):
        err = one_line_error(cli(*command, "--store", store_uri))
        assert f"the store has schema version {SCHEMA_VERSION + 1}, newer than this scboot " \
               f"knows ({SCHEMA_VERSION}): use a newer scboot" in err


def test_run_checks_the_keys_before_any_card(sqlite_uri, tmp_path):
    job = write_jsonl(tmp_path / "job.jsonl", [{"bootstrap": account(i)} for i in range(3)])
    assert cli("import", job, "--store", sqlite_uri).returncode == 0
    err = one_line_error(cli("run", "--store", sqlite_uri, "--once"))
    assert "3 rows name no keys: give --keys FILE" in err
    keys = key_file(tmp_path / "k.json", {"enc": "zz", "mac": GP_KEY, "kvn": 48})
    err = one_line_error(cli("run", "--store", sqlite_uri, "--keys", keys))
    assert "--keys" in err and GP_KEY not in err
