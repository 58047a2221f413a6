#!/usr/bin/env python3
"""The man pages and shell completions against the binary itself.

usage: check_docs.py BINARY MAN1 MAN5 BASH_COMPLETION ZSH_COMPLETION

- every option of `BINARY --help` (and of each subcommand's --help) has an entry in
  batch_cleanup(1), rendered by man(1), that names its environment variable and its default;
- every subcommand of --help has a section in batch_cleanup(1);
- every key of the configuration file (every long option of --help but --help, --version and
  --config) has an entry in batch_cleanup.toml(5), with its environment variable and default;
- both pages render without a warning from man --warnings;
- under bash, the function `complete -p batch_cleanup` names completes every flag, every
  subcommand, every subcommand's flags, and the values of options with a fixed set;
- under zsh, the completion file parses and compinit registers it for batch_cleanup.
"""
import os
import re
import subprocess
import sys
import tempfile

failures = []


def fail(message):
    failures.append(message)


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


OPTION_LINE = re.compile(r"^  (-[^ ].*)$")


def parse_help(text):
    """[(names, default, env)] of each option line of a CLI11 --help, and the subcommands."""
    options, commands, section = [], [], None
    for line in text.splitlines():
        if re.match(r"^[A-Z][a-z]+:$", line):
            section = line[:-1]
            continue
        if section == "Options":
            m = OPTION_LINE.match(line)
            if not m:
                continue
            spec = re.split(r"\s{2,}", m.group(1))[0]  # the description may follow
            env = re.search(r"\(Env:([A-Z0-9_]+)\)", spec)
            spec = re.sub(r" *\(Env:[A-Z0-9_]+\)", "", spec)
            spec = re.sub(r" Excludes: .*$", "", spec)
            head = spec.split(" ")[0]
            names = head.split(",")
            default = None
            # "--batch-size INT:INT in [1 - 1000000]=5000": the default follows the type's '='.
            rest = spec[len(head):].strip()
            if "=" in rest:
                default = rest.rsplit("=", 1)[1].strip()
            options.append((names, default, env.group(1) if env else None))
        elif section == "Subcommands":
            m = re.match(r"^  ([a-z][a-z-]*) ", line)
            if m:
                commands.append(m.group(1))
    return options, commands


def render(page):
    env = dict(os.environ, MANWIDTH="1000", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    result = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page],
                            capture_output=True, text=True, env=env)
    if result.returncode != 0 or result.stderr.strip():
        fail(f"man --warnings {page}: exit {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def sections(text):
    """{SECTION: [lines]} of a rendered page."""
    out, current = {}, None
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z ]+$", line):
            current = line.strip()
            out[current] = []
        elif current:
            out[current].append(line)
    return out


def entries(lines):
    """[(heading, body)] of the .TP entries in `lines` (heading at 7 columns, body at 14)."""
    out = []
    for line in lines:
        if re.match(r"^ {7}\S", line) or re.match(r"^ {3}\S", line):
            out.append([line.strip(), ""])
        elif re.match(r"^ {8,}\S", line) and out:
            out[-1][1] += " " + line.strip()
    return out


def find_entry(found, name):
    for heading, body in found:
        tokens = re.split(r"[ ,=]+", heading)
        if name in tokens:
            return heading, body
    return None


def check_entry(page, found, names, default, env):
    flag = names[-1]
    entry = find_entry(found, flag)
    if entry is None:
        fail(f"{page}: no entry for {flag}")
        return
    heading, body = entry
    if env and f"Environment: {env}." not in body:
        fail(f"{page}: {flag}: environment variable {env} missing: {body!r}")
    if default and f"Default: {default}." not in body:
        fail(f"{page}: {flag}: default {default!r} missing: {body!r}")


def bash_complete(script, words):
    """The completions bash offers for `words` (the last one being completed)."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = f"""
set -u
source '{script}'
spec=$(complete -p batch_cleanup) || exit 3
[[ $spec =~ -F\\ ([^ ]+) ]] || exit 4
COMP_WORDS=({quoted})
COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
COMPREPLY=()
"${{BASH_REMATCH[1]}}" batch_cleanup "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD - 1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", program],
                            capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"bash completion of {words}: exit {result.returncode}: {result.stderr}")
        return []
    return [w for w in result.stdout.splitlines() if w]


def main():
    binary, man1, man5, bash_script, zsh_script = sys.argv[1:6]
    main_options, commands = parse_help(run([binary, "--help"], env={}))
    if len(main_options) < 40 or len(commands) < 4:
        fail(f"--help parsed to {len(main_options)} options and {len(commands)} subcommands")
    command_options = {c: parse_help(run([binary, c, "--help"], env={}))[0] for c in commands}

    page1 = sections(render(man1))
    options1 = entries(page1.get("OPTIONS", []))
    for names, default, env in main_options:
        check_entry("batch_cleanup(1) OPTIONS", options1, names, default, env)
    commands1 = entries(page1.get("COMMANDS", []))
    for command, options in command_options.items():
        if not any(h == f"batch_cleanup {command}" for h, _ in commands1):
            fail(f"batch_cleanup(1) COMMANDS: no section for {command}")
        for names, default, env in options:
            if names[-1] != "--help":
                check_entry(f"batch_cleanup(1) COMMANDS {command}", commands1, names, default, env)
    environment1 = entries(page1.get("ENVIRONMENT", []))
    for names, _, env in main_options:
        if env and find_entry(environment1, env) is None:
            fail(f"batch_cleanup(1) ENVIRONMENT: no entry for {env}")
    for section in ("EXIT STATUS", "SIGNALS", "FILES", "EXAMPLES"):
        if section not in page1:
            fail(f"batch_cleanup(1): no {section} section")

    page5 = sections(render(man5))
    keys5 = entries(page5.get("KEYS", []))
    for names, default, env in main_options:
        key = names[-1][2:]
        if key in ("help", "version", "config"):
            continue
        entry = find_entry(keys5, key)
        if entry is None:
            fail(f"batch_cleanup.toml(5) KEYS: no entry for {key}")
            continue
        check_entry("batch_cleanup.toml(5) KEYS", keys5, [key], default, env)
    for section in ("PRECEDENCE", "JOBS", "EXAMPLE"):
        if section not in page5:
            fail(f"batch_cleanup.toml(5): no {section} section")
    if not any("[[job]]" in line for line in page5.get("EXAMPLE", [])):
        fail("batch_cleanup.toml(5) EXAMPLE: no [[job]] table")

    for names, _, _ in main_options:
        for name in names:
            if name not in bash_complete(bash_script, ["batch_cleanup", name[:-1]]):
                fail(f"bash: {name[:-1]}<TAB> does not offer {name}")
    offered = bash_complete(bash_script, ["batch_cleanup", ""])
    for command in commands:
        if command not in offered:
            fail(f"bash: batch_cleanup <TAB> does not offer {command}: {offered}")
        if command not in bash_complete(bash_script, ["batch_cleanup", command[:2]]):
            fail(f"bash: batch_cleanup {command[:2]}<TAB> does not offer {command}")
        for names, _, _ in command_options[command]:
            got = bash_complete(bash_script, ["batch_cleanup", "--dry-run", command, names[-1]])
            if names[-1] not in got:
                fail(f"bash: batch_cleanup --dry-run {command} {names[-1]}<TAB> offers {got}")
        # The main command's options still complete after a subcommand.
        if "--database-url" not in bash_complete(bash_script, ["batch_cleanup", command, "--data"]):
            fail(f"bash: batch_cleanup {command} --data<TAB> does not offer --database-url")
    for words, expected in ((["--output", ""], ["text", "json"]),
                            (["--output", "=", "j"], ["json"]),
                            (["--normalize-email", "lower"], ["lower", "lower-trim"]),
                            (["--config", "x.toml", "hist"], ["history"])):
        got = bash_complete(bash_script, ["batch_cleanup"] + words)
        if sorted(got) != sorted(expected):
            fail(f"bash: batch_cleanup {' '.join(words)}<TAB> offers {got}, not {expected}")

    if subprocess.run(["zsh", "-n", zsh_script]).returncode != 0:
        fail("zsh -n: the zsh completion does not parse")
    with tempfile.TemporaryDirectory() as fpath:
        os.symlink(os.path.abspath(zsh_script), os.path.join(fpath, "_batch_cleanup"))
        program = (f"fpath=({fpath} $fpath); autoload -U compinit; "
                   f"compinit -u -d {fpath}/zcompdump; print -r -- $_comps[batch_cleanup]")
        got = subprocess.run(["zsh", "-f", "-c", program], capture_output=True, text=True)
        if got.stdout.strip() != "_batch_cleanup":
            fail(f"zsh: compinit does not register _batch_cleanup: {got.stdout}{got.stderr}")

    for message in failures:
        print("FAIL:", message)
    if failures:
        sys.exit(1)
    print(f"documentation OK: {len(main_options)} options, {len(commands)} subcommands, "
          f"man pages and bash/zsh completions agree with --help")


main()
