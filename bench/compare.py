"""Before/after: `make bench`'s benchmarks on a git revision, then on another or the working tree, in one run.

    .venv/bin/python bench/compare.py <before> [<after>]   # revisions; about twice make bench's time
    BENCH_SKIP_1M=1 BENCH_COMPARE_ONLY=run.py,writes.py .venv/bin/python bench/compare.py a6cf073

"Before" runs in a temporary `git worktree` of the revision: this checkout's .venv, with the
revision's libs/*/src, services/*/src and build/gen (generated there by its own protos/generate.py)
first on PYTHONPATH, so that its services, bench scripts and gateway configuration are the ones
imported and started. "After" is the second revision, the same way, or else this working tree
(`make setup` first). Each side runs the commands of its own Makefile's `bench:` target
(BENCH_COMPARE_ONLY: only those naming one of the given scripts), one after the other, with the
same BENCH_* environment (BENCH_COMPARE_ROUNDS=n: n rounds of before then after, and the median
req/s of each case); every Markdown table row they print with a req/s column is a case. The cases
both sides have are compared: req/s before, after, and after ÷ before (issue 10: within 10 %).

Writes bench/results/compare.md; each side's output goes to bench/results/compare/{before,after}.log.
A worktree's data sets are cached in bench/results/compare/rev-<commit>/ (its bench/results).
"""

import contextlib
import datetime
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile

BENCH = pathlib.Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
OUT = RESULTS / "compare"
VENV = REPO / ".venv"
ONLY = [name for name in os.environ.get("BENCH_COMPARE_ONLY", "").split(",") if name]
ROUNDS = int(os.environ.get("BENCH_COMPARE_ROUNDS") or 1)
TOLERANCE = 0.10


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout.strip()


def bench_commands(tree: pathlib.Path) -> list[str]:
    """The recipe of the `bench:` target in the tree's Makefile, with $(PY) and $(VENV) filled in."""
    lines = (tree / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("bench:"))
    commands = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        command = line.strip().replace("$(PY)", str(VENV / "bin" / "python")).replace("$(VENV)", str(VENV))
        if "$(" in command:
            raise SystemExit(f"compare: cannot run {command!r} (a make variable other than PY and VENV)")
        if not ONLY or any(name in command for name in ONLY):
            commands.append(command)
    return commands


def environment(tree: pathlib.Path) -> dict[str, str]:
    """This .venv's Python importing the tree's packages and generated code ahead of site-packages."""
    paths = sorted(tree.glob("libs/*/src")) + sorted(tree.glob("services/*/src")) + [tree / "build" / "gen"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, paths)))
    imported = subprocess.run(
        [
            str(VENV / "bin" / "python"),
            "-c",
            "import crm, portal_stack.gateway as g; print(crm.__file__, g.DESCRIPTOR)",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if not all(pathlib.Path(path).is_relative_to(tree) for path in imported):
        raise SystemExit(f"compare: {tree} imports code from elsewhere: {imported}")
    return env


def req_per_second(output: str) -> dict[str, float]:
    """req/s of every row of every Markdown table with a req/s column, keyed by the row's first cell."""
    cases, column = {}, None
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().split("|")[1:-1]] if line.startswith("|") else None
        if not cells:
            column = None
        elif "req/s" in cells:
            column = cells.index("req/s")
        elif column is not None and not cells[0].startswith("---"):
            cases[cells[0]] = float(cells[column].replace(",", ""))
    return cases


def run_side(
    side: str, tree: pathlib.Path, env: dict[str, str], cases: dict[tuple[str, str], list[float]], problems: list[str]
) -> None:
    """Runs the tree's bench commands, echoing and logging their output; adds each case's req/s to
    `cases` (by command and case) and what went wrong to `problems`."""
    with open(OUT / f"{side}.log", "a") as log:
        for command in bench_commands(tree):
            script = command.split(" ", 1)[1]  # without the interpreter
            print(f"\n== {side}: {script}", flush=True)
            log.write(f"== {command}\n")
            process = subprocess.Popen(
                command, shell=True, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            output = []
            for line in process.stdout:
                print(line, end="", flush=True)
                log.write(line)
                output.append(line)
            text = "".join(output)
            if process.wait() != 0:
                problems.append(f"{side}: {script} exited with status {process.returncode}")
            if "not valid" in text:  # run.py and the others say so when requests failed
                problems.append(f"{side}: {script}: some requests failed, its figures are not valid")
            for case, rps in req_per_second(text).items():
                cases.setdefault((script, case), []).append(rps)


def report(
    before_commit: str,
    after_commit: str,
    before: dict,
    after: dict,
    problems: list[str],
    started: str,
    loads: list[float],
) -> str:
    settings = (
        " ".join(f"{name}={value}" for name, value in sorted(os.environ.items()) if name.startswith("BENCH_"))
        or "defaults"
    )
    lines = [
        f"# bench/compare.py, {started} to {datetime.datetime.now().astimezone():%H:%M %Z}",
        "",
        f"- before: {before_commit}; after: {after_commit}; {ROUNDS} round(s) of before then after, "
        "median req/s of the rounds",
        f"- {settings}; load average before each run: " + ", ".join(f"{load:.1f}" for load in loads),
        "",
        "| benchmark | case | req/s before | req/s after | after ÷ before | |",
        "|---|---|---:|---:|---:|---|",
    ]
    for script, case in [key for key in before if key in after]:
        rps_before, rps_after = statistics.median(before[(script, case)]), statistics.median(after[(script, case)])
        ratio = rps_after / rps_before
        verdict = "within 10 %" if abs(ratio - 1) <= TOLERANCE else "SLOWER" if ratio < 1 else "faster"
        lines.append(f"| {script} | {case} | {rps_before:,.0f} | {rps_after:,.0f} | {ratio:.2f} | {verdict} |")
    for side, cases, other in (("before", before, after), ("after", after, before)):
        only = [f"{script}: {case}" for script, case in cases if (script, case) not in other]
        if only:
            lines += ["", f"Only {side}: " + "; ".join(only) + "."]
    if problems:
        lines += ["", "**Problems:**", *(f"- {problem}" for problem in problems)]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def worktree(commit: str):
    """A temporary `git worktree` of `commit` with its build/gen generated; its bench/results is kept
    in bench/results/compare/rev-<commit>/, so that its data sets are built once."""
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="bench-compare-"))
    tree = scratch / "tree"
    try:
        git("worktree", "add", "--detach", str(tree), commit)
        cache = OUT / f"rev-{commit[:12]}"
        cache.mkdir(exist_ok=True)
        (tree / "bench" / "results").symlink_to(cache)
        subprocess.run([str(VENV / "bin" / "python"), str(tree / "protos" / "generate.py")], check=True)
        yield tree
    finally:
        (tree / "bench" / "results").unlink(missing_ok=True)
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO)
        shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    commits = [git("rev-parse", "--verify", revision + "^{commit}") for revision in sys.argv[1:]]
    OUT.mkdir(parents=True, exist_ok=True)
    started = f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M}"
    for side in ("before", "after"):
        (OUT / f"{side}.log").unlink(missing_ok=True)
    with contextlib.ExitStack() as trees:
        before_tree = trees.enter_context(worktree(commits[0]))
        if len(commits) == 2:
            after_name, after_tree = commits[1][:7], trees.enter_context(worktree(commits[1]))
        else:  # the working tree as it is now
            after_name = git("rev-parse", "--short", "HEAD") + (
                " with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
            )
            after_tree = REPO
            subprocess.run(["make", "setup"], cwd=REPO, check=True)
        sides = {side: (tree, environment(tree), {}) for side, tree in (("before", before_tree), ("after", after_tree))}
        problems, loads = [], []
        for _ in range(ROUNDS):  # several rounds, alternating, even out the machine's changing load
            for side, (tree, env, cases) in sides.items():
                loads.append(os.getloadavg()[0])
                run_side(side, tree, env, cases, problems)
    text = report(commits[0][:7], after_name, sides["before"][2], sides["after"][2], problems, started, loads)
    (RESULTS / "compare.md").write_text(text)
    print("\n" + text)
    print(f"written to {RESULTS / 'compare.md'}; output of each side in {OUT}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
