"""Summarize a py-spy `--format raw` (collapsed stacks) profile as text.

    python bench/profile_summary.py PROFILE.txt [--top 25] [--focus pager/]

Prints, per thread, its share of samples; then the top functions by self samples and by inclusive
samples (each function counted once per stack), optionally only frames whose file contains --focus.
Used by bench/run.py when BENCH_PROFILE=1 and by hand when looking for a bottleneck.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

_FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:()]+):(?P<line>\d+)\)$")


def _key(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{m.group('func')} ({path})"


def summarize(path: str, top: int = 25, focus: str | None = None) -> str:
    threads: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    total = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            line = line.rstrip("\n")
            stack, _, n = line.rpartition(" ")
            if not stack or not n.isdigit():
                continue
            count = int(n)
            total += count
            frames = stack.split(";")
            thread = frames[0]
            thread = thread.split(": ", 1)[1] if ": " in thread else thread
            threads[thread] += count
            body = frames[1:]
            if body:
                self_[f"[{thread}] {_key(body[-1])}"] += count
            seen = set()
            for f in body:
                k = _key(f)
                if focus and focus not in f:
                    continue
                if k not in seen:
                    seen.add(k)
                    incl[f"[{thread}] {k}"] += count
    out = [f"samples: {total}"]
    out.append("threads:")
    for t, c in threads.most_common():
        out.append(f"  {100 * c / total:5.1f}%  {t}")
    out.append(f"top {top} by self samples:")
    for k, c in self_.most_common(top):
        out.append(f"  {100 * c / total:5.1f}%  {k}")
    out.append(f"top {top} by inclusive samples" + (f" (frames in {focus})" if focus else "") + ":")
    for k, c in incl.most_common(top):
        out.append(f"  {100 * c / total:5.1f}%  {k}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--focus", default=None)
    args = ap.parse_args()
    try:
        print(summarize(args.profile, args.top, args.focus))
    except BrokenPipeError:  # piped into head
        pass


if __name__ == "__main__":
    main()
