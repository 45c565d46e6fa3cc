"""``garrison train onnx``: train an XGBoost scorer model on the journal and export it to ONNX.

The journal side (which signals, which outcomes) is the host's
(:mod:`garrison.train`); training and export are garrison-onnx's, loaded only
here and only with its ``[train]`` extra installed.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import click

from garrison.journal.errors import JournalError
from garrison.profile.dates import iso_to_ms
from garrison.train import TrainDataError, labelled_set

_INSTALL = "pip install 'garrison-onnx[train]'  (or: uv pip install 'garrison-onnx[train]')"


def _check_date(_ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        return iso_to_ms(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None


def _training_module() -> ModuleType:
    """garrison-onnx's training module, or exit saying exactly what to install."""
    if importlib.util.find_spec("garrison_onnx") is None:
        raise click.ClickException(f"garrison train onnx needs garrison-onnx; install: {_INSTALL}")
    training = importlib.import_module("garrison_onnx.training")
    missing = training.missing_packages()
    if missing:
        raise click.ClickException(
            f"garrison train onnx needs the garrison-onnx[train] extra ({', '.join(missing)} "
            f"not installed); install it with: {_INSTALL}"
        )
    return training


@click.group("train")
def train() -> None:
    """Train scorer models on the journal's signals and outcomes."""


@train.command("onnx")
@click.option(
    "--journal",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The journal whose signals and outcomes (traded and phantom) to learn from.",
)
@click.option("--strategy", required=True, help="The strategy's use name in the profile.")
@click.option(
    "--from",
    "start",
    required=True,
    callback=_check_date,
    metavar="DATE",
    help="First signal time (UTC).",
)
@click.option(
    "--to", "end", required=True, callback=_check_date, metavar="DATE", help="Signals before this."
)
@click.option("--run", "run_id", help="The run to learn from (default: the latest with outcomes).")
@click.option("--features", help="Comma-separated feature names, in model order (default: all).")
@click.option(
    "--holdout",
    type=float,
    default=0.2,
    show_default=True,
    help="Share of the latest signals held out (time ordered, never shuffled).",
)
@click.option(
    "--tolerance",
    type=float,
    default=1e-6,
    show_default=True,
    help="Largest |onnxruntime - xgboost| allowed on the held-out set; above it nothing "
    "is written.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the .onnx model (default: models/<strategy>.onnx); the card goes "
    "beside it.",
)
def onnx(
    journal: Path,
    strategy: str,
    start: int,
    end: int,
    run_id: str | None,
    features: str | None,
    holdout: float,
    tolerance: float,
    out: Path | None,
) -> None:
    """Train an XGBoost classifier of wins on STRATEGY's signals and export it to ONNX.

    The labelled set is every entry signal of the strategy between --from and
    --to whose outcome the journal holds, traded or phantom (a win: R > 0),
    in time order; the latest --holdout share is held out. The model file
    carries its feature names and order; a model card (data range, metrics,
    feature list, hash) is written beside it.
    """
    training = _training_module()
    names = [n.strip() for n in features.split(",") if n.strip()] if features else None
    try:
        data = labelled_set(journal, strategy, start, end, run_id=run_id, features=names)
    except (TrainDataError, JournalError) as exc:
        raise click.ClickException(str(exc)) from None
    labelled = training.LabelledSet(names=data.names, x=data.x, y=data.y, ts=data.ts)
    settings = training.TrainSettings(holdout=holdout, tolerance=tolerance)
    try:
        trained = training.train(
            labelled,
            settings,
            strategy=strategy,
            data_range=(start, end),
            source=f"{journal} run {data.run_id}",
        )
    except training.TrainingError as exc:
        raise click.ClickException(str(exc)) from None
    target = out or Path("models") / f"{strategy}.onnx"
    card_path = training.write(trained, target)
    card = trained.card
    held = card["metrics"]["holdout"]
    click.echo(
        f"run {data.run_id}: {len(data.y)} labelled signals of {strategy} "
        f"({data.skipped} lacking a feature skipped); features: {', '.join(data.names)}"
    )
    click.echo(
        f"train {card['data']['train_rows']} / held out {card['data']['holdout_rows']} "
        f"(from {card['data']['holdout_from_ms']})"
    )
    click.echo(
        f"held out: base rate {held['base_rate']:.3f}, accuracy {held['accuracy']:.3f}, "
        f"Brier {held['brier']:.4f}, log loss {held['log_loss']:.4f}, AUC {held['roc_auc']:.3f}"
    )
    click.echo(f"max |onnxruntime - xgboost| on the held-out set: {trained.max_diff:.3g}")
    click.echo(f"model {target} (version {card['version']}, sha256 {card['sha256']})")
    click.echo(f"card {card_path}")
