"""Mutation testing on a curated list: break nnrun on purpose, one named mutant at a time, and check a test fails.

Each mutant replaces one exact snippet of one file by a wrong version and names the tests that should catch it.
The script copies the repository to a temporary folder (the working tree is never edited, so a crash cannot
leave a mutant behind), applies each mutant to the copy, runs ``pytest -x -q`` on that mutant's tests only
(2 busy cores: a whole suite per mutant would take hours), and records whether it was killed and by which
test. A snippet that is not found exactly once is an error: the list must follow the code.

    python tools/mutants.py                 # every mutant; writes docs/mutants.md
    python tools/mutants.py --only NAME...  # some mutants, no docs file
    python tools/mutants.py --baseline      # first check each test selection passes on the unmutated code
    python tools/mutants.py --list          # names and areas

Exit status: 0 when every mutant was killed, 1 when one survived, 2 when a snippet no longer matches.
Why not mutmut: it mutates every operator of every module (thousands of mutants, each running the whole
suite); on 2 shared cores that is days. A curated list names the promise each mutant breaks (README's), and
runs in about half an hour.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "mutants.md"
TIMEOUT = 600  # seconds per mutant; a mutant that hangs the tests counts as killed (by the timeout)


@dataclass(frozen=True)
class Mutant:
    """One deliberate breakage: in ``file``, ``original`` (found exactly once) becomes ``replacement``."""

    name: str
    area: str
    file: str
    original: str
    replacement: str
    tests: tuple[str, ...]
    promise: str


T_PROMISES = "tests/training/test_promises.py"
T_LEAK = "tests/data/test_no_leakage.py"
T_CONTROL = "tests/training/test_training_control.py"
T_RELIABILITY = "tests/cli/test_reliability.py"

MUTANTS: tuple[Mutant, ...] = (
    # ------------------------------------------------------------------------------------------ config
    Mutant("yaml-duplicate-keys-allowed", "config", "nnrun/config/yamlsrc.py",
           "            if key in own:\n", "            if False and key in own:\n",
           ("tests/config/test_yaml.py::test_duplicate_top_level_key_names_both_lines",),
           "duplicate keys are an error"),
    Mutant("config-no-closest-name", "config", "nnrun/config/registry.py",
           "close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)", "close = []",
           ("tests/config/test_config.py::test_unknown_loss_suggests_the_closest",),
           "an unknown Keras name suggests the closest"),
    Mutant("config-softmax-width-unchecked", "config", "nnrun/config/checks.py",
           'h.units is not None and h.units != n:', 'h.units is not None and h.units != n and False:',
           ("tests/config/test_config.py::test_softmax_units_must_equal_the_number_of_classes",),
           "a softmax whose width is not the number of classes is refused"),
    Mutant("config-softmax-one-unit-allowed", "config", "nnrun/config/checks.py",
           'if h.activation == "softmax" and h.units == 1:', "if False:",
           ("tests/config/test_config.py::test_case2_softmax_on_one_unit_is_refused_naming_the_layer_and_suggesting_sigmoid",),
           "a softmax over one unit is refused"),
    Mutant("set-list-index-read-as-key", "config", "nnrun/config/overrides.py",
           'int(p) if re.fullmatch(r"-?[0-9]+", p) else p', "p",
           ("tests/config/test_config.py::test_set_list_item_by_index",),
           "--set addresses list items by index"),
    # -------------------------------------------------------------------------------------------- data
    Mutant("split-not-stratified", "data", "nnrun/data/splits.py",
           "    if not stratify:\n", "    if True:\n",
           ("tests/data/test_data.py::test_stratified_split_keeps_class_proportions",),
           "the validation split is stratified by class"),
    Mutant("na-values-default-empty", "data", "nnrun/data/features.py",
           "else set(NA_VALUES)", "else set()",
           ("tests/data/test_data.py::test_missing_value_names_column_and_lines",),
           "'', ?, NA, … mean missing by default"),
    Mutant("classes-not-sorted", "data", "nnrun/data/labels.py",
           "    values = np.unique(y)\n", "    values = np.unique(y)[::-1]\n",
           ("tests/data/test_data.py::test_integer_labels_keep_their_values",),
           "classes are the distinct labels, sorted"),
    Mutant("fill-not-applied", "data", "nnrun/data/features.py",
           'return np.where(missing, column["fill"], values)', "return values",
           ("tests/data/test_formats.py::test_mean_mode_and_constant_values",),
           "missing cells get the learnt fill"),
    Mutant("evaluate-ignores-test-split", "evaluation", "nnrun/evaluation/examples.py",
           'subset = "test" if split.get("test") else "validation" if split.get("validation") else "training"',
           'subset = "validation" if split.get("validation") else "training"',
           ("tests/data/test_preprocessing.py::test_test_split_is_held_out_and_reported_by_evaluate",),
           "evaluate reports the held-out test split first"),
    # ---------------------------------------------------------------------------------------- features
    Mutant("fills-from-all-rows", "features", "nnrun/data/table.py",
           "        self.inputs, _, _ = features.transform(self.raw.frame, self.spec, self.raw.where)\n",
           "        every = fit(self.raw.frame, self.feature_names, self.kinds, cfg, self.source)\n"
           "        for mine, theirs in zip(self.spec['columns'], every['columns']):\n"
           "            mine['fill'] = theirs['fill']\n"
           "        self.inputs, _, _ = features.transform(self.raw.frame, self.spec, self.raw.where)\n",
           (T_LEAK + "::test_fills_vocabulary_and_normalization_come_from_the_training_split_only",),
           "missing: mean fills are learnt on the training split only (issue 21)"),
    Mutant("feature-spec-on-all-rows", "features", "nnrun/data/table.py",
           "fit(self.raw.frame.iloc[train_idx], self.feature_names,", "fit(self.raw.frame, self.feature_names,",
           (T_LEAK + "::test_fills_vocabulary_and_normalization_come_from_the_training_split_only",),
           "the whole feature spec is fitted on the training split only (issue 21)"),
    Mutant("normalization-layer-adapted-on-all-rows", "features", "nnrun/training/run.py",
           "adapted = adapt_preprocessing(prep.loaded, model, x_train)",
           "adapted = adapt_preprocessing(prep.loaded, model, prep.table.x)",
           (T_LEAK + "::test_a_first_normalization_layer_is_adapted_on_the_training_split_only",),
           "a first Normalization layer is adapted on the training split only"),
    Mutant("normalize-std-as-variance", "features", "nnrun/data/spec.py",
           'out["variance"] = num.var(axis=axes).tolist()', 'out["variance"] = num.std(axis=axes).tolist()',
           (T_LEAK + "::test_fills_vocabulary_and_normalization_come_from_the_training_split_only",),
           "normalize: true uses the training split's mean and variance"),
    # -------------------------------------------------------------------------------- training control
    Mutant("best-weights-always-latest", "training", "nnrun/training/callbacks.py",
           "            self.changed = True\n",
           "            self.changed = True\n        self.weights = self.model.get_weights()\n",
           (T_PROMISES + "::test_saved_model_is_the_best_epoch_when_early_stopping_never_triggers",),
           "the kept best weights are the best epoch's (issue 21)"),
    Mutant("restore-best-only-when-stopped", "training", "nnrun/training/fit.py",
           "if early and parts.best.weights is not None:", "if stopped_early and parts.best.weights is not None:",
           (T_PROMISES + "::test_saved_model_is_the_best_epoch_when_early_stopping_never_triggers",),
           "best weights are restored whether or not stopping triggered (issue 21)"),
    Mutant("clipnorm-dropped", "training", "nnrun/training/build.py",
           "    kwargs = dict(spec.kwargs)\n",
           '    kwargs = {k: v for k, v in spec.kwargs.items() if k != "clipnorm"}\n',
           (T_PROMISES + "::test_clipnorm_is_kept_and_bounds_each_gradient",),
           "clipnorm is the optimizer's own (issue 21)"),
    Mutant("clipvalue-dropped", "training", "nnrun/training/build.py",
           "    kwargs = dict(spec.kwargs)\n",
           '    kwargs = {k: v for k, v in spec.kwargs.items() if k != "clipvalue"}\n',
           (T_PROMISES + "::test_clipvalue_is_kept_and_bounds_each_gradient_element",),
           "clipvalue is the optimizer's own"),
    Mutant("schedule-replaced-by-constant", "training", "nnrun/training/build.py",
           'kwargs["learning_rate"] = getattr(keras.optimizers.schedules, schedule.pop("type"))(**schedule)',
           'kwargs["learning_rate"] = float(schedule.get("warmup_target", 0.001))',
           (T_PROMISES + "::test_learning_rate_schedule_is_kept_and_drives_the_rate",),
           "a learning-rate schedule drives the optimizer"),
    Mutant("regularizer-dropped", "training", "nnrun/training/build.py",
           "        out[key] = value\n",
           '        if not key.endswith("_regularizer"):\n            out[key] = value\n',
           (T_PROMISES + "::test_regularizer_is_kept_and_adds_its_penalty_to_the_loss",),
           "kernel_regularizer: {type: L2, l2: 0.01} regularizes the layer"),
    Mutant("monitor-mode-always-min", "training", "nnrun/training/callbacks.py",
           'return "max" if any(k in monitor for k in', 'return "min" if any(k in monitor for k in',
           (T_PROMISES + "::test_an_accuracy_monitor_picks_the_highest_epoch",),
           "an accuracy-like monitor is maximised"),
    Mutant("divergence-not-stopped", "training", "nnrun/training/callbacks.py",
           'if not math.isfinite(float((logs or {}).get("loss", 0.0))):', "if False:",
           ("tests/training/test_train.py::test_diverging_loss_fails_the_run_without_saving_a_model",),
           "training stops at the end of the first epoch whose loss is NaN"),
    Mutant("reduce-lr-never-lowers", "training", "nnrun/training/callbacks.py",
           'kw = {"monitor": monitor, **training.reduce_lr_on_plateau, "verbose": 0}',
           'kw = {"monitor": monitor, **training.reduce_lr_on_plateau, "verbose": 0, "min_lr": 1.0}',
           (T_CONTROL + "::test_reduce_lr_on_plateau_lowers_the_learning_rate",),
           "reduce_lr_on_plateau lowers the learning rate"),
    Mutant("class-weight-balanced-ignored", "training", "nnrun/training/prepare.py",
           "per_class = np.where(counts > 0, len(idx) / (len(classes) * np.maximum(counts, 1)), 0.0)",
           "per_class = np.where(counts > 0, 1.0, 0.0)",
           (T_CONTROL + "::test_balanced_class_weight_raises_minority_recall",),
           "class_weight: balanced weights classes by n / (k * count)"),
    # ------------------------------------------------------------------------------ checkpoints/resume
    Mutant("best-checkpoint-never-updated", "checkpoints", "nnrun/training/checkpoint.py",
           "if best_changed or not (run_dir / rundir.BEST_MODEL).exists():",
           "if not (run_dir / rundir.BEST_MODEL).exists():",
           (T_PROMISES + "::test_saved_model_is_the_best_epoch_when_early_stopping_never_triggers",),
           "best.keras holds the best epoch's model"),
    Mutant("checkpoint-interval-ignored", "checkpoints", "nnrun/training/callbacks.py",
           "if self.parts.stop.interrupted or time.monotonic() - self.last_save >= self.interval:",
           "if self.parts.stop.interrupted:",
           (T_CONTROL + "::test_killed_run_resumes_to_the_same_result_as_an_uninterrupted_one",),
           "checkpoints are written every checkpoint_interval seconds"),
    Mutant("resume-restarts-at-epoch-0", "checkpoints", "nnrun/training/checkpoint.py",
           'epoch=record["epoch"], history=record["history"]', 'epoch=0, history=record["history"]',
           (T_CONTROL + "::test_killed_run_resumes_to_the_same_result_as_an_uninterrupted_one",),
           "--resume continues from the last checkpoint"),
    Mutant("resume-accepts-a-changed-config", "checkpoints", "nnrun/training/records.py",
           'changed = [d for d in config_diff(original.config, loaded.config) if d[0] != "training.epochs"]',
           "changed = []",
           (T_CONTROL + "::test_resume_refuses_a_changed_config_and_extends_only_on_request",),
           "resume refuses a changed config"),
    # -------------------------------------------------------------------------------------- evaluation
    Mutant("baseline-is-the-minority-class", "evaluation", "nnrun/evaluation/metrics.py",
           "majority = int(np.argmax(support))", "majority = int(np.argmin(support))",
           ("tests/evaluation/test_report.py::test_case10_majority_class_model_is_flagged",),
           "the majority-class baseline"),
    Mutant("f1-without-the-factor-2", "evaluation", "nnrun/evaluation/metrics.py",
           "f1 = _safe_div(2 * tp, support + predicted)", "f1 = _safe_div(tp, support + predicted)",
           ("tests/evaluation/test_report.py::test_binary_matches_sklearn",),
           "F1 as scikit-learn computes it"),
    Mutant("rmse-is-mse", "evaluation", "nnrun/evaluation/metrics.py",
           '"rmse": float(np.mean(np.sqrt(mse))),', '"rmse": float(np.mean(mse)),',
           ("tests/evaluation/test_report.py::test_regression_matches_sklearn",),
           "RMSE as scikit-learn computes it"),
    # ------------------------------------------------------------------------------------------- gates
    Mutant("gate-ge-is-gt", "gates", "nnrun/evaluation/gates.py",
           '">=": operator.ge,', '">=": operator.gt,',
           ("tests/evaluation/test_gates.py::test_every_operator_evaluates",),
           "a gate >= passes at equality"),
    Mutant("gate-missing-metric-passes", "gates", "nnrun/evaluation/gates.py",
           '"passed": value is not None and gate.check(value),', '"passed": value is None or gate.check(value),',
           ("tests/evaluation/test_gates.py::test_missing_metric_fails",),
           "a missing or NaN metric fails its gate"),
    Mutant("gate-failure-exits-0", "gates", "nnrun/errors.py",
           "    exit_code = ExitStatus.GATE\n", "    exit_code = ExitStatus.OK\n",
           (T_CONTROL + "::test_gates_pass_fail_and_unknown_names",),
           "a failed gate exits 3"),
    # --------------------------------------------------------------------------------------- inference
    Mutant("predict-threshold-ignored", "inference", "nnrun/inference/predictor.py",
           "(probs[:, 1] >= threshold)", "(probs[:, 1] >= 0.5)",
           ("tests/inference/test_threshold.py",),
           "--threshold P decides binary predictions"),
    Mutant("predict-threshold-strict", "inference", "nnrun/inference/predictor.py",
           "(probs[:, 1] >= threshold)", "(probs[:, 1] > threshold)",
           ("tests/inference/test_threshold.py::test_a_probability_equal_to_the_threshold_gives_the_second_class",),
           "the second class when its probability is >= P"),
    Mutant("predict-csv-4-decimals", "inference", "nnrun/inference/writers.py",
           "q = np.rint(p * 1e6).astype(np.int64)", "q = np.rint(p * 1e4).astype(np.int64) * 100",
           ("tests/inference/test_threshold.py::test_threshold_moves_the_decision_between_two_rows",),
           "CSV probabilities have 6 decimals (4 significant, padded, here)"),
    # ----------------------------------------------------------------------------------- run directory
    Mutant("atomic-write-by-copy", "rundir", "nnrun/rundir.py",
           "            os.replace(self.tmp, self.path)\n",
           "            __import__('shutil').copyfile(self.tmp, self.path)\n",
           (T_RELIABILITY + "::test_a_finished_run_holds_exactly_its_artifacts_and_no_temporary_file",),
           "run files are written atomically, no temporary file left (issue 21)"),
    Mutant("run-directory-reused", "rundir", "nnrun/rundir.py",
           "            candidate.mkdir()\n", "            candidate.mkdir(exist_ok=True)\n",
           (T_RELIABILITY + "::test_create_is_race_free",),
           "never overwrite a run: runs/<name>-2, …"),
    Mutant("killed-run-never-died", "rundir", "nnrun/rundir.py",
           "        except ProcessLookupError:\n            return \"died\"\n",
           "        except ProcessLookupError:\n            return recorded\n",
           (T_RELIABILITY + "::test_kill_9_during_the_model_save_never_leaves_a_half_model",),
           "a killed run's status is died"),
    Mutant("run-lock-not-taken", "rundir", "nnrun/rundir.py",
           "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)", "pass",
           ("tests/cli/test_nothing_lost.py::test_run_lock_is_exclusive_and_released",),
           "one writer per run directory"),
)


class SnippetMismatch(Exception):
    """A mutant's original snippet is not in its file exactly once."""


def mutate(text: str, m: Mutant) -> str:
    """``text`` with ``m.original`` replaced by ``m.replacement``; the snippet must occur exactly once."""
    count = text.count(m.original)
    if count != 1:
        raise SnippetMismatch(f"{m.name}: {m.file}: the snippet occurs {count} times (expected once); update "
                              f"tools/mutants.py to follow the code:\n{m.original}")
    return text.replace(m.original, m.replacement)


def copy_repo(dest: Path) -> Path:
    """A copy of the repository's tracked and new files (not .git, venvs, runs or caches)."""
    ignore = shutil.ignore_patterns(".git", ".venv", "venv", "runs", "__pycache__", "*.egg-info", ".pytest_cache",
                                    ".ruff_cache", "build")
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    return dest


def run_tests(copy: Path, tests: tuple[str, ...]) -> tuple[bool, str, float]:
    """Run ``pytest -x -q`` on ``tests`` in ``copy``: (passed, the first failing test and its first ``E`` line,
    seconds)."""
    env = {**os.environ, "PYTHONPATH": str(copy), "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-W", "ignore", *tests]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return False, f"timeout after {TIMEOUT} s", time.monotonic() - start
    seconds = time.monotonic() - start
    if proc.returncode == 0:
        return True, "", seconds
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, flags=re.M)
    note = failed[0] if failed else f"pytest exit {proc.returncode}: {proc.stdout.strip().splitlines()[-1:]}"
    why = re.search(r"^E +(\S.*)$", proc.stdout, flags=re.M)  # the first assertion line: what the test saw
    return False, note + (f" — {why.group(1)[:110]}" if why else ""), seconds


def check_snippets(mutants: tuple[Mutant, ...]) -> None:
    """Every snippet must match its file exactly once, before anything runs."""
    for m in mutants:
        mutate((ROOT / m.file).read_text(encoding="utf-8"), m)


def run_mutant(copy: Path, m: Mutant) -> dict:
    """Apply ``m`` to the copy, run its tests, put the file back. The result row."""
    path = copy / m.file
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(mutate(original, m), encoding="utf-8")
        passed, note, seconds = run_tests(copy, m.tests)
    finally:
        path.write_text(original, encoding="utf-8")
    return {"mutant": m, "killed": not passed, "by": note, "seconds": seconds}


def write_doc(rows: list[dict], baseline: bool) -> None:
    """docs/mutants.md: the kill table."""
    killed = sum(r["killed"] for r in rows)
    lines = [
        "# Mutation testing: the kill table",
        "",
        "Written by `make mutants` (`tools/mutants.py`): each mutant breaks one of README's promises on purpose in a",
        "copy of the repository, and the named tests run on it (`pytest -x -q`). *Killed* means a test failed,",
        "and the table names the first one. Every mutant must be killed; a new feature adds mutants for its own",
        "promises (see the list at the top of tools/mutants.py). Not part of `make test`.",
        "",
        f"Result: **{killed} of {len(rows)} killed**"
        + (" (each test selection passed on the unmutated code first)." if baseline else "."),
        f"Total test time {sum(r['seconds'] for r in rows) / 60:.1f} min on this machine (2 shared cores).",
        "",
        "| # | area | mutant | promise broken | file | killed | by | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows, 1):
        m = r["mutant"]
        test, _, why = r["by"].partition(" — ")
        why = why.replace("|", "\\|").replace("`", "'")
        by = (f"`{test}`" + (f" ({why})" if why else "")) if r["killed"] else "**survived**"
        lines.append(f"| {i} | {m.area} | `{m.name}` | {m.promise} | `{m.file}` | "
                     f"{'yes' if r['killed'] else '**no**'} | {by} | {r['seconds']:.0f} |")
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these mutants only (no docs file)")
    parser.add_argument("--baseline", action="store_true", help="check each test selection passes unmutated first")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    names = [m.name for m in MUTANTS]
    assert len(set(names)) == len(names), "mutant names must be unique"
    if args.list:
        for m in MUTANTS:
            print(f"{m.area:14} {m.name:40} {m.file}")
        return 0
    chosen = MUTANTS
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            print(f"error: unknown mutant(s): {', '.join(unknown)}", file=sys.stderr)
            return 2
        chosen = tuple(m for m in MUTANTS if m.name in args.only)
    try:
        check_snippets(chosen)
    except SnippetMismatch as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="nnrun-mutants-") as tmp:
        copy = copy_repo(Path(tmp) / "repo")
        if args.baseline:
            for tests in dict.fromkeys(m.tests for m in chosen):
                passed, note, seconds = run_tests(copy, tests)
                print(f"baseline {'ok  ' if passed else 'FAIL'} {seconds:5.0f} s  {' '.join(tests)} {note}", flush=True)
                if not passed:
                    print("error: a test selection fails without any mutant; fix it first", file=sys.stderr)
                    return 1
        for i, m in enumerate(chosen, 1):
            row = run_mutant(copy, m)
            rows.append(row)
            state = "killed  " if row["killed"] else "SURVIVED"
            print(f"[{i}/{len(chosen)}] {state} {m.name:40} {row['seconds']:5.0f} s  {row['by']}", flush=True)
    if not args.only:
        write_doc(rows, args.baseline)
        print(f"wrote {DOC.relative_to(ROOT)}")
    survivors = [r["mutant"].name for r in rows if not r["killed"]]
    print(f"{len(rows) - len(survivors)} of {len(rows)} mutants killed" +
          (f"; survived: {', '.join(survivors)}" if survivors else ""))
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
