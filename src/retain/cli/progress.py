"""A progress line with elapsed seconds, for the CLI's slow steps (model loading, extraction).

On a terminal the line is redrawn with a spinner ten times a second; elsewhere (a pipe, a
log, a test) it prints one line when the step starts, a heartbeat every ``heartbeat``
seconds, and one line when it ends, so CI logs show what is happening without noise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import KW_ONLY, dataclass
from types import TracebackType
from typing import Any, TextIO

__all__ = ["Progress", "wait_for"]

_FRAMES = "|/-\\"


@dataclass(eq=False)
class Progress:
    """``with Progress(out, "loading model"):`` shows ``label`` with the seconds elapsed.

    Example:
        >>> import io
        >>> out = io.StringIO()
        >>> with Progress(out, "counting") as p:
        ...     p.note("3 so far")
        >>> out.getvalue().splitlines()[-1].split(" in ")[0].strip()
        'done: counting'
    """

    out: TextIO
    label: str
    _: KW_ONLY
    interval: float = 0.1
    heartbeat: float = 15.0
    clock: Callable[[], float] = time.monotonic
    quiet: bool = False

    def __post_init__(self) -> None:
        self.started = self.clock()
        self.ended: float | None = None
        self._note = ""
        self._stage: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        isatty = getattr(self.out, "isatty", None)
        self.live = bool(callable(isatty) and isatty())

    @property
    def elapsed(self) -> float:
        """Seconds since the step started (until it ended)."""
        return (self.ended if self.ended is not None else self.clock()) - self.started

    def note(self, text: str, *, stage: str | None = None) -> None:
        """Show ``text`` after the label (for example what is being waited on).

        ``stage``: when it differs from the last one, off a terminal it is printed on a line
        of its own (a terminal shows it in the redrawn line anyway).
        """
        self._note = text
        if stage is not None and stage != self._stage:
            self._stage = stage
            if not self.live:
                print(f"    {stage}", file=self.out, flush=True)

    def _line(self, frame: str) -> str:
        note = f" ({self._note})" if self._note else ""
        return f"{frame} {self.label}{note} {self.elapsed:5.1f} s"

    def _spin(self) -> None:
        frames = 0
        last_beat = self.clock()
        while not self._stop.wait(self.interval):
            if self.live:
                frames += 1
                self.out.write("\r" + self._line(_FRAMES[frames % len(_FRAMES)]) + "\x1b[K")
                self.out.flush()
            elif self.clock() - last_beat >= self.heartbeat:
                last_beat = self.clock()
                print(
                    f"    ... still {self.label} ({self.elapsed:.0f} s)", file=self.out, flush=True
                )

    def __enter__(self) -> Progress:
        self.started = self.clock()
        if not self.live and not self.quiet:
            print(f"... {self.label}", file=self.out, flush=True)
        self._thread = threading.Thread(target=self._spin, name="retain-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.ended = self.clock()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self.quiet:
            if self.live:
                self.out.write("\r\x1b[K")
                self.out.flush()
            return
        mark = "done" if exc_type is None else "failed"
        note = f", {self._note}" if self._note else ""
        prefix = "\r\x1b[K" if self.live else ""
        print(
            f"{prefix}    {mark}: {self.label} in {self.elapsed:.1f} s{note}",
            file=self.out,
            flush=True,
        )


def wait_for(
    futures: Iterable[Future[Any]], progress: Progress, *, timeout: float
) -> list[BaseException | None]:
    """Wait for ``futures`` (at most ``timeout`` seconds in all) while ``progress`` runs.

    Returns each future's exception, or ``None`` for those that succeeded; a future not
    done in time is cancelled and gives a timeout error.
    """
    pending = list(futures)
    errors: list[BaseException | None] = []
    deadline = time.monotonic() + timeout
    for number, future in enumerate(pending, start=1):
        if len(pending) > 1:
            progress.note(f"{number - 1}/{len(pending)} done")
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
            errors.append(None)
        except FutureTimeout as e:
            future.cancel()
            errors.append(e)
        except BaseException as e:
            errors.append(e)
    if len(pending) > 1:
        progress.note(f"{len(pending)}/{len(pending)} done")
    return errors
