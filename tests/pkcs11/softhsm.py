"""SoftHSM2 tokens for tests: each Token lives in a directory of its own
(its own softhsm2.conf and token directory, SOFTHSM2_CONF pointing there),
is initialised with softhsm2-util, and can take keys from two PKCS#11
clients that are not scboot: OpenSC's pkcs11-tool and python3-pykcs11 (run
in a child process, so each test's SOFTHSM2_CONF is read afresh).

Nothing here writes a key or a PIN to a command line of a long-lived
process; the PIN file is 0600 (the library refuses others)."""
import json
import os
import pathlib
import subprocess
import sys
import textwrap

SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = pathlib.Path(os.environ.get("SCB_BUILD_DIR", SOURCE_DIR / "build")).resolve()
SCBOOT = BUILD_DIR / "core" / "cli" / "scboot"
SHIM = BUILD_DIR / "tests" / "pkcs11" / "libscb_p11shim.so"
GP_KEY = "404142434445464748494A4B4C4D4E4F"

# CKA_* numbers the tests read back (PKCS#11 2.40 4.4, 4.10)
CKA = {"CKA_TOKEN": 0x1, "CKA_PRIVATE": 0x2, "CKA_LABEL": 0x3, "CKA_VALUE": 0x11,
       "CKA_SENSITIVE": 0x103, "CKA_ENCRYPT": 0x104, "CKA_DECRYPT": 0x105,
       "CKA_WRAP": 0x106, "CKA_UNWRAP": 0x107, "CKA_SIGN": 0x108, "CKA_VERIFY": 0x10A,
       "CKA_DERIVE": 0x10C, "CKA_VALUE_LEN": 0x161, "CKA_EXTRACTABLE": 0x162,
       "CKA_LOCAL": 0x163, "CKA_NEVER_EXTRACTABLE": 0x164, "CKA_ALWAYS_SENSITIVE": 0x165,
       "CKA_MODIFIABLE": 0x170}


class Token:
    def __init__(self, root, label="scb-test", pin="5678", so_pin="87654321"):
        self.root = pathlib.Path(root)
        self.label = label
        self.pin = pin
        self.so_pin = so_pin
        (self.root / "tokens").mkdir(parents=True, exist_ok=True)
        self.conf = self.root / "softhsm2.conf"
        self.conf.write_text(f"directories.tokendir = {self.root / 'tokens'}\n"
                             "objectstore.backend = file\nlog.level = ERROR\n")
        self.pin_file = self.root / "token.pin"
        fd = os.open(self.pin_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(pin + "\n")
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                        "--so-pin", so_pin, "--pin", pin], env=self.peer_env(), check=True,
                       capture_output=True, timeout=60)

    def env(self, **extra):
        """The environment of a process that uses this token."""
        env = dict(os.environ)
        for k in ("SCBOOT_KEY_ENC", "SCBOOT_KEY_MAC", "SCBOOT_KEY_DEK", "SCBOOT_KEY_KVN",
                  "SCBOOT_PIN", "SCBOOT_PIN11", "SCB_P11SHIM_HIDE", "SCB_P11SHIM_PIN_LOCKED"):
            env.pop(k, None)
        env["SOFTHSM2_CONF"] = str(self.conf)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def peer_env(self, **extra):
        """The environment of an independent peer (softhsm2-util,
        pkcs11-tool, PyKCS11): never the sanitizer runtime that an ASan run
        preloads for our Python extension (PyKCS11's C++ aborts under it)."""
        env = self.env(**extra)
        env.pop("LD_PRELOAD", None)
        return env

    def uri(self, name=None, *, module=SOFTHSM, pin=True, token=None):
        """pkcs11:token=LABEL[;object=NAME]?module-path=..&pin-source=file:.."""
        path = f"pkcs11:token={token or self.label}"
        if name is not None:
            path += f";object={name}"
        query = []
        if module is not None:
            query.append(f"module-path={module}")
        if pin:
            query.append(f"pin-source=file:{self.pin_file}")
        return path + ("?" + "&".join(query) if query else "")

    def shim_uri(self, name=None, pin=True):
        """The same token through the logging shim module."""
        return self.uri(name, module=SHIM, pin=pin)

    def scboot(self, *args, env=None, timeout=60, input=None):
        """The scboot command, without a controlling terminal (so a PIN
        prompt can never wait for a user)."""
        return subprocess.run([str(SCBOOT), *map(str, args)], capture_output=True,
                              timeout=timeout, env=env or self.env(), input=input,
                              start_new_session=True)

    def keys_file(self, keys, kvn=0x30, name="keys.json"):
        p = self.root / name
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"enc": keys[0], "mac": keys[1], "dek": keys[2], "kvn": kvn}, f)
        return p

    def import_scboot(self, name, keys, kvn=0x30):
        """scboot keys import (the project's own command)."""
        out = self.scboot("keys", "import", "--keys", self.keys_file(keys, kvn), "--to",
                          self.uri(name))
        assert out.returncode == 0, out.stderr.decode()
        return out

    def import_pkcs11_tool(self, name, keys, sign=False):
        """OpenSC's pkcs11-tool: sensitive, private secret keys with the usages
        it sets (encrypt/decrypt; sign when asked; wrap on the DEK), written
        from a 0600 file in the token's directory, removed afterwards."""
        for suffix, hexkey in zip(("enc", "mac", "dek"), keys):
            if hexkey is None:
                continue
            key_path = self.root / f"{suffix}.bin"
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(bytes.fromhex(hexkey))
            argv = ["pkcs11-tool", "--module", SOFTHSM, "--token-label", self.label, "--login",
                    "--pin", self.pin, "--write-object", str(key_path), "--type", "secrkey",
                    "--key-type", f"AES:{len(hexkey) // 2}", "--label", f"{name}/{suffix}",
                    "--sensitive", "--private", "--usage-decrypt"]
            if sign:
                argv.append("--usage-sign")
            if suffix == "dek":
                argv.append("--usage-wrap")
            try:
                out = subprocess.run(argv, env=self.peer_env(), capture_output=True, timeout=60)
            finally:
                key_path.write_bytes(b"\0" * 32)
                key_path.unlink()
            assert out.returncode == 0, out.stderr.decode()

    def pykcs11(self, script, *args, module=SOFTHSM, env=None):
        """Run a PyKCS11 snippet against this token in a child process:
        `session` is a logged-in RW session, `P` the PyKCS11 module, `args`
        the JSON-decoded arguments; it prints JSON for the result."""
        code = textwrap.dedent("""
            import json, sys
            import PyKCS11 as P
            lib = P.PyKCS11Lib()
            lib.load(%r)
            slot = [s for s in lib.getSlotList(tokenPresent=True)
                    if lib.getTokenInfo(s).label.strip() == %r][0]
            session = lib.openSession(slot, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION)
            session.login(sys.stdin.readline().strip())
            args = json.loads(sys.argv[1])
        """ % (str(module), self.label)) + textwrap.dedent(script)
        env = dict(env or self.peer_env())
        env.pop("LD_PRELOAD", None)
        out = subprocess.run(["/usr/bin/python3", "-c", code, json.dumps(list(args))],
                             env=env, capture_output=True, timeout=60,
                             input=(self.pin + "\n").encode())
        assert out.returncode == 0, out.stderr.decode()
        return json.loads(out.stdout) if out.stdout.strip() else None

    def import_pykcs11(self, name, keys, sign=True, encrypt=True, wrap=True):
        """python3-pykcs11: objects with exactly the usages given."""
        return self.pykcs11("""
            name, keys, sign, encrypt, wrap = args
            for suffix, hexkey in zip(("enc", "mac", "dek"), keys):
                if hexkey is None:
                    continue
                session.createObject([
                    (P.CKA_CLASS, P.CKO_SECRET_KEY), (P.CKA_KEY_TYPE, P.CKK_AES),
                    (P.CKA_TOKEN, True), (P.CKA_PRIVATE, True),
                    (P.CKA_LABEL, name + "/" + suffix), (P.CKA_SENSITIVE, True),
                    (P.CKA_EXTRACTABLE, False), (P.CKA_SIGN, sign), (P.CKA_ENCRYPT, encrypt),
                    (P.CKA_DECRYPT, False), (P.CKA_VERIFY, False),
                    (P.CKA_WRAP, wrap and suffix == "dek"), (P.CKA_UNWRAP, False),
                    (P.CKA_VALUE, bytes.fromhex(hexkey))])
        """, name, list(keys), sign, encrypt, wrap)

    def attributes(self, label):
        """{CKA name: value} of the object labelled label, read by PyKCS11
        (CKA_VALUE too: a sensitive key must not give it)."""
        return self.pykcs11("""
            (label, names) = args
            objs = session.findObjects([(P.CKA_LABEL, label)])
            assert len(objs) == 1, f"{len(objs)} objects labelled {label}"
            out = {}
            for n in names:
                try:
                    v = session.getAttributeValue(objs[0], [getattr(P, n)])[0]
                except P.PyKCS11Error as e:
                    v = "error: " + str(e)
                if isinstance(v, tuple):
                    v = bytes(v).hex()
                out[n] = v
            print(json.dumps(out))
        """, label, list(CKA))

    def labels(self):
        return self.pykcs11("""
            print(json.dumps(sorted(session.getAttributeValue(o, [P.CKA_LABEL])[0]
                                    for o in session.findObjects([(P.CKA_CLASS,
                                                                   P.CKO_SECRET_KEY)]))))
        """)


def shim_log(path):
    """[(function, [numbers...]), ...] from a shim log file."""
    calls = []
    if not pathlib.Path(path).exists():
        return calls
    for line in pathlib.Path(path).read_text().splitlines():
        fn, *rest = line.split()
        calls.append((fn, [int(x, 0) for x in rest]))
    return calls


def value_requested(calls):
    """The C_GetAttributeValue calls that asked for CKA_VALUE (0x11)."""
    return [c for c in calls if c[0] == "C_GetAttributeValue" and CKA["CKA_VALUE"] in c[1][1:]]


sys.path.insert(0, str(SOURCE_DIR / "tests" / "e2e"))
