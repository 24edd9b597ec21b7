"""The per-card flow of the provisioning workflow against in-process
virtual cards (one per "reader"): resume, key rotation and KDF3, and the
failures a batch meets. End to end through pcscd: test_provision_pcscd.py."""
import csv
import json

import pytest

import scboot
from conftest import GP_KEY, ICCIDS, first_update_binary
from scboot._job import Job
from scboot._report import Report
from scboot.provision import Options, Provisioner
from scboot.sim import VirtualCard

MASTER = "000102030405060708090A0B0C0D0E0F"
NEW = {"enc": "50" * 16, "mac": "51" * 16, "dek": "52" * 16, "kvn": 49}


def account(i):
    return {"security": [{"server_uri": f"coaps://dev{i}.example.com", "bootstrap_server": True,
                          "security_mode": 0, "public_key_or_identity": "6964",
                          "secret_key": f"{i:02x}" * 16}]}


def encoded(doc):
    with scboot.Bootstrap(doc) as bs:
        return bs.encode()


class Batch:
    """Virtual cards r0..r3 with ICCIDS, a job for them, a Provisioner."""

    def __init__(self, tmp_path, rows, profiles=None, **options):
        profiles = profiles or {}
        self.cards = {f"r{i}": VirtualCard(dict({"iccid": ICCIDS[i]}, **profiles.get(i, {})))
                      for i in range(len(rows))}
        path = tmp_path / "job.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        self.job = Job.load(str(path), need_keys=False)
        self.report = Report(str(tmp_path / "report.jsonl"))
        options.setdefault("keys", scboot.Keys(GP_KEY, GP_KEY, GP_KEY, kvn=0x30))
        self.prov = Provisioner(self.job, Options(**options), self.report,
                                open_card=lambda r: self.cards[r].card())

    def run(self):
        return {r["reader"]: r for r in self.prov.run(list(self.cards))}

    def content(self, reader, size=None):
        raw = self.cards[reader].read_file("5015" + "6432")
        return raw if size is None else raw[:size]


def test_write_then_skip(tmp_path):
    b = Batch(tmp_path, [{"iccid": ICCIDS[i], "bootstrap": account(i)} for i in range(4)])
    first = b.run()
    assert {r["outcome"] for r in first.values()} == {"written"}
    for i in range(4):
        want = encoded(account(i))
        assert b.content(f"r{i}", len(want)) == want
    apdus = first["r0"]["apdus"]
    second = b.run()
    assert {r["outcome"] for r in second.values()} == {"skipped"}
    assert second["r0"]["apdus"] < apdus   # ICCID and one read, no write
    assert len(b.report.previous) == 0 and len(open(b.report.path).readlines()) == 8


def test_blank_or_torn_files_are_written(tmp_path):
    # A header announcing more than the EF holds: what a write cut short
    # (or a blank card) may leave.
    b = Batch(tmp_path, [{"iccid": ICCIDS[0], "bootstrap": account(0)}],
              profiles={0: {"bootstrap": {"hex": "0001FFFF" + "AB" * 60}}})
    assert b.run()["r0"]["outcome"] == "written"


def test_failures_are_reported_and_the_others_go_on(tmp_path):
    rows = [{"iccid": ICCIDS[0], "bootstrap": account(0)},
            {"iccid": ICCIDS[1], "bootstrap": account(1),
             "keys": {"enc": "11" * 16, "mac": "11" * 16, "kvn": 48}},
            {"iccid": ICCIDS[2], "bootstrap": {"objects": [{"id": 10241, "instances": [
                {"id": 0, "resources": {"0": {"hex": "00" * 1100}}}]}]}},
            {"iccid": "1234", "bootstrap": account(3)}]
    b = Batch(tmp_path, rows)
    before = b.content("r2")
    res = b.run()
    assert res["r0"]["outcome"] == "written"
    assert res["r1"]["outcome"] == "failed" and "SCB_E_SCP_CARD_CRYPTOGRAM" in res["r1"]["error"]
    assert res["r2"]["outcome"] == "failed" and "do not fit the bootstrap EF" in res["r2"]["error"]
    assert "nothing written" in res["r2"]["error"] and b.content("r2") == before
    assert res["r3"]["outcome"] == "failed" and res["r3"]["row"] is None
    assert res["r3"]["error"] == f"the job has no row for ICCID {ICCIDS[3]} (and no free row)"
    for r in res.values():
        assert "11" * 16 not in r["error"] and GP_KEY not in r["error"]


def test_an_interrupted_write_is_never_success(tmp_path, keys):
    big = {"objects": [{"id": 10241, "instances": [{"id": 0, "resources": {
        "0": {"hex": "5A" * 600}}}]}]}
    b = Batch(tmp_path, [{"iccid": ICCIDS[0], "bootstrap": big}])
    cut = first_update_binary({"iccid": ICCIDS[0]}, tmp_path / "job.jsonl", keys)
    vc = b.cards["r0"]
    vc.set_faults(disconnect_after=cut)   # the first UPDATE BINARY is the last answered
    res = b.run()["r0"]
    assert res["outcome"] == "interrupted", res
    assert "write interrupted after" in res["error"] and "re-provisioning" in res["error"]
    vc.reset()   # the card comes back, holding a partial file
    assert b.run()["r0"]["outcome"] == "written"
    assert b.content("r0", len(encoded(big))) == encoded(big)


def test_a_level_without_c_dec_is_refused_by_the_library(tmp_path):
    """provision leaves the write's level rule to the library: a card that
    can be read at 0x11 (C-MAC + R-MAC) is read, and the write at 0x11 is
    refused before anything is written (a usage error, no UPDATE BINARY)."""
    b = Batch(tmp_path, [{"iccid": ICCIDS[0], "bootstrap": account(0)}],
              profiles={0: {"scp03": {"level_required": "0x11"}}}, level=0x11)
    before = b.content("r0")
    sent = []

    def open_card(reader):
        card = b.cards[reader].card()
        card.set_trace(lambda kind, line: sent.append(line.split()[2])   # "A>> CLA INS .."
                       if kind == scboot.TraceKind.WIRE_CMD else None)
        return card

    b.prov._open = open_card
    res = b.run()["r0"]
    assert res["outcome"] == "failed", res
    assert "C-DEC and C-MAC" in res["error"] and "SCB_E_INVALID_ARG" in res["error"]
    assert "B0" in sent and "D6" not in sent   # read, never written
    assert b.content("r0") == before


def test_key_rotation_added_then_already_done(tmp_path):
    rows = [{"iccid": ICCIDS[i], "bootstrap": account(i)} for i in range(2)]
    with scboot.Keys.from_json(json.dumps(NEW)) as new:
        b = Batch(tmp_path, rows, new_keys=new)
        res = b.run()
        assert {(r["outcome"], r["keys"]) for r in res.values()} == {("written", "rotated")}
        with b.cards["r0"].card() as card:
            assert card.read_bootstrap(new).security    # new set works
            assert card.read_bootstrap(b.prov.options.keys).security   # old one kept
        res = b.run()
        assert {(r["outcome"], r["keys"]) for r in res.values()} == {("skipped", "already")}


def test_key_rotation_replacing_the_set(tmp_path):
    new = dict(NEW, kvn=48)
    b = Batch(tmp_path, [{"iccid": ICCIDS[0], "bootstrap": account(0), "new_keys": new,
                          "replace_kvn": 48}])
    assert b.run()["r0"]["keys"] == "rotated"
    with b.cards["r0"].card() as card:
        with pytest.raises(scboot.CardCryptogramError):
            card.read_bootstrap(b.prov.options.keys)
    again = b.run()["r0"]
    assert (again["outcome"], again["keys"]) == ("skipped", "already")


def test_failed_rotation_after_the_write(tmp_path):
    """The card has no free key slot: the data is in place, the rotation is
    reported failed; the re-run does not write again."""
    full = [{"kvn": 0x30 + k, "enc": GP_KEY, "mac": GP_KEY, "dek": GP_KEY} for k in range(8)]
    with scboot.Keys.from_json(json.dumps(dict(NEW, kvn=0x40))) as new:
        b = Batch(tmp_path, [{"iccid": ICCIDS[0], "bootstrap": account(0)}],
                  profiles={0: {"scp03": {"keys": full}}}, new_keys=new)
        res = b.run()["r0"]
        assert (res["outcome"], res["keys"]) == ("failed", "failed")
        assert res["error"].startswith("key rotation failed (the data is written): ")
        assert b.content("r0", len(encoded(account(0)))) == encoded(account(0))
        res = b.run()["r0"]
        assert res["error"].startswith("key rotation failed (the data is skipped): ")


def test_kdf3_master_keys_current_and_new(tmp_path):
    """The cards hold keys diversified from a master (KDF3, their KDD); the
    new keys are a new master, diversified for each card."""
    master = scboot.Keys(MASTER, MASTER, MASTER, kvn=0x30)
    new_master = scboot.Keys.from_json(json.dumps(NEW))
    profile = {"scp03": {"keys": [{"kvn": 48, "master": MASTER, "diversify": "kdf3"}]}}
    rows = [{"iccid": ICCIDS[i], "bootstrap": account(i)} for i in range(2)]
    b = Batch(tmp_path, rows, profiles={0: profile, 1: profile}, keys=master, kdf3=True,
              new_keys=new_master, new_kdf3=True)
    res = b.run()
    assert {(r["outcome"], r["keys"]) for r in res.values()} == {("written", "rotated")}
    kdds = set()
    for reader in ("r0", "r1"):
        with b.cards[reader].card() as card:
            assert card.read_bootstrap(new_master, kdf3=True).security
            kdds.add(card.scp03_info.kdd)
            with pytest.raises(scboot.CardCryptogramError):
                card.read_bootstrap(new_master)    # the master itself is not on the card
    assert len(kdds) == 2   # two cards, two different diversified key sets
    res = b.run()
    assert {(r["outcome"], r["keys"]) for r in res.values()} == {("skipped", "already")}


def test_rows_without_iccid_follow_the_report_across_runs(tmp_path):
    rows = [{"bootstrap": account(i)} for i in range(3)]
    b = Batch(tmp_path, rows)
    first = b.run()
    assert sorted(r["row"] for r in first.values()) == [1, 2, 3]
    # A new run (new process): the job is read again, the report restores
    # who got which row, whatever order the cards come in.
    path = tmp_path / "job.jsonl"
    job = Job.load(str(path), need_keys=False)
    with Report(b.report.path) as report:
        for line in report.previous:
            assert job.restore(line["iccid"], line["row"], line["digest"])
    prov = Provisioner(job, b.prov.options, open_card=lambda r: b.cards[r].card())
    again = {r["reader"]: r for r in prov.run(["r2", "r1", "r0"])}
    assert {r["outcome"] for r in again.values()} == {"skipped"}
    assert {k: r["row"] for k, r in again.items()} == {k: r["row"] for k, r in first.items()}


def test_a_card_that_cannot_be_opened(tmp_path):
    b = Batch(tmp_path, [{"iccid": ICCIDS[0], "bootstrap": account(0)}])

    def no_card(reader):
        raise scboot.NoCardError("no card in the reader")

    prov = Provisioner(b.job, b.prov.options, open_card=no_card)
    res = prov.provision("empty reader")
    assert (res["reader"], res["iccid"], res["outcome"]) == ("empty reader", "", "failed")
    assert "no card in the reader" in res["error"]


# ---- S16 cards, the digests in the report, the step of a failure -----------------

S16 = {"scp03": {"i": "0x71", "s16": True}}


def test_s16_cards_need_no_flag_and_a_row_may_force_the_mode(tmp_path):
    """The library detects an S16 card (6700 to an 8-byte challenge, then 16
    bytes): a batch of S8 and S16 cards needs nothing. A row's s16 forces
    the mode for its card: true works on an S16 card, false (S8) is refused
    by it, which shows the row's choice reaches the card."""
    rows = [{"iccid": ICCIDS[0], "bootstrap": account(0)},
            {"iccid": ICCIDS[1], "bootstrap": account(1)},
            {"iccid": ICCIDS[2], "bootstrap": account(2), "s16": True},
            {"iccid": ICCIDS[3], "bootstrap": account(3), "s16": False}]
    b = Batch(tmp_path, rows, profiles={1: S16, 2: S16, 3: S16})
    assert [r.options for r in b.job.rows] == [{}, {}, {"s16": True}, {"s16": False}]
    res = b.run()
    assert [res[f"r{i}"]["outcome"] for i in range(4)] == ["written"] * 3 + ["failed"], res
    assert res["r3"]["error"].startswith(
        "checking the card's data: INITIALIZE UPDATE (key version 0x30, S8) answered 6700"), res
    for i in range(3):
        with b.cards[f"r{i}"].card() as card:
            bs = card.read_bootstrap(b.prov.options.keys)
            assert bs.access.s16 is (i > 0) and bs.digest.hex() == res[f"r{i}"]["digest"]
    assert {r["outcome"] for r in list(b.run().values())[:3]} == {"skipped"}


@pytest.mark.parametrize("value,forced", [("true", True), ("0", False), ("yes", True)])
def test_a_csv_row_forces_s16_as_text(tmp_path, value, forced):
    path = tmp_path / "job.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([["iccid", "bootstrap", "s16"],
                                 [ICCIDS[0], json.dumps(account(0)), value]])
    with Job.load(str(path), need_keys=False) as job:
        assert job.rows[0].options == {"s16": forced}


def test_a_bad_s16_value_names_the_row_and_the_field(tmp_path):
    path = tmp_path / "job.jsonl"
    path.write_text(json.dumps({"bootstrap": account(0), "s16": "maybe"}) + "\n")
    with pytest.raises(Exception) as e:
        Job.load(str(path), need_keys=False)
    assert str(e.value) == f"{path} row 1: s16: not a boolean (true/false, 1/0, yes/no)"


def test_the_report_says_which_digest_is_whose(tmp_path):
    """digest: the row's target; card_digest: what the card was last seen
    holding ("" when not known)."""
    too_big = {"objects": [{"id": 10241, "instances": [{"id": 0, "resources": {
        "0": {"hex": "5A" * 1100}}}]}]}
    rows = [{"iccid": ICCIDS[0], "bootstrap": account(0)},
            {"iccid": ICCIDS[1], "bootstrap": too_big},         # larger than the 1 KB EF
            {"iccid": ICCIDS[2], "bootstrap": account(2)}]
    b = Batch(tmp_path, rows, profiles={2: {"bootstrap": {"hex": "00"}}})   # not a valid file
    with b.cards["r1"].card() as card:
        before = card.read_bootstrap(b.prov.options.keys).digest.hex()
    res = b.run()
    target = {r: res[r]["digest"] for r in res}
    assert target["r0"] == hashlib_digest(account(0))
    assert (res["r0"]["outcome"], res["r0"]["card_digest"]) == ("written", target["r0"])
    assert res["r1"]["outcome"] == "failed" and "SCB_E_DATA_TOO_LARGE" in res["r1"]["error"]
    assert res["r1"]["card_digest"] == before != target["r1"]   # it still holds its old file
    assert (res["r2"]["outcome"], res["r2"]["card_digest"]) == ("written", target["r2"])
    again = b.run()
    assert (again["r0"]["outcome"], again["r0"]["card_digest"]) == ("skipped", target["r0"])
    lines = [json.loads(x) for x in (tmp_path / "report.jsonl").read_text().splitlines()]
    assert {line["card_digest"] for line in lines} >= {target["r0"], before}


def hashlib_digest(doc):
    with scboot.Bootstrap(doc) as bs:
        return bs.digest.hex()


def test_a_card_pulled_is_reported_with_the_step_it_was_in(tmp_path, keys):
    big = {"objects": [{"id": 10241, "instances": [{"id": 0, "resources": {
        "0": {"hex": "5A" * 600}}}]}]}
    rows = [{"iccid": ICCIDS[0], "bootstrap": big}, {"iccid": ICCIDS[1], "bootstrap": big}]
    b = Batch(tmp_path, rows)
    cut = first_update_binary({"iccid": ICCIDS[0]}, tmp_path / "job.jsonl", keys)
    b.cards["r0"].set_faults(disconnect_after=cut)   # in the write
    b.cards["r1"].set_faults(disconnect_after=8)     # in the read of the card's data
    res = b.run()
    assert res["r0"]["outcome"] == "interrupted" and res["r0"]["card_digest"] == ""
    assert res["r0"]["error"].startswith("writing: write interrupted after 0 of "), res
    assert "card removed (the card went away)" in res["r0"]["error"]
    assert res["r1"]["outcome"] == "failed" and res["r1"]["card_digest"] == ""
    assert res["r1"]["error"].startswith("checking the card's data: ") and \
        "card removed" in res["r1"]["error"], res
