"""The Optuna study of ``nnrun tune``: its SQLite store in the search's directory, the sampler and pruner the
``search:`` section names (seeded with the config's seed), the space as Optuna distributions, trial 0 as the
config as written, and the repair of trials cut by a kill before ``--resume`` continues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nnrun import rundir
from nnrun.config.load import LoadedConfig, dump_resolved
from nnrun.config.search import Search
from nnrun.errors import ConfigError

STUDY_DB = rundir.STUDY_DB  # the name: rundir's
#: A trial's user attribute marking it killed or interrupted mid-way: not counted, its values run again.
CUT = "interrupted"


def open_study(loaded: LoadedConfig, search: Search, tune_dir: Path) -> Any:
    """Create or load the Optuna study in ``tune_dir/study.db``; a loaded one must have the same config.

    Raises:
        ConfigError: resuming with a config that differs from the one the search started with.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = storage_url(tune_dir)
    study = optuna.create_study(study_name=loaded.config.name, storage=storage, direction=search.direction,
                                sampler=sampler_for(loaded, search), pruner=pruner_for(loaded, search),
                                load_if_exists=True)
    fixed = dump_resolved(loaded.config.model_copy(update={"search": None}))
    started = study.user_attrs.get("config")
    if started is None:
        study.set_user_attr("config", fixed)
        study.set_user_attr("search", [p.__dict__ for p in search.params])
        baseline = config_values(loaded, search)
        if baseline is not None and search.sampler != "grid":  # a grid visits every value anyway
            study.enqueue_trial(baseline, user_attrs={"baseline": True})
    elif started != fixed or study.user_attrs.get("search") != [p.__dict__ for p in search.params]:
        raise ConfigError(f"{loaded.source.name}: differs from the config the search in {tune_dir} started with; "
                          "resume with the same config and --set values (only --trials and --timeout may change)")
    return study


def storage_url(tune_dir: Path) -> str:
    """The SQLite URL of the search's study.db."""
    return f"sqlite:///{Path(tune_dir).resolve() / STUDY_DB}"


def config_values(loaded: LoadedConfig, search: Search) -> dict[str, Any] | None:
    """The config's own values of the space's keys, when every one lies in its range or choices (trial 0 then
    trains the config as written, so the best trial is at least as good as it); else None."""
    data: Any = loaded.config.model_dump(mode="json")
    values = {}
    for p in search.params:
        node = data
        for part in p.key.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        inside = node in p.values if p.kind == "choice" else (
            isinstance(node, (int, float)) and not isinstance(node, bool) and p.values[0] <= node <= p.values[1])
        if not inside or (p.kind == "int" and node != int(node)):
            return None
        values[p.key] = int(node) if p.kind == "int" else node
    return values


def sampler_for(loaded: LoadedConfig, search: Search) -> Any:
    """Optuna's sampler, seeded with the config's seed."""
    import optuna

    seed = loaded.config.seed
    if search.sampler == "grid":
        return optuna.samplers.GridSampler({p.key: p.grid() for p in search.params}, seed=seed)
    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def pruner_for(loaded: LoadedConfig, search: Search) -> Any:
    """Optuna's MedianPruner (after 5 trials, from a fifth of the epochs on), or none."""
    import optuna

    if search.pruner == "none":
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(1, loaded.config.training.epochs // 5))


def distributions(search: Search) -> dict[str, Any]:
    """The Optuna distribution of each space entry, by key path."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for p in search.params:
        if p.kind == "int":
            out[p.key] = IntDistribution(p.values[0], p.values[1], log=p.log)
        elif p.kind == "float":
            out[p.key] = FloatDistribution(p.values[0], p.values[1], log=p.log)
        else:
            out[p.key] = CategoricalDistribution(p.values)
    return out


def retry_cut_trials(study: Any, tune_dir: Path) -> None:
    """After a kill: every trial still RUNNING is marked failed (``interrupted``) and its values enqueued, so
    the search draws them again; a trial interrupted by Ctrl-C (already failed) is enqueued too."""
    import optuna
    from optuna.trial import TrialState

    storage = optuna.storages.RDBStorage(storage_url(tune_dir))  # the study's own storage is a private name
    study_id = storage.get_study_id_from_name(study.study_name)
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    for trial in trials:
        if trial.state == TrialState.RUNNING:
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            storage.set_trial_user_attr(trial_id, CUT, True)
            storage.set_trial_user_attr(trial_id, "error", "killed while running; its values are drawn again")
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
        elif not (trial.state == TrialState.FAIL and trial.user_attrs.get(CUT)):
            continue
        if trial.number not in retried:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def counted(study: Any) -> int:
    """Trials that count towards --trials: finished (complete, pruned, failed) or running, less those cut."""
    return sum(1 for t in study.get_trials(deepcopy=False) if not t.user_attrs.get(CUT) and t.state.name != "WAITING")
