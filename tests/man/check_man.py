#!/usr/bin/python3
"""A man page documents every command, option, exit status and environment
variable that the program's own help lists.

The help is parsed generically, so a command or an option added to the
program without a man page entry fails this check with a list of what is
missing:

- commands: the "Commands:" block of the main help (a line per command,
  indented two spaces; "keys import|generate|list" names subcommands),
  argparse's "{a,b,c}" positional, or such a choice right after the
  program in a usage line; the same is looked for in every command's own
  help, so nested commands are found too, and a command's usage line that
  lists alternatives ("keys import ... | generate ... | list URI") names
  its subcommands;
- options: every line of a help text that starts with "-" (the option
  column ends at the first run of two spaces), and the usage line;
- exit status: the numbers of the "Exit codes:" / "Exit status:" paragraph;
- environment: every SCBOOT_* name ("SCBOOT_KEY_ENC/MAC" is two names).

The page is rendered by man(1) (what `man scboot` shows) and read as text:
a command is documented by a (sub)section heading "PROG CMD ...", an option
by a term line (an item followed by its more indented description) that
names it. An option that several commands list with the same help line is
a shared one and may be documented in any section; any other option must be
a term in its own command's section.

Two more checks of a page, as drift guards:
- --keys-in SOURCE: every key a profile may have (the string lists
  "keys[] = {...}" of the profile loader) is named on the page;
- --compile-example: the C program of the EXAMPLE section compiles and
  links (the compiler command follows "--"; the example's file name and
  "-o OUT" go right after the compiler, before its flags and libraries).

usage: check_man.py PAGE --style scboot|argparse --prefix REGEX -- PROGRAM [ARGS...]
       check_man.py PAGE --keys-in SOURCE
       check_man.py PAGE --compile-example -- CC [ARGS...]
  --style scboot    help of a command: PROGRAM help CMD [SUB]
  --style argparse  help of a command: PROGRAM CMD [SUB] --help
  --prefix          how the page's headings name the program (a regex)
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys

OPTION_RE = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][A-Za-z0-9-]*)")
ENV_RE = re.compile(r"\bSCBOOT_[A-Z0-9_]*[A-Z0-9](?:/[A-Z0-9]+)*")
SUBLIST_RE = re.compile(r"^[a-z][a-z0-9-]*(?:\|[a-z][a-z0-9-]*)+$")


# ---------------------------------------------------------------- the help --
def run_help(argv):
    """Text of a help command, or None when it fails."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, COLUMNS="200"))
    except (OSError, subprocess.TimeoutExpired) as e:
        sys.exit(f"check_man: cannot run {' '.join(argv)}: {e}")
    return out.stdout if out.returncode == 0 and out.stdout.strip() else None


def parse_options(text):
    """[(option, help line)] of a help text, in order, each option once
    (with its help line when the text has one: the usage line has none)."""
    found = []
    lines = text.splitlines()
    usage = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if line.lower().startswith("usage:"):
            usage = True
        elif usage and not (line[:1].isspace() and stripped):
            usage = False
        if usage:
            # usage lines: "--opt ARG" or "[-x]" (not the "-m" of "python3 -m")
            found.extend((opt, "") for opt in OPTION_RE.findall(line)
                         if opt.startswith("--") or f"[{opt}" in line)
            continue
        if not line[:1].isspace() or not stripped.startswith("-"):
            continue
        # the option column ends at the first run of two spaces, or (an
        # option too long for its column) at the first plain word
        m = re.match(r"(\S.*?)(?:\s{2,}(.*))?$", stripped)
        spec, rest = m.group(1), (m.group(2) or "").strip()
        words = spec.split(" ")
        for n, word in enumerate(words):
            if n and re.fullmatch(r"[a-z][a-z']*[,.;:]?", word):
                spec, rest = " ".join(words[:n]), " ".join(words[n:] + [rest]).strip()
                break
        if not rest and i + 1 < len(lines):
            nxt = lines[i + 1]
            if indent(nxt) > indent(line) and not nxt.strip().startswith("-"):
                rest = nxt.strip()  # argparse puts a long option's help below it
        found.extend((opt, rest) for opt in OPTION_RE.findall(spec))
    merged = {}
    for opt, rest in found:
        if not merged.get(opt):
            merged[opt] = rest
    return list(merged.items())


def parse_commands(text):
    """Commands listed by a help text: [(name, [subcommands])]."""
    cmds = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.fullmatch(r"\s*(\w+ )?commands:\s*", line, re.I):
            for entry in lines[i + 1:]:
                if not entry.strip():
                    break
                m = re.match(r"^  (\S+)(?:\s+(\S+))?", entry)
                if m and not entry.startswith("   "):
                    subs = m.group(2).split("|") if m.group(2) and SUBLIST_RE.match(m.group(2)) else []
                    cmds.append((m.group(1), subs))
        m = re.match(r"^\s*\{([a-z0-9,-]+)\}\s*$", line)
        if m:  # argparse subparsers
            cmds.extend((name, []) for name in m.group(1).split(","))
        elif re.match(r"^(usage:)?\s", line, re.I) and i < 4:
            # "usage: PROG {import,run} ...": a choice right after the
            # program's words (not an option's value, "--format {a,b}")
            for m in re.finditer(r"\{([a-z][a-z0-9-]*(?:,[a-z][a-z0-9-]*)+)\}", line):
                before = line[:m.start()].split()
                if before and not before[-1].startswith(("-", "[-")):
                    cmds.extend((name, []) for name in m.group(1).split(","))
    seen = set()
    return [c for c in cmds if not (c[0] in seen or seen.add(c[0]))]


def usage_subcommands(text, path):
    """Subcommands a command's usage line lists as alternatives:
    "usage: scboot keys import ... | generate ... | list URI"."""
    first = text.splitlines()[0] if text.strip() else ""
    m = re.match(r"usage:\s+\S+\s+" + r"\s+".join(map(re.escape, path)) + r"\s+(.*)$", first)
    if not m:
        return []
    alternatives = [a.split() for a in m.group(1).split(" | ")]
    subs = [a[0] for a in alternatives if a]
    if len(subs) > 1 and all(re.fullmatch(r"[a-z][a-z0-9-]*", w) for w in subs):
        return subs
    return []


def exit_statuses(text):
    m = re.search(r"Exit (?:codes|status(?:es)?):(.*?)(?:\n\s*\n|\Z)", text, re.S | re.I)
    return re.findall(r"(?:^|[:,;])\s*(\d+)\s", m.group(1)) if m else []


def env_names(text):
    names = []
    for m in ENV_RE.findall(text):
        first, *alts = m.split("/")
        names.append(first)
        stem = first.rsplit("_", 1)[0]
        names.extend(f"{stem}_{alt}" for alt in alts)
    return names


class Help:
    """Everything the program's help lists."""

    def __init__(self, program, style):
        self.program, self.style = program, style
        self.main = run_help(program + (["help"] if style == "scboot" else ["--help"]))
        if self.main is None:
            sys.exit(f"check_man: {' '.join(program)} gives no help")
        self.options = {}       # command path ("" = the program) -> [(opt, text)]
        self.texts = [self.main]
        if style == "argparse":
            self.options[""] = parse_options(self.main)
        self._walk([], self.main)

    def _help_of(self, path):
        if self.style == "scboot":
            return run_help(self.program + ["help"] + path)
        return run_help(self.program + path + ["--help"])

    def _walk(self, parent, parent_text):
        listed = parse_commands(parent_text)
        known = {name for name, _ in listed}
        for name, subs in listed:
            path = parent + [name]
            key = " ".join(path)
            text = self._help_of(path)
            if text is None or text == self.main or text == parent_text:
                # no help of its own (`help help` prints the program's): the
                # command must still have its section, its options are the
                # parent's
                self.options.setdefault(key, [])
                continue
            self.texts.append(text)
            self.options[key] = parse_options(text)
            subs = subs or usage_subcommands(text, path)
            for sub in subs:
                sub_text = self._help_of(path + [sub])
                if sub_text is None or sub_text in (self.main, text):
                    self.options.setdefault(f"{key} {sub}", [])
                else:
                    self.texts.append(sub_text)
                    self.options[f"{key} {sub}"] = parse_options(sub_text)
            # nested commands its own help lists (not the parent's list again)
            if not subs and not {n for n, _ in parse_commands(text)} <= known:
                self._walk(path, text)


# ---------------------------------------------------------------- the page --
def render(page):
    env = dict(os.environ, MANWIDTH="300", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    env.pop("MANPAGER", None)
    env.pop("PAGER", None)
    # man and groff are the system's: a sanitizer runtime preloaded for our
    # programs (the ASan pass of the Python tests) is not theirs
    env.pop("LD_PRELOAD", None)
    if shutil.which("man"):
        cmd = ["man", "--no-hyphenation", "--no-justification", "-l", page]
    else:
        cmd = ["groff", "-t", "-man", "-Tutf8", "-P-cbou", "-rLL=300n", page]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    if out.returncode != 0:
        sys.exit(f"check_man: {' '.join(cmd)} failed: {out.stderr.strip()}")
    text = re.sub(r".\x08", "", out.stdout)
    return text.translate({0x2010: "-", 0x2011: "-", 0x2212: "-", 0x00AD: None})


def indent(line):
    return len(line) - len(line.lstrip())


class Page:
    """The rendered page: sections, subsections and term lines."""

    def __init__(self, text):
        self.lines = [l.rstrip() for l in text.splitlines()]
        body = [indent(l) for l in self.lines if l.strip() and indent(l) > 4]
        self.base = collections.Counter(body).most_common(1)[0][0] if body else 7
        self.terms = []     # (line index, text)
        for i, line in enumerate(self.lines):
            if line.strip() and indent(line) == self.base and self._next_deeper(i):
                self.terms.append((i, line.strip()))

    def _next_deeper(self, i):
        for line in self.lines[i + 1:]:
            if line.strip():
                return indent(line) > self.base
        return False

    def headings(self):
        """(line index, text) of section and subsection headings."""
        return [(i, l.strip()) for i, l in enumerate(self.lines)
                if l.strip() and indent(l) < self.base]

    def region(self, start):
        """Line range of the section or subsection starting at start."""
        level = indent(self.lines[start])
        for i in range(start + 1, len(self.lines)):
            l = self.lines[i]
            if l.strip() and indent(l) <= level:
                return range(start, i)
        return range(start, len(self.lines))

    def section(self, name):
        for i, text in self.headings():
            if indent(self.lines[i]) == 0 and text.upper() == name:
                return self.region(i)
        return range(0)

    def term_names(self, lines=None):
        names = set()
        for i, text in self.terms:
            if lines is None or i in lines:
                names.update(OPTION_RE.findall(text))
        return names

    def term_texts(self, lines):
        return [text for i, text in self.terms if i in lines]


# ----------------------------------------------------------------- checking --
def check(page_path, help_, prefix):
    page = Page(render(page_path))
    missing = []
    heading_re = lambda cmd: re.compile(rf"^(?:{prefix})\s+{re.escape(cmd)}(?:\s|$)")
    regions = {}
    for cmd in help_.options:
        if not cmd:
            continue
        hits = [i for i, text in page.headings() if heading_re(cmd).match(text)]
        if not hits:
            missing.append(f"command '{cmd}': no section headed '<program> {cmd}'")
        else:  # every section about it ("keys import", "keys list" for "keys")
            regions[cmd] = {n for i in hits for n in page.region(i)}

    seen = collections.Counter()
    for cmd, opts in help_.options.items():
        for pair in set(opts):
            seen[pair] += 1
    everywhere = page.term_names()
    n_options = set()
    nowhere = collections.OrderedDict()   # shared option -> the commands listing it
    for cmd, opts in help_.options.items():
        for opt, text in opts:
            n_options.add(opt)
            shared = not cmd or seen[(opt, text)] > 1
            if shared:
                if opt not in everywhere:
                    nowhere.setdefault(opt, [])
                    if cmd and cmd not in nowhere[opt]:
                        nowhere[opt].append(cmd)
                continue
            region = regions.get(cmd)
            if region is not None and opt in page.term_names(region):
                continue
            if opt not in everywhere:
                missing.append(f"option {opt} of '{cmd}': documented nowhere")
            elif region is not None:
                missing.append(f"option {opt} of '{cmd}': not in the '{cmd}' section "
                               f"(its help line is its own: {text!r})")

    for opt, cmds in nowhere.items():
        missing.append(f"option {opt} ({', '.join(cmds) or 'the program'}): documented nowhere "
                       f"(no term line names it)")

    statuses = sorted(set(s for t in help_.texts for s in exit_statuses(t)), key=int)
    exit_terms = [t.split()[0] for t in page.term_texts(page.section("EXIT STATUS")) if t.split()]
    for s in statuses:
        if s not in exit_terms:
            missing.append(f"exit status {s}: not a term of the EXIT STATUS section")

    env = sorted(set(n for t in help_.texts for n in env_names(t)))
    env_terms = " ".join(page.term_texts(page.section("ENVIRONMENT")))
    for name in env:
        if not re.search(rf"\b{name}\b", env_terms):
            missing.append(f"environment variable {name}: not a term of the ENVIRONMENT section")

    commands = [c for c in help_.options if c]
    if not n_options or (help_.style == "scboot" and not commands):
        missing.append("nothing parsed from the help output: has its layout changed? "
                       "(this check reads option lines that start with '-')")
    return missing, len(commands), len(n_options), len(statuses), len(env)


def check_keys(page_path, source):
    """Every profile key of the loader's key lists is named on the page."""
    with open(source, encoding="utf-8") as f:
        code = f.read()
    lists = re.findall(r"keys\[\]\s*=\s*\{(.*?)\}", code, re.S)
    keys = sorted({k for body in lists for k in re.findall(r'"([^"]+)"', body)})
    text = render(page_path)
    missing = [k for k in keys if not re.search(rf"(?<![\w.]){re.escape(k)}(?![\w])", text)]
    name = os.path.basename(page_path)
    if not keys:
        print(f"no key lists found in {source}: has the loader changed?")
        return 1
    if missing:
        print(f"{name} does not name {len(missing)} of the {len(keys)} profile keys of "
              f"{os.path.basename(source)}: {', '.join(missing)}")
        return 1
    print(f"{name} names all {len(keys)} profile keys of {os.path.basename(source)}")
    return 0


def compile_example(page_path, cc):
    """The EXAMPLE section's code, as printed, compiles and links."""
    page = Page(render(page_path))
    lines = [page.lines[i] for i in page.section("EXAMPLE")][1:]
    code_indent = min((indent(l) for l in lines if l.strip() and indent(l) > page.base),
                      default=None)
    code = [l[code_indent:] if l.strip() else "" for l in lines
            if code_indent is not None and (not l.strip() or indent(l) >= code_indent)]
    name = os.path.basename(page_path)
    if "main(" not in "\n".join(code):
        print(f"{name}: no C program in the EXAMPLE section")
        return 1
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "example.c")
        with open(src, "w", encoding="utf-8") as f:
            f.write("\n".join(code).strip() + "\n")
        out = subprocess.run(cc[:1] + [src, "-o", os.path.join(tmp, "example")] + cc[1:],
                             capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        print(f"{name}: the EXAMPLE does not build with {' '.join(cc)}:\n{out.stderr}")
        return 1
    print(f"{name}: the EXAMPLE ({len(code)} lines) compiles and links")
    return 0


def main():
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page")
    ap.add_argument("--style", choices=("scboot", "argparse"))
    ap.add_argument("--prefix")
    ap.add_argument("--keys-in", metavar="SOURCE")
    ap.add_argument("--compile-example", action="store_true")
    args = ap.parse_args(argv[:cut])
    program = argv[cut + 1:]
    if args.keys_in:
        return check_keys(args.page, args.keys_in)
    if not program or (not args.compile_example and not (args.style and args.prefix)):
        ap.error("see the usage in " + __file__)
    if args.compile_example:
        return compile_example(args.page, program)
    help_ = Help(program, args.style)
    missing, ncmd, nopt, nexit, nenv = check(args.page, help_, args.prefix)
    name = os.path.basename(args.page)
    if missing:
        print(f"{name} does not document what `{' '.join(program)}` lists "
              f"({len(missing)} missing; add them to docs/man/{name}.scd):")
        for m in missing:
            print(f"  {m}")
        return 1
    print(f"{name} documents all {ncmd} commands, {nopt} options, {nexit} exit statuses "
          f"and {nenv} environment variables the help lists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
