"""Run logging: a tqdm progress bar, CSV files and TensorBoard, on rank 0 only."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

__all__ = ["RunLogger"]


class RunLogger:
    """Writes ``RUN_DIR/logs/{train,val}.csv`` and TensorBoard events; shows progress.

    Args:
        run_dir: The run folder.
        enabled: False on ranks other than 0 (everything becomes a no-op).
        tensorboard: Write TensorBoard events under ``RUN_DIR/tensorboard``.
        progress: Show tqdm bars.
        append: Keep existing CSV rows (resume).
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        enabled: bool = True,
        tensorboard: bool = True,
        progress: bool = True,
        append: bool = False,
    ) -> None:
        self.enabled = enabled
        self.progress = progress and enabled
        self._files: dict[str, tuple[TextIO, Any]] = {}
        self._tb: Any = None
        self._bar: Any = None
        self.log_dir = Path(run_dir) / "logs"
        self.append = append
        if enabled:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            if tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def _writer(self, name: str, fields: list[str]) -> Any:
        if name not in self._files:
            path = self.log_dir / f"{name}.csv"
            exists = path.exists() and self.append
            fh = open(path, "a" if exists else "w", newline="")  # noqa: SIM115
            writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
            if not exists:
                writer.writeheader()
            self._files[name] = (fh, writer)
        return self._files[name][1]

    def keep_rows(self, keep: Callable[[dict[str, str]], bool]) -> int:
        """Drop the CSV rows ``keep`` rejects (rows logged after the checkpoint resumed from).

        Each file is rewritten atomically. Returns the number of rows dropped.
        """
        if not self.enabled:
            return 0
        dropped = 0
        for path in sorted(self.log_dir.glob("*.csv")):
            with open(path, newline="") as fh:
                reader = csv.DictReader(fh)
                fields = list(reader.fieldnames or [])
                rows = list(reader)
            kept = [r for r in rows if keep(r)]
            if len(kept) == len(rows):
                continue
            dropped += len(rows) - len(kept)
            tmp = path.with_name(f".{path.name}.tmp")
            with open(tmp, "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=fields)
                writer.writeheader()
                writer.writerows(kept)
            os.replace(tmp, path)
        return dropped

    def scalars(self, table: str, row: dict[str, Any], *, step: int, tag: str) -> None:
        """Append a CSV row and TensorBoard scalars (``tag/key``) for numeric entries."""
        if not self.enabled:
            return
        self._writer(table, list(row)).writerow(row)
        self._files[table][0].flush()
        if self._tb is not None:
            for key, value in row.items():
                if isinstance(value, int | float) and key not in ("step", "epoch"):
                    self._tb.add_scalar(f"{tag}/{key}", value, step)

    def start_epoch(self, total: int, desc: str, initial: int = 0) -> None:
        if not self.progress:
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=total,
            initial=initial,
            desc=desc,
            leave=False,
            dynamic_ncols=True,
            file=sys.stderr,
        )

    def update(self, loss: float) -> None:
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
            self._bar.update(1)

    def end_epoch(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def echo(self, message: str) -> None:
        if self.enabled:
            from tqdm.auto import tqdm

            tqdm.write(message, file=sys.stderr)

    def close(self) -> None:
        self.end_epoch()
        for fh, _ in self._files.values():
            fh.close()
        self._files.clear()
        if self._tb is not None:
            self._tb.close()
            self._tb = None
