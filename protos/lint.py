"""`buf lint` on protos/, and `buf breaking` against a git revision (HEAD~1 by default).

buf reads descriptor sets that protoc builds here (with the googleapis protos from
googleapis-common-protos), instead of resolving google/api through the Buf Schema Registry.
Usage: python protos/lint.py BUF [REVISION]
"""

import pathlib
import subprocess
import sys
import tempfile

import generate

CONFIG = generate.ROOT / "buf.yaml"


def image(root: pathlib.Path, out: pathlib.Path) -> str:
    """A descriptor set of the protos under `root`, with source info (for line numbers)."""
    sources = sorted(str(p.relative_to(root)) for p in root.rglob("*.proto"))
    generate.run([f"--descriptor_set_out={out}", "--include_imports", "--include_source_info", *sources], root)
    return f"{out}#format=binpb"


def protos_at(revision: str, into: pathlib.Path) -> bool:
    """Writes the protos of `revision` under `into`; False if there is no such revision."""
    listing = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", revision, "--", "protos"],
        capture_output=True,
        text=True,
        cwd=generate.ROOT.parent,
    )
    if listing.returncode != 0:
        return False
    for name in listing.stdout.split():
        if name.endswith(".proto"):
            target = into / pathlib.Path(name).relative_to("protos")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(
                subprocess.run(
                    ["git", "show", f"{revision}:{name}"], capture_output=True, check=True, cwd=generate.ROOT.parent
                ).stdout
            )
    return True


def main(buf: str, revision: str = "HEAD~1") -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        current = image(generate.ROOT, tmp / "current.pb")
        failed = subprocess.run([buf, "lint", current, "--config", str(CONFIG), "--path", "portal"]).returncode
        if protos_at(revision, tmp / "before"):
            before = image(tmp / "before", tmp / "before.pb")
            failed |= subprocess.run(
                [buf, "breaking", current, "--against", before, "--config", str(CONFIG), "--path", "portal"]
            ).returncode
        else:
            print(f"buf breaking: no revision {revision} to compare with")
    return failed


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
