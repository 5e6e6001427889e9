"""The plot worker: a separate process that draws a run's report plots while the command goes on.

``plot_jobs.session`` starts it as ``python -m nnrun.evaluation.plot_worker`` at the start of ``train`` and
``evaluate``. It imports matplotlib and draws one throw-away figure in memory (fonts, caches) while the command
imports Keras, then draws the jobs it is sent: the learning curves as soon as ``fit`` ends, the confusion matrix
and ROC curve once the predictions exist. A process, not a thread: drawing is Python code that holds the GIL.

Protocol (a private pipe between one command and its own child; both sides are this package): stdin carries
pickled jobs ``(job_id, kind, run_dir, args)``, stdout one pickled reply per job, in order: ``(job_id,
[file names], None)``, or ``(job_id, None, exception)`` when drawing failed (the parent raises it, as if it had
drawn the plot itself), or ``(job_id, None, None)`` for a job skipped because an earlier job of the same run
failed (today's order: the first failure stops the run's plots).

The worker ignores Ctrl-C (the terminal sends it to the whole process group: the parent decides) and exits at
the end of its input: when the parent closes the pipe, or dies (even by ``kill -9``), so it never outlives
the command by more than the plot it is drawing. It writes only files directly inside a job's run directory
(bare names), each through ``rundir.AtomicWrite`` (``plots._save``).
"""

from __future__ import annotations

import io
import os
import pickle
import signal
import sys
import traceback
from pathlib import Path
from typing import BinaryIO

from nnrun import rundir

CURVES = "curves"  # args: history ({metric: [value per epoch]}), best_epoch (1-based or None)
CONFUSION = "confusion"  # args: name, cm, classes
ROC = "roc"  # args: name, positive (0/1 per row), scores, auc, positive_class


def draw(kind: str, run: Path, args: dict) -> list[str]:
    """Draw one job's plots into ``run``; the names of the files written (bare names, in ``run``).

    Raises:
        RunError: a file cannot be written. ValueError: bad data, an unknown job, a name that is not bare.
    """
    from nnrun.evaluation import plots

    if kind == CURVES:
        paths = plots.plot_learning_curves(args["history"], run / rundir.CURVES_PREFIX, args["best_epoch"])
        return [p.name for p in paths]
    name = args["name"]
    if Path(name).name != name or name in ("", ".", ".."):
        raise ValueError(f"plot job {kind!r}: {name!r} is not a file name in the run directory")
    if kind == CONFUSION:
        return [plots.plot_confusion_matrix(args["cm"], args["classes"], run / name).name]
    if kind == ROC:
        return [plots.plot_roc_curve(args["positive"], args["scores"], run / name, args["auc"],
                                     positive_class=args["positive_class"]).name]
    raise ValueError(f"unknown plot job {kind!r}")


def warm_up() -> None:
    """Import matplotlib and draw a small figure in memory (a line, an image with a colour bar, text, a legend,
    ``tight_layout``): the first real plot then starts with fonts and caches loaded. Writes no file."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    import nnrun.evaluation.plots  # noqa: F401  (its imports: NumPy, the metrics)

    fig = Figure(figsize=(3.0, 2.0), dpi=50)
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.plot([1, 2], [0.5, 0.25], marker="o", label="training")
    ax1.axvline(1, linestyle="--", label="best")
    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.legend()
    ax1.set_title("warm-up")
    image = ax2.imshow([[1, 0], [0, 1]], cmap="Blues")
    fig.colorbar(image, ax=ax2, label="examples")
    ax2.text(0, 0, "1\n50%", ha="center", va="center")
    fig.tight_layout()
    fig.savefig(io.BytesIO(), format="png")


def serve(jobs: BinaryIO, replies: BinaryIO) -> None:
    """Draw the jobs read from ``jobs`` until its end, one reply each on ``replies`` (see the module's doc)."""
    failed: set[str] = set()
    while True:
        try:
            job_id, kind, run, args = pickle.load(jobs)
        except EOFError:  # the parent closed the pipe, or died
            return
        if run in failed:
            reply: tuple = (job_id, None, None)
        else:
            try:
                reply = (job_id, draw(kind, Path(run), args), None)
            except Exception as exc:  # sent back: the parent raises it where it would have drawn the plot
                failed.add(run)
                reply = (job_id, None, portable(exc))
        try:
            pickle.dump(reply, replies, protocol=pickle.HIGHEST_PROTOCOL)
            replies.flush()
        except (BrokenPipeError, OSError):  # the parent is gone
            return


def portable(exc: Exception) -> Exception:
    """``exc`` with the worker's traceback as a note (shown by ``--debug``), or, when it cannot be pickled, a
    RuntimeError with the same ``Type: message`` text."""
    exc.add_note("in nnrun's plot worker:\n" + "".join(traceback.format_exception(exc)).rstrip())
    try:
        return pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def main() -> None:
    """The worker process: replies on a private copy of stdout (a library's stray print goes to stderr)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        warm_up()
    except Exception:  # only a head start: a real failure shows in the first job, and is sent back
        pass
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
