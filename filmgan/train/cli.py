"""``filmgan train ...``: click glue over the trainers. torch is imported only when a command runs."""

from __future__ import annotations

import json
from pathlib import Path

import click


project_splits_option = click.option(
    "--project-splits", type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A photos/ folder laid out as ../shared/data/photos: hold out and validate on the project's fixed splits (filmgan.train.splits).")
SPLIT_NOTE = "held out bsds500_test and positions 10, 20, ... of each new set; validation positions 5, 15, ..."


def split_lists(exclude, val, project_splits) -> tuple[list[str], list[str], str | None]:
    """(excluded, validation, split note): the given --exclude/--val plus the project's fixed splits."""
    excluded, validation, split = [str(e) for e in exclude], [str(v) for v in val], None
    if project_splits:
        from . import splits

        excluded += [str(p) for p in splits.excluded_from_training(project_splits)]
        validation += [str(p) for p in splits.validation(project_splits)]
        split = f"filmgan.train.splits of {project_splits}: {SPLIT_NOTE}"
    return excluded, validation, split


@click.group()
def train():
    """Train the project's GAN generators (needs the 'train' extra: torch, scikit-image)."""


def _log_printer(quiet: bool):
    from rich.console import Console

    console = Console(stderr=True, highlight=False)

    def log(event: dict) -> None:
        if quiet:
            return
        shown = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in event.items() if k != "event"}
        console.print(f"[bold]{event['event']}[/] " + " ".join(f"{k}={v}" for k, v in shown.items()))

    return log


def trainer_options(fn):
    for option in reversed(
        [
            click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Run directory (logs, samples, checkpoints, model)."),
            click.option("--steps", type=click.IntRange(1), default=4000, show_default=True),
            click.option("--batch", type=click.IntRange(1), default=16, show_default=True),
            click.option("--crop", type=click.IntRange(32), default=128, show_default=True),
            click.option("--lr", type=float, default=2e-4, show_default=True),
            click.option("--gan-loss", type=click.Choice(["hinge", "lsgan", "vanilla", "wgan-gp"]), default="hinge", show_default=True),
            click.option("--precision", type=click.Choice(["auto", "bf16", "fp16", "fp32"]), default="auto", show_default=True),
            click.option("--device", default="auto", show_default=True),
            click.option("--seed", type=int, default=0, show_default=True),
            click.option("--val-every", type=click.IntRange(1), default=250, show_default=True),
            click.option("--ckpt-every", type=click.IntRange(1), default=50, show_default=True),
            click.option("--time-limit", type=click.FloatRange(0.0), default=0.0, help="Stop after this many seconds of training (validated and checkpointed; --resume continues). 0: no limit."),
            click.option("--resume", is_flag=True, help="Continue from RUN/last exactly (weights, optimizers, schedules, RNG)."),
            click.option("--quiet", "-q", is_flag=True),
            click.option("--json", "as_json", is_flag=True, help="Errors too as a JSON line on stdout (the result always is one)."),
        ]
    ):
        fn = option(fn)
    return fn


def _run(task, options: dict) -> dict:
    from ..errors import ConfigError
    from .loop import Trainer, TrainConfig

    cfg = TrainConfig(
        out=options["out"], steps=options["steps"], batch=options["batch"], crop=options["crop"], lr_g=options["lr"], lr_d=options["lr"],
        gan_mode=options["gan_loss"], seed=options["seed"], precision=options["precision"], val_every=options["val_every"],
        ckpt_every=options["ckpt_every"], device=options["device"], time_limit=options["time_limit"],
    )
    trainer = Trainer(task, cfg, log=_log_printer(options["quiet"]))
    resumed = trainer.resume() if options["resume"] else False
    if not options["resume"] and (Path(cfg.out) / "last").exists():
        raise ConfigError(f"{cfg.out} already holds a run; pass --resume to continue it or choose another --out")
    _log_printer(options["quiet"])({"event": "start", "resumed": resumed, "step": trainer.step, "device": str(trainer.device)})
    return trainer.run()


def int_list(text: str) -> tuple[int, ...]:
    """'16,32,64' -> (16, 32, 64); () when any item is not an integer (the caller names the option)."""
    try:
        return tuple(int(c) for c in text.split(","))
    except ValueError:
        return ()


def parse_widths(text: str, count: int | None) -> tuple[int, ...]:
    """'16,32,64' -> (16, 32, 64); ``count`` channels exactly (or at least two when None)."""
    from ..errors import ConfigError

    channels = int_list(text)
    if (len(channels) != count if count else len(channels) < 2) or min(channels, default=0) < 1:
        example = "16,32,64" if count == 3 else "16,32,64,128,256"
        raise ConfigError(f"--widths needs {count or 'two or more'} positive integers like {example}, got '{text}'")
    return channels


@train.command("colorize")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True, path_type=Path), help="Image folders/files or videos (repeatable).")
@click.option("--val", "val", multiple=True, type=click.Path(exists=True, path_type=Path), help="Validation images (fixed; excluded from training).")
@click.option("--exclude", multiple=True, type=click.Path(path_type=Path), help="Folders to keep out of training (held-out test split).")
@click.option("--internal-size", type=click.IntRange(32), default=256, show_default=True)
@click.option("--load-size", type=click.IntRange(32), default=288, show_default=True, help="Short side the photos are held at in memory.")
@click.option("--widths", default="24,48,96,192,256", show_default=True, help="U-Net channels per level (the depth is their count minus one).")
@click.option("--global-context", is_flag=True, help="Global scene features at the bottleneck (Iizuka et al. 2016).")
@click.option("--l1-weight", type=float, default=10.0, show_default=True)
@click.option("--adv-weight", type=float, default=1.0, show_default=True)
@click.option("--perceptual-weight", type=float, default=0.0, show_default=True)
@click.option("--colour-weight", type=click.FloatRange(0.0), default=0.0, show_default=True, help="Weight of the colourfulness-matching loss |M(output) - M(truth)|/100 (Hasler & Suesstrunk's M).")
@click.option("--vgg-weights", type=click.Path(exists=True, path_type=Path), help="torchvision VGG16 weights for the perceptual loss (default: the seeded random feature net).")
@click.option("--arch", type=click.Choice(["unet", "mobilenet-unet"]), default="unet", show_default=True, help="unet: the small Lab U-Net; mobilenet-unet: the semantic colorizer (ImageNet MobileNetV2 encoder, ab-bin classification).")
@click.option("--encoder-weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="mobilenet-unet: pretrained MobileNetV2 (.tflite, or a torchvision state dict); also the perceptual loss's feature net.")
@click.option("--ce-weight", type=click.FloatRange(0.0), default=1.0, show_default=True, help="mobilenet-unet: weight of the class-rebalanced ab-bin cross-entropy.")
@click.option("--rebalance", type=click.FloatRange(0.0, 1.0), default=0.5, show_default=True, help="mobilenet-unet: lambda of the class rebalancing (1: no rebalancing).")
@click.option("--temperature", type=click.FloatRange(0.01, 1.0), default=0.38, show_default=True, help="mobilenet-unet: annealed-mean temperature.")
@click.option("--guided", is_flag=True, help="mobilenet-unet: train the guidance inputs too (a reference palette, local hints; filmgan.train.colorize_guided).")
@click.option("--init", "init", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="--guided: start from this mobilenet-unet model (.safetensors): an automatic one (its guidance layers start at zero) or a guided one.")
@click.option("--guidance-lr-factor", type=click.FloatRange(0.0, min_open=True), default=1.0, show_default=True, help="--guided: the guidance layers' learning rate as a multiple of --lr.")
@project_splits_option
@trainer_options
def train_colorize(data, val, exclude, internal_size, load_size, widths, global_context, l1_weight, adv_weight, perceptual_weight, colour_weight, vgg_weights,
                   arch, encoder_weights, ce_weight, rebalance, temperature, guided, init, guidance_lr_factor, project_splits, **options):
    """Train a Lab colorizer (L1 + adversarial, PatchGAN with spectral norm; + ab-bin cross-entropy for mobilenet-unet)."""
    from ..cli.common import handle_errors
    from ..errors import ConfigError
    from .colorize import build_colorize_task

    @handle_errors
    def go(as_json=False):
        features = {"kind": "vgg16", "path": str(vgg_weights)} if vgg_weights else None
        if encoder_weights and not vgg_weights:
            features = {"kind": "mobilenet-v2", "path": str(encoder_weights)}
        excluded, validation, split = split_lists(exclude, val, project_splits)
        options_by_arch = {"widths": parse_widths(widths, None), "global_context": global_context}
        if arch == "mobilenet-unet":
            if not encoder_weights:
                raise ConfigError("--arch mobilenet-unet needs --encoder-weights (e.g. ../shared/data/weights/mobilenet_v2_1.0_224_quant.tflite)")
            from .colorize_semantic import SemanticColorizeTask

            options_by_arch = {"task_class": SemanticColorizeTask, "encoder_weights": str(encoder_weights), "ce_weight": ce_weight, "rebalance": rebalance, "temperature": temperature}
            if guided:
                from .colorize_guided import GuidedColorizeTask

                options_by_arch.update(task_class=GuidedColorizeTask, init=str(init) if init else "", guidance_lr_factor=guidance_lr_factor)
        if (guided or init) and arch != "mobilenet-unet":
            raise ConfigError("--guided and --init are for --arch mobilenet-unet")
        if init and not guided:
            raise ConfigError("--init starts a --guided network from an automatic one; to continue a run use --resume")
        task = build_colorize_task(
            [str(d) for d in data], validation, excluded, internal_size=internal_size, load_size=load_size, split=split,
            l1_weight=l1_weight, adv_weight=adv_weight, perceptual_weight=perceptual_weight, colour_weight=colour_weight, gan_mode=options["gan_loss"], features=features,
            **options_by_arch,
        )
        metrics = _run(task, options)
        click.echo(json.dumps({"ok": True, "out": str(options["out"]), "metrics": metrics}))

    go()


@train.command("stylize", context_settings={"default_map": {"batch": 4, "crop": 192, "steps": 1000, "val_every": 100}})
@click.option("--style", "style", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The painting (image file).")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True, path_type=Path), help="Content photo folders/files or videos (repeatable).")
@click.option("--val", "val", multiple=True, type=click.Path(exists=True, path_type=Path), help="Validation photos (fixed; excluded from training).")
@click.option("--exclude", multiple=True, type=click.Path(path_type=Path), help="Folders to keep out of training (held-out test split).")
@project_splits_option
@click.option("--recipe", type=click.Choice(["paint", "gram"]), default="paint", show_default=True,
              help="paint: palette step + MobileNetV2 texture loss (needs --feature-weights); gram: the v1 recipe (Gram loss on raw features).")
@click.option("--feature-weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="ImageNet MobileNetV2 weights (.tflite or torchvision) for the paint recipe's losses.")
@click.option("--internal-size", type=click.IntRange(32), default=360, show_default=True, help="Default render short side recorded in the card.")
@click.option("--load-size", type=click.IntRange(32), default=360, show_default=True, help="Short side the content photos are loaded at.")
@click.option("--widths", default="16,32,64", show_default=True, help="Generator channels: stem, half, quarter resolution.")
@click.option("--blocks", type=click.IntRange(1), default=5, show_default=True, help="Residual blocks.")
@click.option("--stem-kernel", type=click.IntRange(1), default=5, show_default=True)
@click.option("--separable", is_flag=True, help="Depthwise-separable residual blocks.")
@click.option("--content-weight", type=float, default=1.0, show_default=True)
@click.option("--style-layers", default="0,1,2,3", show_default=True, help="Feature-network layers of the style (texture) loss.")
@click.option("--style-weight", type=float, default=5.0, show_default=True, help="gram recipe: weight of the Gram loss.")
@click.option("--texture-weight", type=float, default=1.0, show_default=True, help="paint recipe: weight of the texture loss.")
@click.option("--texture-transform", type=click.Choice(["none", "softmax"]), default="none", show_default=True, help="paint recipe: feature smoothing before the texture statistics.")
@click.option("--texture-loss", type=click.Choice(["gram", "swd"]), default="gram", show_default=True, help="paint recipe: Gram matrices or sliced Wasserstein distance.")
@click.option("--keep-colour-weight", type=float, default=1.0, show_default=True, help="paint recipe: keep the input's low-frequency colours.")
@click.option("--edge-weight", type=float, default=1.0, show_default=True, help="paint recipe: keep the luminance edges.")
@click.option("--tv-weight", type=float, default=0.0, show_default=True)
@click.option("--adv-weight", type=float, help="Adversarial weight (default: 0.3 paint, 0.05 gram).")
@click.option("--d-scales", type=click.IntRange(1), default=2, show_default=True, help="PatchGAN scales.")
@click.option("--vgg-weights", type=click.Path(exists=True, path_type=Path), help="gram recipe: torchvision VGG16 weights (default: the seeded random feature net).")
@click.option("--painter", help="Credit recorded in the card.")
@click.option("--title", help="Credit recorded in the card.")
@click.option("--year", help="Credit recorded in the card.")
@click.option("--threads", type=click.IntRange(0), default=0, help="CPU threads (0: torch default; 1 is fastest on a busy 2-core machine).")
@trainer_options
def train_stylize(style, data, val, exclude, project_splits, recipe, feature_weights, internal_size, load_size, widths, blocks, stem_kernel, separable, content_weight,
                  style_layers, style_weight, texture_weight, texture_transform, texture_loss, keep_colour_weight, edge_weight, tv_weight, adv_weight, d_scales,
                  vgg_weights, painter, title, year, threads, **options):
    """Train a feed-forward style generator after one painting (multi-scale PatchGAN + feature losses; see
    filmgan.train.paint for the default recipe)."""
    from ..cli.common import handle_errors
    from ..errors import ConfigError
    from .stylize import build_style_task

    @handle_errors
    def go(as_json=False):
        channels = parse_widths(widths, 3)
        layers = tuple(sorted(set(int_list(style_layers))))
        if not layers or min(layers) < 0 or max(layers) > 3:
            raise ConfigError(f"--style-layers needs layer indices 0-3 like 1,2,3, got '{style_layers}'")
        if threads:
            import torch

            torch.set_num_threads(threads)
        excluded, validation, _ = split_lists(exclude, val, project_splits)
        credits = {k: v for k, v in (("painter", painter), ("title", title), ("year", year)) if v}
        common = dict(internal_size=internal_size, load_size=load_size, credits=credits, widths=channels, blocks=blocks, stem_kernel=stem_kernel,
                      separable=separable, content_weight=content_weight, tv_weight=tv_weight, gan_mode=options["gan_loss"], d_scales=d_scales)
        if recipe == "paint":
            if not feature_weights:
                raise ConfigError("--recipe paint needs --feature-weights (e.g. ../shared/data/weights/mobilenet_v2_1.0_224_quant.tflite)")
            from .paint import PaintTask

            recipe_options = dict(task_class=PaintTask, features={"kind": "mobilenet-v2", "path": str(feature_weights)}, texture_weight=texture_weight,
                                  texture_transform=texture_transform, texture_loss=texture_loss, keep_colour_weight=keep_colour_weight, edge_weight=edge_weight,
                                  texture_layers=layers, adv_weight=0.3 if adv_weight is None else adv_weight)
        else:
            recipe_options = dict(features={"kind": "vgg16", "path": str(vgg_weights)} if vgg_weights else None, style_weight=style_weight,
                                  style_layers=layers, adv_weight=0.05 if adv_weight is None else adv_weight)
        task = build_style_task(style, [str(d) for d in data], validation, excluded, **common, **recipe_options)
        metrics = _run(task, options)
        click.echo(json.dumps({"ok": True, "out": str(options["out"]), "metrics": metrics}))

    go()


@train.command("temporal", context_settings={"default_map": {"steps": 1000, "batch": 8, "lr": 5e-5, "val_every": 100}})
@click.option("--init", "init", required=True, type=click.Path(exists=True, path_type=Path), help="The model to fine-tune: a .safetensors model file (G; D starts fresh) or a training run directory (G and D of RUN/last).")
@click.option("--task", type=click.Choice(["colorize", "style"]), help="Expected task of --init (default: whatever its card says).")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True, path_type=Path), help="Photo folders/files for the base losses and the synthetic-motion pairs (repeatable).")
@click.option("--videos", multiple=True, type=click.Path(exists=True, path_type=Path), help="Real clips (files or folders) for consecutive-frame pairs with DIS flow (repeatable).")
@click.option("--val", "val", multiple=True, type=click.Path(exists=True, path_type=Path), help="Validation photos (fixed; excluded from training).")
@click.option("--exclude", multiple=True, type=click.Path(path_type=Path), help="Folders to keep out of training (held-out test split).")
@click.option("--style", "style", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The painting of a style model (checked against its card).")
@click.option("--temporal-weight", type=click.FloatRange(0.0), default=10.0, show_default=True, help="Weight of the L1 warp loss.")
@click.option("--real-fraction", type=click.FloatRange(0.0, 1.0), default=0.25, show_default=True, help="Share of each pair batch taken from --videos.")
@click.option("--pair-batch", type=click.IntRange(1), help="Frame pairs per step (default: --batch).")
@click.option("--clip-size", type=click.IntRange(32), default=256, show_default=True, help="Short side the clip frames are held at.")
@click.option("--pairs-per-clip", type=click.IntRange(1), default=48, show_default=True)
@click.option("--max-shift", type=click.FloatRange(0.0, 0.5), default=0.04, show_default=True, help="Synthetic camera translation, fraction of the crop.")
@click.option("--object-shift", type=click.FloatRange(0.0, 0.5), default=0.08, show_default=True, help="Synthetic object translation, fraction of the crop.")
@click.option("--load-size", type=click.IntRange(32), help="Short side the photos are loaded at (default: the task's).")
@click.option("--adv-weight", type=click.FloatRange(0.0), help="Adversarial weight of the base losses (default: the --init model's, from its card).")
@click.option("--colour-weight", type=click.FloatRange(0.0), help="Colourfulness-matching weight of a colorize model's losses (default: the --init model's, from its card).")
@click.option("--texture-weight", type=click.FloatRange(0.0), help="Texture (stroke) weight of a paint-recipe style model's losses (default: the --init model's, from its card); raise it when the warp loss smooths strokes away.")
@click.option("--edge-weight", type=click.FloatRange(0.0), help="Luminance-edge weight of a paint-recipe style model's losses (default: the --init model's, from its card).")
@click.option("--feature-weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="The MobileNetV2 weights a paint-recipe style model was trained with (its card names the file); for a colorize model, the perceptual loss's feature network.")
@click.option("--perceptual-weight", type=click.FloatRange(0.0), help="Perceptual-loss weight of a colorize model's losses, on the --feature-weights MobileNetV2 (default: the --init model's, from its card).")
@click.option("--threads", type=click.IntRange(0), default=0, help="CPU threads (0: torch default).")
@project_splits_option
@trainer_options
def train_temporal(init, task, data, videos, val, exclude, project_splits, style, temporal_weight, real_fraction, pair_batch, clip_size, pairs_per_clip, max_shift, object_shift, load_size, adv_weight, colour_weight,
                   texture_weight, edge_weight, feature_weights, perceptual_weight, threads, **options):
    """Fine-tune a colorize or style model with the temporal warp loss.

    \b
    Adds weight * |M (G(x_t) - W(G(x_t-1)))|_1 to the model's own losses (read back from its card), on
    pairs from synthetic motion on the --data photos and from consecutive frames of --videos. The result
    is an ordinary model file (RUN/model.safetensors) whose card records the temporal training.
    """
    from ..cli.common import handle_errors
    from ..errors import ConfigError
    from .data import list_media
    from .motion import MotionConfig
    from .temporal import build_temporal_task

    @handle_errors
    def go(as_json=False):
        if threads:
            import torch

            torch.set_num_threads(threads)
        overrides = {}
        if click.get_current_context().get_parameter_source("gan_loss") == click.core.ParameterSource.COMMANDLINE:
            overrides["gan_mode"] = options["gan_loss"]
        weights = {"adv_weight": adv_weight, "colour_weight": colour_weight, "texture_weight": texture_weight, "edge_weight": edge_weight}
        overrides.update({k: v for k, v in weights.items() if v is not None})
        if feature_weights:
            overrides["features"] = {"kind": "mobilenet-v2", "path": str(feature_weights)}
        if perceptual_weight is not None:
            if not feature_weights:
                raise ConfigError("--perceptual-weight needs --feature-weights (e.g. ../shared/data/weights/mobilenet_v2_1.0_224_quant.tflite)")
            overrides["perceptual_weight"] = perceptual_weight
        clips = list_media(videos)[1] if videos else []
        excluded, validation, _ = split_lists(exclude, val, project_splits)
        task_obj = build_temporal_task(
            init, [str(d) for d in data], validation, excluded, [str(c) for c in clips], task=task, style=style,
            weight=temporal_weight, real_fraction=real_fraction, motion=MotionConfig(shift=max_shift, object_shift=object_shift), clip_size=clip_size,
            pairs_per_clip=pairs_per_clip, pair_batch=pair_batch, load_size=load_size, overrides=overrides,
        )
        metrics = _run(task_obj, options)
        click.echo(json.dumps({"ok": True, "out": str(options["out"]), "metrics": metrics}))

    go()


@train.command("average")
@click.argument("snapshots", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The averaged model file (.safetensors; its card is written beside it).")
@click.option("--name", help="Model name for the card (default: the first snapshot's).")
@click.option("--fp16", is_flag=True, help="Store the weights in float16 (half the file size).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out.")
@click.option("--json", "as_json", is_flag=True, help="Errors too as a JSON line on stdout (the result always is one).")
def train_average(snapshots, out, name, fp16, overwrite, as_json):
    """Average the weights of snapshots of one run (SWA) into one model file.

    \b
    Snapshots of a GAN generator oscillate around a common optimum; their uniform average usually
    validates better than any one of them. Only files of the same architecture can be averaged.
    """
    from ..cli.common import handle_errors
    from ..video.atomic import check_destination

    @handle_errors
    def go(as_json=False):
        import torch

        from ..models.checkpoint import save_model
        from .averaging import average_models

        check_destination(out, overwrite=overwrite)
        model, card = average_models(snapshots, name=name)
        card = save_model(out, model, card, dtype=torch.float16 if fp16 else None)
        click.echo(json.dumps({"ok": True, "out": str(out), "name": card.name, "sources": len(snapshots)}))

    go()
