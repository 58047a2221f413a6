#!/usr/bin/env python3
"""Runs the README's worked example (the console block between `<!-- example: signup -->` and
`<!-- /example -->`) in a temporary directory holding a copy of examples/, with the built
batch_cleanup first on the PATH, and compares each command's stdout with the lines the README
prints under it. Cycle ids and durations differ from run to run and are compared as placeholders.

    check_readme_example.py README.md SOURCE_DIR BATCH_CLEANUP_BINARY
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def normalise(text):
    text = re.sub(r"cycle [0-9a-f]{12}", "cycle <id>", text)
    return re.sub(r"duration=\d+ms", "duration=<ms>", text)


def main():
    readme, source_dir, binary = sys.argv[1:4]
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    match = re.search(r"<!-- example: signup -->\n```console\n(.*?)```\n<!-- /example -->", text,
                      re.S)
    if not match:
        sys.exit("README: no <!-- example: signup --> console block")
    steps = []  # (command, expected stdout lines)
    for line in match.group(1).splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif steps:
            steps[-1][1].append(line)
        else:
            sys.exit("README example: output before the first command: " + line)
    with tempfile.TemporaryDirectory() as work:
        shutil.copytree(os.path.join(source_dir, "examples"), os.path.join(work, "examples"))
        bindir = os.path.join(work, "bin")
        os.mkdir(bindir)
        os.symlink(os.path.abspath(binary), os.path.join(bindir, "batch_cleanup"))
        env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""))
        for key in [k for k in env if k.startswith("BATCH_CLEANUP_") or k == "DATABASE_URL"]:
            del env[key]
        failures = 0
        for command, expected in steps:
            run = subprocess.run(["bash", "-c", command], cwd=work, env=env, text=True,
                                 capture_output=True, timeout=120)
            got = normalise(run.stdout).splitlines()
            want = normalise("\n".join(expected)).splitlines()
            if run.returncode != 0 or got != want:
                failures += 1
                print(f"$ {command}\nexit {run.returncode}\n--- README\n" + "\n".join(want) +
                      "\n--- got\n" + "\n".join(got) + "\n--- stderr\n" + run.stderr)
        if failures:
            sys.exit(f"{failures} of {len(steps)} README example command(s) differ")
    print(f"README example: {len(steps)} command(s), output as printed")


if __name__ == "__main__":
    main()
