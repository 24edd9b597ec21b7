"""End to end: `python3 -m scboot.provision` against four virtual
card processes behind pcscd's four vpcd readers, one thread per reader.
The cards' content is read back through the CLI or the binding and must be
byte-identical to the encoded job data."""
import csv
import json
import subprocess
import sys
import time

import pytest

import scboot
from conftest import (BUILD_DIR, GP_KEY, ICCIDS, READERS, SCBOOT, SOURCE_DIR, card_profile,
                      first_update_binary, provision_in_process, read_raw, report_lines,
                      run_provision)
from scboot._report import FIELDS

pytestmark = pytest.mark.pcscd


def account(i, lifetime=3600, extra=0):
    """Card i's bootstrap data: a bootstrap server (PSK) and a server account
    (and an object of ``extra`` opaque bytes, for a write of several
    commands)."""
    doc = {
        "security": [{"server_uri": "coaps://bs.example.com:5684", "bootstrap_server": True,
                      "security_mode": 0,
                      "public_key_or_identity": f"device-{i}".encode().hex(),
                      "secret_key": f"{i + 1:02x}" * 16}],
        "servers": [{"short_server_id": 1, "lifetime": lifetime, "binding": "U"}],
    }
    if extra:
        doc["objects"] = [{"id": 10241, "instances": [{"id": 0, "resources": {
            "0": {"hex": f"{i:02x}" * extra}}}]}]
    return doc


def encoded(doc):
    with scboot.Bootstrap(doc) as bs:
        return bs.encode()


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def wait_usable(reader, timeout=15.0):
    """Until a card in reader answers (a card process that reconnected)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with scboot.Card.open(reader) as card:
                return card.read_iccid()
        except scboot.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_batch_provisions_all_four_then_a_rerun_skips_them(cards, keys_file, tmp_path):
    cards()
    job = write_jsonl(tmp_path / "job.jsonl",
                      [{"iccid": ICCIDS[i], "bootstrap": account(i)} for i in range(4)])
    run = run_provision(job, "--keys", keys_file)
    assert run.returncode == 0, run.stderr
    first = report_lines(tmp_path / "job.report.jsonl")
    assert len(first) == 4
    for i, reader in enumerate(READERS):
        line = next(r for r in first if r["reader"] == reader)
        expected = encoded(account(i))
        assert line["iccid"] == ICCIDS[i] and line["row"] == i + 1
        assert line["outcome"] == "written" and line["error"] == ""
        with scboot.Bootstrap.parse(expected) as bs:
            assert line["digest"] == bs.digest.hex()
        assert read_raw(reader, keys_file, tmp_path) == expected   # byte-identical in the card

    again = run_provision(job, "--keys", keys_file)
    assert again.returncode == 0, again.stderr
    second = report_lines(tmp_path / "job.report.jsonl")[4:]   # appended
    assert sorted(r["iccid"] for r in second) == sorted(ICCIDS)
    assert {r["outcome"] for r in second} == {"skipped"}
    assert "4 skipped" in again.stderr


def test_card_disconnecting_mid_write_is_reported_and_the_others_succeed(
        cards, keys_file, keys, tmp_path):
    # ~600 bytes: the write takes three UPDATE BINARY commands. Card 1
    # answers the first, then leaves the reader, holding a partial file;
    # with --forever its process comes back (power cycled, the fault spent).
    data = [account(i, extra=500) for i in range(4)]
    job = write_jsonl(tmp_path / "job.jsonl",
                      [{"iccid": ICCIDS[i], "bootstrap": data[i]} for i in range(4)])
    cut = first_update_binary(card_profile(1), job, keys)
    profiles = [card_profile(i) for i in range(4)]
    profiles[1]["faults"] = {"disconnect_after": cut}
    cards(profiles, [[], ["--forever"], [], []])

    run = run_provision(job, "--keys", keys_file)
    assert run.returncode == 1, run.stderr
    lines = {r["reader"]: r for r in report_lines(tmp_path / "job.report.jsonl")}
    broken = lines[READERS[1]]
    assert broken["outcome"] == "interrupted"
    assert broken["iccid"] == ICCIDS[1]
    assert "interrupted" in broken["error"] and "re-provisioning" in broken["error"]
    assert "SCB_E_WRITE_INCOMPLETE" in broken["error"]
    # The words of the same card pulled at the same command in process.
    alone = write_jsonl(tmp_path / "card1.jsonl", [{"iccid": ICCIDS[1], "bootstrap": data[1]}])
    inproc = provision_in_process(profiles[1], alone, keys)
    assert broken["error"] == inproc["error"], (broken["error"], inproc["error"])
    assert broken["error"].startswith("writing: write interrupted after 0 of ")
    assert broken["card_digest"] == "" and broken["digest"] == encoded_digest(data[1])
    for i in (0, 2, 3):
        assert lines[READERS[i]]["outcome"] == "written", lines[READERS[i]]
    assert "1 interrupted" in run.stderr

    # The re-run skips the three done cards and provisions the fourth.
    assert wait_usable(READERS[1]) == ICCIDS[1]
    again = run_provision(job, "--keys", keys_file, "--readers", ",".join(READERS))
    assert again.returncode == 0, again.stderr
    rerun = {r["reader"]: r for r in report_lines(tmp_path / "job.report.jsonl")[4:]}
    assert rerun[READERS[1]]["outcome"] == "written"
    assert [rerun[READERS[i]]["outcome"] for i in (0, 2, 3)] == ["skipped"] * 3
    assert read_raw(READERS[1], keys_file, tmp_path) == encoded(data[1])


def encoded_digest(doc):
    with scboot.Bootstrap(doc) as bs:
        return bs.digest.hex()


def test_a_card_pulled_while_its_data_is_checked_reads_as_in_process(cards, keys_file, keys,
                                                                     tmp_path):
    profiles = [card_profile(i) for i in range(4)]
    profiles[0]["faults"] = {"disconnect_after": 8}   # in the read of its bootstrap file
    cards(profiles)
    job = write_jsonl(tmp_path / "job.jsonl", [{"iccid": ICCIDS[0], "bootstrap": account(0)}])
    run = run_provision(job, "--keys", keys_file, "--readers", READERS[0])
    assert run.returncode == 1, run.stderr
    (line,) = report_lines(tmp_path / "job.report.jsonl")
    inproc = provision_in_process(profiles[0], job, keys)
    assert line["outcome"] == inproc["outcome"] == "failed"
    assert line["error"] == inproc["error"], (line["error"], inproc["error"])
    assert line["error"].startswith("checking the card's data: ") and "card removed" in \
        line["error"]


TEMPLATE = {
    "security": [{"server_uri": "${uri}", "bootstrap_server": True, "security_mode": 0,
                  "public_key_or_identity": "${identity}", "secret_key": "${psk}"}],
    "servers": [{"short_server_id": 1, "lifetime": "${lifetime:int}", "binding": "U"}],
}


def test_csv_job_with_template_per_row_and_csv_report(cards, keys_file, keys, tmp_path):
    """Rows without ICCIDs go to the cards in file order; the report (CSV)
    remembers which card got which row, so a re-run skips them all."""
    cards()
    rows = [{"identity": f"node-{i}".encode().hex(), "psk": f"{0xA0 + i:02x}" * 16,
             "uri": f"coaps://bs{i}.example.com:5684", "lifetime": str(600 * (i + 1))}
            for i in range(4)]
    job = tmp_path / "cards.csv"
    with open(job, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["identity", "psk", "uri", "lifetime"])
        w.writeheader()
        w.writerows(rows)
    template = tmp_path / "template.json"
    template.write_text(json.dumps(TEMPLATE))
    report = tmp_path / "out.csv"

    run = run_provision(job, "--template", template, "--keys", keys_file, "--report", report,
                        "--pad")
    assert run.returncode == 0, run.stderr
    with open(report, newline="") as f:
        table = list(csv.reader(f))
    assert tuple(table[0]) == FIELDS
    done = [dict(zip(FIELDS, r)) for r in table[1:]]
    assert sorted(int(d["row"]) for d in done) == [1, 2, 3, 4]
    for d in done:
        row = rows[int(d["row"]) - 1]
        filled = json.loads(json.dumps(TEMPLATE).replace("${uri}", row["uri"])
                            .replace("${identity}", row["identity"])
                            .replace("${psk}", row["psk"])
                            .replace('"${lifetime:int}"', row["lifetime"]))
        expected = encoded(filled)
        assert d["outcome"] == "written" and d["iccid"] in ICCIDS
        with scboot.Card.open(d["reader"]) as card:
            with card.read_bootstrap(keys) as bs:
                assert bs.raw == expected
                assert d["digest"] == bs.digest.hex()
                shown = bs.to_dict(secrets=True)
                path = bs.access.path
            card.open_app(keys)   # the whole EF: --pad filled it with FF
            fcp = card.select_fid(int.from_bytes(path[-2:], "big"))
            assert card.read_binary(fcp.file_size) == expected + b"\xff" * (
                fcp.file_size - len(expected))
            card.close_app()
        assert shown["security"][0]["server_uri"] == row["uri"]
        assert shown["security"][0]["secret_key"] == row["psk"]
        assert shown["servers"][0]["lifetime"] == int(row["lifetime"])

    again = run_provision(job, "--template", template, "--keys", keys_file, "--report", report)
    assert again.returncode == 0, again.stderr
    with open(report, newline="") as f:
        table = list(csv.reader(f))
    rerun = [dict(zip(FIELDS, r)) for r in table[5:]]
    assert {d["outcome"] for d in rerun} == {"skipped"}
    assert ({(d["iccid"], d["row"]) for d in rerun} == {(d["iccid"], d["row"]) for d in done})


def test_key_rotation_after_the_write(cards, keys_file, tmp_path):
    """Each card gets its own new keys, replacing the old set; the re-run
    finds the cards answering to the new keys and leaves them alone."""
    cards()
    new = [{"enc": f"{0x50 + i:02x}" * 16, "mac": f"{0x60 + i:02x}" * 16,
            "dek": f"{0x70 + i:02x}" * 16, "kvn": 48} for i in range(4)]
    job = write_jsonl(tmp_path / "job.jsonl",
                      [{"iccid": ICCIDS[i], "bootstrap": account(i), "new_keys": new[i]}
                       for i in range(4)])
    run = run_provision(job, "--keys", keys_file, "--replace", "0x30")
    assert run.returncode == 0, run.stderr
    lines = report_lines(tmp_path / "job.report.jsonl")
    assert {(r["outcome"], r["keys"]) for r in lines} == {("written", "rotated")}
    for i, reader in enumerate(READERS):
        new_file = tmp_path / f"new{i}.json"
        new_file.write_text(json.dumps(new[i]))
        assert read_raw(reader, new_file, tmp_path) == encoded(account(i))
    old = subprocess.run([str(SCBOOT), "read", "--reader", READERS[0], "--keys", str(keys_file)],
                         capture_output=True, timeout=60)
    assert old.returncode == 5   # the old key set is gone
    # The job's key sets stay in the job: its store only says "inline".
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("job.store.sqlite*"))
    assert stored and b"inline" in stored
    for k in new:
        for part in ("enc", "mac", "dek"):
            assert k[part].encode() not in stored and bytes.fromhex(k[part]) not in stored

    again = run_provision(job, "--keys", keys_file, "--replace", "0x30")
    assert again.returncode == 0, again.stderr
    rerun = report_lines(tmp_path / "job.report.jsonl")[4:]
    assert {(r["outcome"], r["keys"]) for r in rerun} == {("skipped", "already")}


def test_progress_lines_show_the_readers_working_at_once(cards, keys_file, tmp_path):
    """Plain progress on a pipe: each card's start and end, then a summary.
    With 15 ms per APDU a card takes about half a second: all four start
    before the first one ends, which a run reader by reader would not do."""
    cards(extra_args=[["--delay-ms", "15"]] * 4)
    job = write_jsonl(tmp_path / "job.jsonl",
                      [{"iccid": ICCIDS[i], "bootstrap": account(i)} for i in range(4)])
    run = run_provision(job, "--keys", keys_file)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    started = [n for n, line in enumerate(lines) if line.endswith(": started")]
    ended = [n for n, line in enumerate(lines) if ": written (" in line]
    assert len(started) == 4 and len(ended) == 4, run.stderr
    assert max(started) < min(ended), run.stderr
    for i, reader in enumerate(READERS):
        assert f"{reader}: ICCID {ICCIDS[i]}, row {i + 1}: written (digest " in run.stderr
    assert "4 cards in" in run.stderr and "4 written, 0 skipped, 0 failed" in run.stderr
    assert "\x1b[" not in run.stderr   # no terminal control on a pipe
    assert GP_KEY.lower() not in run.stderr.lower() and run.stdout == ""


def test_given_readers_only_and_an_empty_one_fails(cards, keys_file, tmp_path):
    c = cards()
    c.procs[3].stop()   # "Virtual PCD B 00 01" is empty now
    job = write_jsonl(tmp_path / "job.jsonl",
                      [{"iccid": ICCIDS[i], "bootstrap": account(i)} for i in range(4)])
    run = run_provision(job, "--keys", keys_file, "--readers", READERS[0],
                        "--readers", f"{READERS[2]},{READERS[3]}")
    assert run.returncode == 1, run.stderr
    lines = {r["reader"]: r for r in report_lines(tmp_path / "job.report.jsonl")}
    assert set(lines) == {READERS[0], READERS[2], READERS[3]}
    assert lines[READERS[0]]["outcome"] == lines[READERS[2]]["outcome"] == "written"
    assert lines[READERS[3]]["outcome"] == "failed"
    assert "SCB_E_NO_CARD" in lines[READERS[3]]["error"]


def test_python_write_read_round_trip_is_byte_identical(cards, keys):
    """In Python: read -> edit -> write -> read ->
    write -> read leaves the same bytes in the card."""
    cards()
    with scboot.Card.open(READERS[0]) as card:
        with card.read_bootstrap(keys) as bs:
            doc = bs.to_dict(secrets=True)
        doc["security"][0]["secret_key"] = "00112233445566778899aabbccddeeff"
        doc["servers"][0]["lifetime"] = 1234
        card.write_bootstrap(doc, keys)   # the dict, as to_dict gives it
        with card.read_bootstrap(keys) as bs:
            first, again = bs.raw, bs.to_dict(secrets=True)
        assert first == encoded(doc)
        assert again["servers"][0]["lifetime"] == 1234
        card.write_bootstrap(scboot.Bootstrap(again), keys, pad=True)
        with card.read_bootstrap(keys) as bs:
            assert bs.raw == first


def test_put_keys_with_the_current_keys_proves_the_new_set(cards, keys):
    cards()
    with scboot.Card.open(READERS[2]) as card, \
            scboot.Keys("A0" * 16, "B1" * 16, "C2" * 16, kvn=0x31) as new:
        info = card.put_keys(new, keys=keys)
        assert info.scp_level == 0x33 and info.apdus > 0
        assert card.read_bootstrap(new).servers   # the new set opens the card
        assert card.read_bootstrap(keys).servers  # added, not replaced
        with pytest.raises(scboot.CardStatusError) as refused:
            card.put_keys(new, keys=keys)          # KVN 31 exists now
        assert refused.value.sw == 0x6A80


def test_benchmark_script_runs(pcscd):
    """bench/bench_provision.py (a benchmark, run by hand or by the bench
    target) still works and prints its `name: value unit` lines."""
    script = SOURCE_DIR / "bench" / "bench_provision.py"
    out = subprocess.run([sys.executable, str(script), str(BUILD_DIR), "--quick",
                          "--seconds", "0.3"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    values = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    for n in (1, 2, 4):
        assert values[f"provision_cards_per_min_{n}"].endswith(" cards/min")
        assert float(values[f"provision_cards_per_min_{n}"].split()[0]) > 0
    assert values["provision_speedup_4"].endswith(" x")
    # the budget: ICCID 2, cold read <= 12, warm write 10 (the header is
    # invalidated first and written last, so that a cut write never tears)
    assert int(values["provision_apdus_per_card"].split()[0]) <= 24


def test_a_store_run_once_works_the_cards_in_the_readers_now(cards, keys_file, tmp_path):
    """`run --once` without --readers: one pass over the readers that hold a
    card (an empty reader is no failed card), as the one-command form."""
    c = cards()
    c.procs[3].stop()
    time.sleep(1.2)   # pcscd polls every 400 ms: let it see the reader empty
    store = f"sqlite:{tmp_path / 'line.db'}"
    job = write_jsonl(tmp_path / "job.jsonl",
                      [{"iccid": ICCIDS[i], "bootstrap": account(i)} for i in range(4)])
    imported = run_provision("import", job, "--store", store, "--keys", keys_file)
    assert imported.returncode == 0, imported.stderr
    run = run_provision("run", "--store", store, "--once")
    assert run.returncode == 0, run.stderr
    report = run_provision("report", "--store", store)
    lines = {r["reader"]: r for r in map(json.loads, report.stdout.splitlines())}
    assert set(lines) == set(READERS[:3]), lines
    assert {r["outcome"] for r in lines.values()} == {"written"}
