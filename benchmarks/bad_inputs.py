"""Bad-input trials: run the installed command on every class of bad input, count refusals.

The classes are :data:`glonet_regions.testing.refusals.CASES` (a truncated netCDF file, a
truth in Kelvin labelled degC, a variable NaN everywhere, salinity as a fraction, another
region's run, NaN weights, a random file as a checkpoint, ``lr: .nan``, ``--out`` under a file,
an invalid region file). A class is *refused* when ``glonet-regions`` exits with the expected
status and prints exactly one line on stderr naming the problem, without a traceback, and
leaves no output file behind. Prints the figures quoted in docs/reference/refuses.md. Run::

    python benchmarks/bad_inputs.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    from glonet_regions.testing.refusals import CASES, REAL_IBI

    refused, failed = 0, []
    for i, case in enumerate(CASES):
        if case.needs_real_ibi and not REAL_IBI.is_file():
            print(f"  skipped (no {REAL_IBI}): {case.name}")
            continue
        tmp = Path(tempfile.mkdtemp(prefix=f"bad-input-{i}-"))
        bad = case.make(tmp)
        proc = subprocess.run(
            [sys.executable, "-m", "glonet_regions.cli", *bad.args],
            capture_output=True, text=True, env={**os.environ, **bad.env}, check=False,
        )  # fmt: skip
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        ok = (
            proc.returncode == bad.exit_code
            and len(lines) == 1
            and bad.expect in lines[0]
            and "Traceback" not in proc.stderr
            and "weights_only" not in proc.stderr
            and not any(p.exists() for p in bad.must_not_exist)
        )
        refused += ok
        if not ok:
            failed.append(case.name)
        print(f"  [{'refused' if ok else 'NOT REFUSED'}] {case.name} (item {case.item}): "
              f"exit {proc.returncode}: {lines[0] if lines else proc.stderr!r}")  # fmt: skip
    print(f"classes of bad input tried: {refused + len(failed)}")
    print(f"refused with one clear line: {refused}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
