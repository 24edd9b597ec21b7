"""Provisioning batches with keys in a SoftHSM2 token (python3 -m
scboot.provision): the cards' current keys imported into the token with
`scboot keys import`, each card's new keys generated in the token by its
rotation (a `card-${iccid}` label template), the store holding references
only. Through pcscd: the one-station file job form and the store form
(import, then run) on SQLite, each card read back afterwards with its own
token set (and refused with the old one); the shim module's log shows
CKA_VALUE never asked. In process: token failures fail their card and the
others go on; a PIN the token refuses is tried once, and the station stops.

The library loads SoftHSM2 into this process too (the checks, and the
in-process batches): each test points SOFTHSM2_CONF at its own token and
closes every key set it made."""
import csv
import json
import os
import sqlite3
import subprocess
import sys
import threading

import pytest

import pcsc_env
import scboot
from softhsm import SCBOOT, SHIM, shim_log, value_requested
from scboot._keyref import KeyLoader, KeyRefError
from scboot._job import Job
from scboot._station import Station
from scboot._store import open_store
from scboot._store_import import import_job, store_rows
from scboot.provision import Options, Provisioner
from scboot.sim import VirtualCard

# The cards' current keys (never the public GP test keys): imported into
# the token, looked for in every store, report and message afterwards.
CARD_KEYS = ("7A1C33D05E9B42F18C6D2E7F90A1B3C4", "5B2E4D6F8091A2B3C4D5E6F708192A3B",
             "C0FFEE00DEADBEEF0123456789ABCDEF")
KVN, NEW_KVN = 0x30, 0x31
READERS = list(pcsc_env.READERS)
ICCIDS = [f"898830170000000000{i}" for i in range(4)]
TEMPLATE = {"security": [{"server_uri": "${uri}", "bootstrap_server": True,
                          "security_mode": 0, "public_key_or_identity": "${identity}",
                          "secret_key": "${psk}"}]}
BOOTSTRAP_EF = "50156432"


def fields(i):
    return {"identity": f"node-{i}".encode().hex(), "psk": f"{i + 1:032x}",
            "uri": f"coaps://bs{i}.example.com"}


def card_profile(i):
    """Card i: its ICCID, the current keys as key set 0x30."""
    return {"iccid": ICCIDS[i], "scp03": {"keys": [
        {"kvn": KVN, "enc": CARD_KEYS[0], "mac": CARD_KEYS[1], "dek": CARD_KEYS[2]}]}}


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def private_file(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def provision(token, *args, **env):
    """python3 -m scboot.provision ARGS, with this token's environment (no
    controlling terminal: nothing can wait for a prompt)."""
    return subprocess.run([sys.executable, "-m", "scboot.provision", *map(str, args)],
                          capture_output=True, text=True, timeout=120, env=token.env(**env),
                          start_new_session=True)


def assert_no_key_bytes(data, where):
    for key in CARD_KEYS:
        for form in (key.upper().encode(), key.lower().encode(), bytes.fromhex(key)):
            assert form not in data, f"a key in {where}"


def sqlite_bytes(path):
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def check_token_log(log, cards):
    """The provisioning processes never asked the token for a key's value;
    the token generated ENC, MAC and DEK once per card."""
    calls = shim_log(log)
    assert calls, "the shim saw no call"
    assert value_requested(calls) == []
    assert sum(1 for fn, _ in calls if fn == "C_GenerateKey") == 3 * cards
    return calls


def check_cards(token, iccids, monkeypatch):
    """Each card (through pcscd) answers to its own token set, key set
    0x31, whose objects are sensitive and never left the token; the
    current keys (0x30, replaced) no longer open it."""
    monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
    labels = token.labels()
    with scboot.Keys.from_pkcs11(token.uri("line"), kvn=KVN) as old:
        for i, reader in enumerate(READERS):
            name = f"card-{iccids[i]}"
            assert {f"{name}/enc", f"{name}/mac", f"{name}/dek"} <= set(labels)
            a = token.attributes(f"{name}/dek")
            assert a["CKA_SENSITIVE"] is True and a["CKA_EXTRACTABLE"] is False
            assert a["CKA_NEVER_EXTRACTABLE"] is False   # it left once, wrapped for the card
            assert a["CKA_LOCAL"] is True and a["CKA_VALUE"] is None   # SoftHSM refuses it
            with scboot.Keys.from_pkcs11(token.uri(name), kvn=NEW_KVN) as new, \
                    scboot.Card.open(reader) as card:
                assert card.read_iccid() == iccids[i]
                bs = card.read_bootstrap(new)
                assert bs.security[0]["public_key_or_identity"] == fields(i)["identity"]
                with pytest.raises(scboot.NoKeySetError):
                    card.read_bootstrap(old)
    # every card its own set: four sets, twelve objects, plus the current one
    assert sum(1 for label in labels if label.startswith("card-")) == 12


class CardProcesses:
    """`scboot sim --vpcd` behind each of the four readers."""

    def __init__(self, tmp_path):
        self.procs = []
        for i, reader in enumerate(READERS):
            profile = tmp_path / f"card{i}.json"
            profile.write_text(json.dumps(card_profile(i)))
            self.procs.append(pcsc_env.CardProcess(
                [SCBOOT, "sim", "--vpcd", f"127.0.0.1:{pcsc_env.READERS[reader]}", "--profile",
                 profile], reader))

    def __enter__(self):
        try:
            for p in self.procs:
                p.__enter__()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.stop()


@pytest.fixture
def line_token(token):
    """The token with the cards' current keys, imported by `scboot keys import`."""
    token.import_scboot("line", CARD_KEYS, kvn=KVN)
    return token


# ---- through pcscd: the two command-line forms ----------------------------------

@pytest.mark.pcscd
def test_file_job_form_with_token_keys(pcscd, line_token, tmp_path, monkeypatch):
    """provision JOB --keys FILE: the key file is the token form of the
    current keys; the rows name new keys per card in the token."""
    token = line_token
    keys_file = private_file(tmp_path / "line-keys.json",
                             json.dumps({"pkcs11": token.shim_uri("line"), "kvn": KVN}))
    new_uri = token.shim_uri("card-${iccid}")
    job = write_csv(tmp_path / "cards.csv",
                    ["iccid", "identity", "psk", "uri", "new_keys.pkcs11", "new_keys.kvn",
                     "replace_kvn"],
                    [[ICCIDS[i], *fields(i).values(), new_uri, "0x31", "0x30"]
                     for i in range(4)])
    (tmp_path / "t.json").write_text(json.dumps(TEMPLATE))
    log = tmp_path / "shim.log"
    with CardProcesses(tmp_path):
        run = provision(token, job, "--template", tmp_path / "t.json", "--keys", keys_file,
                        "--readers", ",".join(READERS), SCB_P11SHIM_LOG=log)
        assert run.returncode == 0, run.stderr
        report = tmp_path / "cards.report.csv"
        lines = list(csv.DictReader(open(report)))
        assert sorted((r["iccid"], r["outcome"], r["keys"]) for r in lines) == [
            (i, "written", "rotated") for i in ICCIDS]
        check_token_log(log, 4)
        check_cards(token, ICCIDS, monkeypatch)
        # Again: every card holds its data and answers to its new set
        # (opened from the token as it is now: nothing is generated twice).
        again = provision(token, job, "--template", tmp_path / "t.json", "--keys", keys_file,
                          "--readers", ",".join(READERS), SCB_P11SHIM_LOG=log)
        assert again.returncode == 0, again.stderr
        lines = list(csv.DictReader(open(report)))[4:]
        assert sorted((r["outcome"], r["keys"]) for r in lines) == [("skipped", "already")] * 4
        check_token_log(log, 4)
    store = tmp_path / "cards.store.sqlite"
    refs = sqlite3.connect(store).execute("SELECT keys_ref, new_keys_ref FROM scboot_rows")
    assert {tuple(r) for r in refs} == {
        (None, json.dumps({"kvn": NEW_KVN, "pkcs11": new_uri}, separators=(",", ":")))}
    for data, where in ((sqlite_bytes(store), "the store"), (report.read_bytes(), "the report"),
                        ((run.stderr + again.stderr).encode(), "the progress")):
        assert_no_key_bytes(data, where)


@pytest.mark.pcscd
def test_store_form_import_then_run(pcscd, line_token, tmp_path, monkeypatch):
    """import --keys URI --kvn --new-keys URI-template --new-kvn, then run:
    first with a PIN the token refuses (SCBOOT_PIN11, no pin-source): one
    login, the station stops, exit 8, no card touched; then with the PIN."""
    token = line_token
    job = write_csv(tmp_path / "cards.csv", ["iccid", "identity", "psk", "uri"],
                    [["" if i % 2 else ICCIDS[i], *fields(i).values()] for i in range(4)])
    (tmp_path / "t.json").write_text(json.dumps(TEMPLATE))
    db = tmp_path / "line.sqlite"
    store = f"sqlite:{db}"
    current, new = token.shim_uri("line", pin=False), token.shim_uri("card-${iccid}", pin=False)
    imported = provision(token, "import", job, "--store", store, "--template", tmp_path / "t.json",
                         "--keys", current, "--kvn", "0x30", "--new-keys", new, "--new-kvn",
                         "0x31")
    assert imported.returncode == 0, imported.stderr
    refs = {tuple(r) for r in sqlite3.connect(db).execute(
        "SELECT keys_ref, new_keys_ref FROM scboot_rows")}
    assert refs == {(json.dumps({"kvn": KVN, "pkcs11": current}, separators=(",", ":")),
                     json.dumps({"kvn": NEW_KVN, "pkcs11": new}, separators=(",", ":")))}
    log = tmp_path / "shim.log"
    run_args = ("run", "--store", store, "--once", "--replace", "0x30", "--station", "st-1",
                "--readers", ",".join(READERS))
    with CardProcesses(tmp_path):
        wrong = provision(token, *run_args, SCB_P11SHIM_LOG=log, SCBOOT_PIN11="wrong-pin-7")
        assert wrong.returncode == 8, wrong.stderr
        last = wrong.stderr.strip().splitlines()[-1]
        assert last.startswith("provision run: station st-1 stopped: keys pkcs11:") and \
            "rejected the PIN" in last and "SCB_E_P11_PIN" in last, wrong.stderr
        assert "wrong-pin-7" not in wrong.stderr
        logins = [c for c in shim_log(log) if c[0] == "C_Login"]
        assert len(logins) == 1, logins   # once for the station, not once per card
        assert json.loads(provision(token, "status", "--store", store, "--json").stdout)[
            "written"] == 0
        log.unlink()
        ok = provision(token, *run_args, SCB_P11SHIM_LOG=log, SCBOOT_PIN11=token.pin)
        assert ok.returncode == 0, ok.stderr
        calls = check_token_log(log, 4)
        assert not [c for c in calls if c[0] == "C_Login" and c[1] != [1]]   # CKU_USER only
        report = provision(token, "report", "--store", store)
        results = [json.loads(line) for line in report.stdout.splitlines()]
        done = [(r["outcome"], r["keys"]) for r in results if r["outcome"] != "failed"]
        assert done == [("written", "rotated")] * 4
        bound = dict(sqlite3.connect(db).execute("SELECT id, iccid FROM scboot_rows"))
        assert sorted(bound.values()) == sorted(ICCIDS)
        # the rows without an ICCID went to cards 1 and 3, bound to them in
        # the first run; each card holds its row's data
        assert all(bound[r["row"]] == r["iccid"] for r in results)
        check_cards_by_row(token, bound, monkeypatch)
    for data, where in ((sqlite_bytes(db), "the store"), (report.stdout.encode(), "the report"),
                        ((wrong.stderr + ok.stderr).encode(), "the progress")):
        assert_no_key_bytes(data, where)
    assert token.pin not in wrong.stderr + ok.stderr + report.stdout


def check_cards_by_row(token, bound, monkeypatch):
    """As check_cards, for a batch whose rows went to the cards in any
    order: the card bound to row n holds row n's identity."""
    row_of = {iccid: row for row, iccid in bound.items()}
    monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
    with scboot.Keys.from_pkcs11(token.uri("line"), kvn=KVN) as old:
        for reader, iccid in zip(READERS, ICCIDS):
            with scboot.Keys.from_pkcs11(token.uri(f"card-{iccid}"), kvn=NEW_KVN) as new, \
                    scboot.Card.open(reader) as card:
                assert card.read_iccid() == iccid
                bs = card.read_bootstrap(new)
                assert bs.security[0]["public_key_or_identity"] == fields(
                    row_of[iccid] - 1)["identity"]
                with pytest.raises(scboot.NoKeySetError):
                    card.read_bootstrap(old)
    labels = token.labels()
    assert all(f"card-{i}/dek" in labels for i in ICCIDS)


# ---- in process: token failures ---------------------------------------------------

class Batch:
    """Virtual cards r0..r3 in process, a job imported into an SQLite
    store, a station on it."""

    def __init__(self, tmp_path, rows):
        self.cards = {f"r{i}": VirtualCard(card_profile(i)) for i in range(len(rows))}
        job = tmp_path / "job.jsonl"
        job.write_text("".join(json.dumps(r) + "\n" for r in rows))
        self.uri = f"sqlite:{tmp_path / 'store.sqlite'}"
        with Job.load(str(job), need_keys=False) as j:
            srows = store_rows(j, str(job), allow_inline=False)
        with open_store(self.uri, create=True) as store:
            import_job(store, srows, str(job))

    def run(self, station):
        prov = Provisioner(station, Options(), open_card=lambda r: self.cards[r].card())
        return {r["reader"]: r for r in prov.run(list(self.cards))}

    def content(self, reader):
        return self.cards[reader].read_file(BOOTSTRAP_EF)

    def close(self):
        for vc in self.cards.values():
            vc.close()


def row(i, **keys):
    return {"iccid": ICCIDS[i], "bootstrap": {"security": [dict(
        TEMPLATE["security"][0], server_uri=fields(i)["uri"],
        public_key_or_identity=fields(i)["identity"], secret_key=fields(i)["psk"])]}, **keys}


@pytest.fixture
def hsm(line_token, monkeypatch):
    monkeypatch.setenv("SOFTHSM2_CONF", str(line_token.conf))
    return line_token


def test_token_failures_fail_their_card_and_the_others_go_on(hsm, tmp_path):
    """No such object for card 0 (its own set was never imported), no such
    token for card 1: each fails in one line naming the reference and the
    token's reason; cards 2 and 3 (a token reference, and a key file in
    the token form) are written and rotated to sets generated for them.
    The station goes on; a card's own sets are closed when it is done."""
    new = {"new_keys": {"pkcs11": hsm.uri("card-${iccid}"), "kvn": NEW_KVN},
           "replace_kvn": KVN}
    keys_file = private_file(tmp_path / "line.json",
                             json.dumps({"pkcs11": hsm.uri("line"), "kvn": KVN}))
    b = Batch(tmp_path, [
        row(0, keys={"pkcs11": hsm.uri("card-${iccid}"), "kvn": KVN}),
        row(1, keys=hsm.uri("line", token="no-such-token")),
        row(2, keys={"pkcs11": hsm.uri("line"), "kvn": KVN}, **new),
        row(3, keys=str(keys_file), **new)])
    before = b.content("r0")
    with Station(b.uri, "st") as station:
        res = b.run(station)
        assert not station.stopped.is_set() and station.key_loader.refused is None
        held = [slot for slot in station.key_loader._loaded if "card-" in slot[0]]
        assert held == []   # the per-card sets went with their cards
    e0, e1 = res["r0"]["error"], res["r1"]["error"]
    assert res["r0"]["outcome"] == "failed" and e0.startswith(
        f"keys pkcs11:token=scb-test;object=card-{ICCIDS[0]}?") and \
        f"object 'card-{ICCIDS[0]}/enc' not found in token 'scb-test'" in e0 and \
        "(SCB_E_P11_OBJECT)" in e0, e0
    assert res["r1"]["outcome"] == "failed" and "no-such-token" in e1 and \
        "(SCB_E_P11_TOKEN)" in e1, e1
    assert b.content("r0") == before
    for r in ("r2", "r3"):
        assert (res[r]["outcome"], res[r]["keys"]) == ("written", "rotated"), res[r]
    for r in res.values():
        assert "\n" not in r["error"]
        assert_no_key_bytes(r["error"].encode(), "an error")
    with open_store(b.uri) as store:
        st = store.status()
    assert (st["written"], st["failed"]) == (2, 2)
    for i in (2, 3):
        with scboot.Keys.from_pkcs11(hsm.uri(f"card-{ICCIDS[i]}"), kvn=NEW_KVN) as k, \
                b.cards[f"r{i}"].card() as card:
            assert card.read_bootstrap(k).security
    b.close()


def test_a_refused_pin_is_tried_once_and_stops_the_station(hsm, tmp_path, monkeypatch):
    """Four readers at once, the current keys' PIN wrong (its pin-source):
    one C_Login in all, the first card says the token refused the PIN and
    the station stops, the other cards never reach the token; no card is
    touched beyond its ICCID."""
    wrong = private_file(tmp_path / "wrong.pin", "wrong-pin-7\n")
    uri = hsm.shim_uri("line", pin=False) + f"&pin-source=file:{wrong}"
    log = tmp_path / "shim.log"
    monkeypatch.setenv("SCB_P11SHIM_LOG", str(log))
    monkeypatch.setenv("SCBOOT_PIN11", hsm.pin)   # the pin-source comes first
    b = Batch(tmp_path, [row(i, keys={"pkcs11": uri, "kvn": KVN}) for i in range(4)])
    before = {r: b.content(r) for r in b.cards}
    with Station(b.uri, "st") as station:
        res = b.run(station)
        assert station.stopped.is_set()
        refused = station.key_loader.refused
    assert refused.startswith("keys pkcs11:") and "rejected the PIN" in refused and \
        "(SCB_E_P11_PIN)" in refused, refused
    errors = sorted(r["error"] for r in res.values())
    assert [e for e in errors if e.startswith(refused)] == [
        refused + "; the station stops (no other card tries the token)"]
    others = [e for e in errors if not e.startswith(refused)]
    assert len(others) == 3 and all("not loaded, the station stopped: " + refused == e[
        e.index("not loaded"):] for e in others), others
    assert [c for c in shim_log(log) if c[0] == "C_Login"] == [("C_Login", [1])]
    assert {r["outcome"] for r in res.values()} == {"failed"}
    assert {r: b.content(r) for r in b.cards} == before
    assert "wrong-pin-7" not in " ".join(errors) and hsm.pin not in " ".join(errors)
    b.close()


def test_pin_from_scboot_pin11_and_key_files_in_the_token_form(hsm, tmp_path, monkeypatch):
    """A key file {"pkcs11": URI, "kvn": N} whose URI has no pin-source:
    without SCBOOT_PIN11 the token asks for its PIN (the loader gives up,
    saying where a PIN comes from); with it the set opens."""
    keys_file = private_file(tmp_path / "line.json",
                             json.dumps({"pkcs11": hsm.uri("line", pin=False), "kvn": KVN}))
    monkeypatch.delenv("SCBOOT_PIN11", raising=False)
    with KeyLoader() as loader:
        with pytest.raises(KeyRefError) as e:
            loader.load(str(keys_file), ICCIDS[0], "keys")
        assert e.value.pin and "SCB_E_P11_PIN_REQUIRED" in str(e.value)
        assert "SCBOOT_PIN11" in str(e.value)
        with pytest.raises(KeyRefError, match="not loaded, the station stopped"):
            loader.load(hsm.uri("line"), ICCIDS[0], "keys")
    monkeypatch.setenv("SCBOOT_PIN11", hsm.pin)
    with KeyLoader() as loader:
        keys = loader.load(str(keys_file), ICCIDS[0], "keys")
        assert keys.in_token and keys.kvn == KVN
        bare = loader.load(hsm.uri("line", pin=False), ICCIDS[0], "keys")
        assert bare.in_token and bare.kvn == 0   # a bare URI: the card's default key set
        with VirtualCard(card_profile(0)) as vc, vc.card() as card:
            assert card.read_bootstrap(keys).servers is not None
            assert card.read_bootstrap(bare).servers is not None


def test_no_set_is_opened_while_a_rotation_may_generate_one(hsm):
    """A rotation to a token set holds the loader's token work: another
    reader's load waits until it ends (SoftHSM2's file store fails a
    C_GenerateKey that overlaps other sessions' work on the token); a
    rotation to keys in memory holds nothing."""
    per_card = json.dumps({"pkcs11": hsm.uri("card-${iccid}"), "kvn": NEW_KVN})
    with KeyLoader() as loader, scboot.Keys(*CARD_KEYS, kvn=NEW_KVN) as in_memory:
        in_token = loader.load(json.dumps({"pkcs11": hsm.uri("line"), "kvn": KVN}), ICCIDS[0],
                               "keys")
        for keys, waits in ((in_token, True), (in_memory, False)):
            loaded = threading.Event()

            def load():
                assert loader.load(per_card, ICCIDS[1], "new_keys").in_token
                loaded.set()
                loader.release(ICCIDS[1])

            t = threading.Thread(target=load)
            with loader.generating(keys):
                t.start()
                assert loaded.wait(0.5) is not waits
            assert loaded.wait(10)
            t.join(10)
