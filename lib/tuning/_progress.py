"""Progress of a whole search: trials done of total, best so far, elapsed, time left."""

from __future__ import annotations

import math
import time
from typing import Any


def _fmt(value: Any) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if not math.isfinite(value) else f"{value:.4g}"


class SearchProgress:
    """A ``tqdm.auto`` bar over the trials of a search (a widget in notebooks).

    ``verbose=0`` shows nothing; ``1`` the bar (trials done of total, the best objective so
    far, elapsed and estimated time left, which tqdm derives from the trial rate), and when
    the search returns one line of text (trials done of total, best so far, time), which a
    notebook saved by ``nbconvert`` keeps even where the bar widget shows its first state;
    ``2`` also one line per finished trial.

    Args:
        total: trials the search will run in all (None when unknown, e.g. a time budget).
        done: trials already finished (a resumed search starts there).
        objective: the objective's name.
        direction: ``"min"`` or ``"max"``.
        best: the best objective of the finished trials, or None.
        verbose: 0, 1 or 2.
    """

    def __init__(
        self,
        *,
        total: int | None,
        done: int,
        objective: str,
        direction: str,
        best: float | None,
        verbose: int,
    ):
        self.objective, self.direction, self.best = objective, direction, best
        self.verbose = int(verbose)
        self.total = total
        self.done, self.started_with = int(done), int(done)
        self.start = time.perf_counter()
        self.bar = None
        if self.verbose and (total is None or done < total):
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total,
                initial=done,
                desc="trials",
                unit="trial",
                dynamic_ncols=True,
                leave=True,
            )
            self.bar.set_postfix_str(f"best {objective}={_fmt(best)}", refresh=False)

    def trial_done(self, record: dict) -> None:
        """Counts a finished trial and updates the best value shown."""
        from lib.tuning.oracles import better

        value = record.get("objective")
        if record.get("status") == "COMPLETED" and better(value, self.best, self.direction):
            self.best = float(value)
        self.done += 1
        if self.bar is None:
            return
        self.bar.set_postfix_str(f"best {self.objective}={_fmt(self.best)}", refresh=False)
        self.bar.update(1)
        if self.verbose >= 2:
            shown = "?" if self.total is None else str(self.total)
            self.bar.write(
                f"trial {int(record['trial']) + 1}/{shown} {self.objective}="
                f"{_fmt(value)} best={_fmt(self.best)} {float(record.get('seconds') or 0):.1f}s "
                f"{record.get('status')}"
            )

    def summary(self) -> str:
        """One line: trials done of total (this call's share), best so far, seconds."""
        total = "" if self.total is None else f" of {self.total}"
        ran = self.done - self.started_with
        earlier = f", {ran} in this call" if self.started_with else ""
        return (
            f"search: {self.done}{total} trials done{earlier}, best {self.objective}="
            f"{_fmt(self.best)}, {time.perf_counter() - self.start:.1f} s"
        )

    def close(self) -> None:
        """Closes the bar and prints :meth:`summary` (once; nothing at ``verbose=0``)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            print(self.summary(), flush=True)
