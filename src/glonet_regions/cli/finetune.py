"""``glonet-regions finetune``: fine-tune GLONET on a region (single process or torchrun DDP)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from glonet_regions.cli._choices import RegistryChoice
from glonet_regions.cli._errors import user_errors


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def _pairs(value: str | None, what: str) -> list[tuple[str, str]] | None:
    if value is None:
        return None
    out = []
    for item in _csv(value) or []:
        key, sep, val = item.partition("=" if "=" in item else ":")
        if not sep:
            raise click.BadParameter(f"{what}: expected KEY=VALUE items, got {item!r}")
        out.append((key.strip(), val.strip()))
    return out


def _overrides(opts: dict[str, Any]) -> dict[str, Any]:
    """CLI values (None when not given) in configuration-key form."""
    out: dict[str, Any] = {}
    for key in (
        "store",
        "run_dir",
        "model_size",
        "init",
        "weights_dir",
        "normalisation",
        "stats_pairing",
        "lr",
        "weight_decay",
        "warmup_steps",
        "epochs",
        "max_steps",
        "batch_size",
        "val_calls",
        "max_val_batches",
        "boundary_provider",
        "boundary_width",
        "amp",
        "grad_checkpointing",
        "grad_clip",
        "early_stopping_patience",
        "num_workers",
        "seed",
        "device",
        "log_every",
        "val_every",
        "tensorboard",
        "progress",
        "stop_after_epochs",
    ):
        out[key] = opts[key]
    if opts["store"] is not None:
        out["store"] = str(opts["store"])
    if opts["run_dir"] is not None:
        out["run_dir"] = str(opts["run_dir"])
    if opts["sample"]:
        out["sample"] = True
    if opts["resume"]:
        out["resume"] = True
    if opts["trust_weights"]:
        out["trust_weights"] = True
    groups = _csv(opts["groups"])
    if groups is not None:
        out["groups"] = "all" if groups == ["all"] else groups
    out["freeze"] = _csv(opts["freeze"])
    out["gpu"] = {"exec_mode": opts["exec_mode"]}
    lora = {
        "rank": opts["lora_rank"],
        "alpha": opts["lora_alpha"],
        "targets": _csv(opts["lora_targets"]),
    }
    out["lora"] = lora if any(v is not None for v in lora.values()) else None
    rollout = _pairs(opts["rollout"], "--rollout")
    if rollout is not None:
        try:
            out["rollout"] = [[int(e), int(c)] for e, c in rollout]
        except ValueError:
            raise click.BadParameter("--rollout: expected EPOCH:CALLS,...") from None
    weights = _pairs(opts["variable_weights"], "--variable-weights")
    if weights is not None:
        try:
            out["variable_weights"] = {k: float(v) for k, v in weights}
        except ValueError:
            raise click.BadParameter("--variable-weights: expected VAR=NUMBER,...") from None
    return out


@click.command("finetune")
@click.argument("region", required=False)
@click.option(
    "--sample",
    is_flag=True,
    default=False,
    help="Train on the embedded SYNTHETIC sample (generated and prepared if needed).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="YAML or TOML configuration file (CLI options override it).",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output folder [runs/REGION].",
)
@click.option(
    "--resume",
    is_flag=True,
    default=False,
    help="Continue RUN_DIR/checkpoints/last.pt (with RUN_DIR/config.yaml).",
)
@click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    help="Training store [RUN_DIR/store].",
)
@click.option("--groups", help="Depth groups, comma separated, or 'all' [surface with --sample].")
@click.option(
    "--model-size",
    type=click.Choice(["tiny", "full"]),
    default=None,
    help="Network size [tiny with --sample, else full].",
)
@click.option("--init", help="published | random | checkpoint:PATH [random with --sample].")
@click.option(
    "--weights-dir",
    type=click.Path(file_okay=False, path_type=str),
    help="Folder of the published release (glonet_p*.pt, L*/*.npy) [the asset cache].",
)
@click.option(
    "--trust-weights",
    is_flag=True,
    default=None,
    help="Load TorchScript weights whose sha256 is not pinned (they run code).",
)
@click.option(
    "--normalisation",
    type=click.Choice(["published", "region"]),
    help="GLONET's released statistics or the store's [published with --init published].",
)
@click.option(
    "--stats-pairing",
    type=click.Choice(["published", "depth"]),
    help="Channel/statistics pairing of GLONET's files [published: as its inference].",
)
@click.option("--freeze", help="Submodule name prefixes to freeze, comma separated.")
@click.option("--lora-rank", type=int, help="LoRA rank (0: no adapters).")
@click.option("--lora-alpha", type=float, help="LoRA alpha.")
@click.option("--lora-targets", help="LoRA layer name patterns, comma separated.")
@click.option("--lr", type=float, help="Peak learning rate.")
@click.option("--weight-decay", type=float, help="AdamW weight decay.")
@click.option("--warmup-steps", type=int, help="Linear warm-up steps.")
@click.option("--epochs", type=int, help="Epochs per depth group.")
@click.option("--max-steps", type=int, help="Optimiser steps per group at most.")
@click.option("--batch-size", type=int, help="Samples per step and process.")
@click.option("--rollout", help="Curriculum EPOCH:CALLS,... (a call predicts 2 days).")
@click.option("--val-calls", type=int, help="Model calls of validation rollouts.")
@click.option("--max-val-batches", type=int, help="Validation batches per evaluation at most.")
@click.option("--variable-weights", help="Loss weights VAR=W,...")
@click.option(
    "--boundary-provider",
    type=RegistryChoice("boundary provider"),
    help="A registered boundary provider: strip | relaxation | none | a plugin's [region].",
)
@click.option("--boundary-width", type=int, help="Boundary zone width in cells [region].")
@click.option("--amp/--no-amp", default=None, help="bf16 autocast on CUDA.")
@click.option(
    "--exec-mode",
    type=click.Choice(["auto", "fast", "eager"]),
    help="auto: the optimised path on CUDA, eager on CPU [auto].",
)
@click.option(
    "--grad-checkpointing/--no-grad-checkpointing", default=None, help="Activation checkpointing."
)
@click.option("--grad-clip", type=float, help="Gradient norm clip.")
@click.option("--early-stopping-patience", type=int, help="Validations without improvement.")
@click.option("--num-workers", type=int, help="DataLoader workers.")
@click.option("--seed", type=int, help="Random seed.")
@click.option("--device", help="auto | cpu | cuda | cuda:N.")
@click.option("--log-every", type=int, help="Steps between log rows.")
@click.option("--val-every", type=int, help="Epochs between validations.")
@click.option("--tensorboard/--no-tensorboard", default=None, help="TensorBoard events.")
@click.option("--progress/--no-progress", default=None, help="Progress bars.")
@click.option(
    "--stop-after-epochs",
    type=int,
    help="Stop after N epochs of this invocation (resume later; not saved with the run).",
)
@user_errors
def finetune(region: str | None, config_file: Path | None, **opts: Any) -> None:
    """Fine-tune GLONET on REGION; write checkpoints, logs and metrics.json to RUN_DIR.

    Every option is also a configuration-file key (same name with underscores). Under
    `torchrun --nproc_per_node N` the same command trains with DDP.
    """
    from glonet_regions.engine.config import FinetuneConfig, load_config_file
    from glonet_regions.engine.metrics import format_table
    from glonet_regions.engine.run import run_finetune

    base = FinetuneConfig()
    if config_file is not None:
        base = load_config_file(config_file)
    elif opts["resume"]:
        run_dir = opts["run_dir"] or (Path("runs") / region if region else None)
        saved = Path(run_dir) / "config.yaml" if run_dir is not None else None
        if saved is not None and saved.is_file():
            # --stop-after-epochs applies to one invocation (older runs saved it: drop it).
            base = load_config_file(saved).replace(stop_after_epochs=None)
    overrides = _overrides(opts)
    if region is not None:
        overrides["region"] = region
    cfg = base.merged(overrides)
    result = run_finetune(cfg, log=click.echo)
    import os

    if result.finished and result.metrics and os.environ.get("RANK", "0") == "0":
        # Under torchrun every rank returns the metrics; only rank 0 prints them.
        click.echo("")
        click.echo(format_table(result.metrics, 1))
        click.echo(f"\nmetrics: {result.metrics_path}  ({result.seconds:.0f} s of training)")
