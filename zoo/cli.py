"""The zoo's LightningCLI: ``python train.py fit --config configs/<area>/<recipe>.yaml``.

What it adds to Lightning's CLI:

- **Data-aware arguments.** Model arguments of the shared vocabulary (``DATA_ARGS``) that the
  datamodule knows are filled from it unless the config sets them; a value set on both sides that
  disagrees is an error naming both. Arguments the datamodule can adapt to (``image_size``,
  ``in_channels`` ...) flow the other way when only the model sets them: the data resizes.
- **A training budget that fits the data.** ``fit`` plans its batch size, length, validation cadence and
  early stopping from the training split's size and the recipe's ``budget:`` section (:mod:`zoo.budget`),
  prints the plan, warns when the run is not learning (:mod:`callbacks.health`) and ends with a summary of
  the best checkpoint, its test metrics and where it is (:mod:`callbacks.summary`).
- **Checkpoints by the task's metric.** ``fit`` keeps the best checkpoint (by the model's
  ``monitor``, e.g. ``val/acc``) and the last one, and exports the best as a pretrained directory.
- **Safe loading.** ``--ckpt_path`` files load with ``weights_only=True``; a pickle checkpoint is
  refused with a message naming the explicit opt-in, ``--weights_only false``.
- **Predict from the model alone.** ``predict --ckpt_path <.ckpt | pretrained dir> --data.predict_path
  <inputs>`` needs no config and no training data: the model and its DataModule class come from the
  checkpoint, and the checkpoint's data card (classes, scalers, vocabulary ...) wins over whatever a
  recipe's datamodule would derive from its own training source.
- ``predict`` writes ``predictions.csv`` with class names; ``test`` of a classifier writes its
  confusion matrix; ``fit`` stops at the first non-finite loss; the resolved config is sent to every
  logger (W&B run config) besides ``config.yaml`` in the log directory; the progress bar is
  :class:`~callbacks.ZooProgressBar` (redrawn a few times a second, not after every batch).
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
from jsonargparse import Namespace
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import BasePredictionWriter, Callback, EarlyStopping, ModelCheckpoint, ProgressBar
from lightning.pytorch.cli import LightningCLI, SaveConfigCallback, instantiate_class
from lightning.pytorch.plugins.io import CheckpointIO

from datamodules.base import ZooDataModule
from preprocessing.errors import UserError
from zoo.budget import Budget
from zoo.help import ZooArgumentParser
from zoo.pretrained import load_checkpoint
from zoo.run_identity import run_identity
from zoo.tasks.base import ZooModule

__all__ = [
    "ZooCLI",
    "cli_main",
    "DATA_ARGS",
    "ADAPTABLE_ARGS",
    "adapt_data_to_model",
    "datamodule_of",
    "link_data_args",
    "read_model_source",
]

# The shared vocabulary: model arguments whose value the data determines.
DATA_ARGS = (
    "num_classes",
    "task",
    "num_features",
    "num_targets",
    "in_channels",
    "image_size",
    "vocab_size",
    "max_seq_len",
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "input_size",
    "horizon",
    "sample_rate",
    "lookback",
    "series_length",
    "num_samples",
)
# Of those (and ``backbone``: a pretrained model whose tokenizer the text data must use), the ones a datamodule
# can adapt to when only the model sets them (resize, convert, resample, tokenize, cut windows).
ADAPTABLE_ARGS = (
    "in_channels", "image_size", "sample_rate", "max_seq_len", "backbone", "lookback", "horizon", "series_length",
    "num_samples",
)


def _import(class_path: str) -> type:
    from jsonargparse._util import import_object

    return import_object(class_path)


def _params(cls: type) -> set[str]:
    return set(inspect.signature(cls).parameters)


def adapt_data_to_model(config: Namespace, strict: bool = True) -> None:
    """The adaptable arguments (``ADAPTABLE_ARGS``) the model sets, into the datamodule's where it sets none.

    Args:
        config: the subcommand's config, changed in place.
        strict: a datamodule value that differs is an error (``fit``); otherwise it is kept (``predict``, where
            the checkpoint's card decides what the data does).
    """
    model_cls, data_cls = _import(config.model.class_path), _import(config.data.class_path)
    model_args, data_args = config.model.init_args, config.data.init_args
    model_params, data_params = _params(model_cls), _params(data_cls)
    for name in ADAPTABLE_ARGS:
        if name in model_params and name in data_params and model_args.get(name) is not None:
            wanted, have = model_args[name], data_args.get(name)
            if have is None:
                data_args[name] = wanted
            elif have != wanted and strict:
                raise UserError(
                    f"model.{name}={wanted} and data.{name}={have} disagree; set one of them (the other follows)"
                )


def apply_pretrained(config: Namespace) -> None:
    """``--model.pretrained X``: the settings the weights dictate (input geometry, architecture, tokenizer), in place.

    A model class that can start from official weights says what they need with a classmethod
    ``pretrained_settings(pretrained, model_args, data_args) -> (model args, data args, report)``.
    """
    model_cls, data_cls = _import(config.model.class_path), _import(config.data.class_path)
    model_args, data_args = config.model.init_args, config.data.init_args
    hook = getattr(model_cls, "pretrained_settings", None)
    pretrained = model_args.get("pretrained")
    if hook is None or pretrained in (None, False, "false", "False"):
        return
    from lightning.pytorch.utilities import rank_zero_info

    model_updates, data_updates, report = hook(pretrained, model_args.as_dict(), data_args.as_dict())
    data_params = _params(data_cls)
    for name, value in data_updates.items():
        if name in data_params:
            data_args[name] = value
    for name, value in model_updates.items():
        model_args[name] = value
    rank_zero_info(report)


def link_data_args(config: Namespace) -> Any:
    """Fill ``config.model.init_args`` from the datamodule (and adaptable ones the other way), in place.

    Returns the datamodule it built to ask (not set up: no data is read until ``data_args``).
    """
    model_cls, data_cls = _import(config.model.class_path), _import(config.data.class_path)
    model_args, data_args = config.model.init_args, config.data.init_args
    model_params = _params(model_cls)
    apply_pretrained(config)
    adapt_data_to_model(config)
    data = instantiate_class((), {"class_path": config.data.class_path, "init_args": data_args.as_dict()})
    found = data.data_args()
    accepts = getattr(model_cls, "accepts", ())
    if accepts and found.get("task") not in (None, *accepts):
        raise UserError(
            f"{model_cls.__name__} handles {'/'.join(accepts)} data, but {data_cls.__name__} "
            f"({getattr(data, 'source', 'its source')}) is a {found['task']} task"
        )
    for name, value in found.items():
        if name not in model_params or name not in DATA_ARGS:
            continue
        given = model_args.get(name)
        if given is None:
            model_args[name] = value
        elif given != value:
            raise UserError(
                f"model.{name}={given!r} conflicts with the data: {data_cls.__name__} gives {name}={value!r} "
                f"(from {getattr(data, 'source', 'its source')}); drop model.{name} to take the data's value"
            )
    return data


def _option(args: list[str], name: str) -> str | None:
    """The value of ``--name`` in a command line (``--name=v`` or ``--name v``); ``None`` if absent."""
    for i, arg in enumerate(args):
        if arg == f"--{name}" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1]
    return None


_SUBCOMMANDS = ("fit", "validate", "test", "predict")


def _subcommand(args: list[str]) -> str | None:
    return next((a for a in args if not a.startswith("-")), None)


def weights_source(name: str) -> dict[str, Any] | None:
    """A weights name as a model source: ``resnet50`` (its default weights) or ``resnet50.IMAGENET1K_V1``.

    Returns what :func:`read_model_source` returns, with ``"weights": (model name, tag)`` to load in
    ``before_predict``; ``None`` when ``name`` names no registered model with weights. The card comes from
    the weights' entry (categories, preprocessing): nothing is downloaded until the weights are loaded.
    """
    from zoo.registry import _REGISTRY, get_card
    from zoo.weights import _card, get_weights, list_weights

    model, _, tag = name.partition(".")
    if model not in _REGISTRY or not list_weights(model):
        return None
    entry = get_weights(model, tag or None)
    if entry.url.startswith("hf://"):
        raise UserError(
            f"--ckpt_path {name}: predict reads weights names of the image models; for the Hugging Face weights "
            f"({entry.url}) use Python: zoo.load_pretrained('{entry.url}').predict_raw(texts)"
        )
    card = get_card(model)
    return {"class_path": card.class_path, "hparams": dict(card.preset), "card": _card(entry, entry.tag),
            "pretrained": None, "weights": (model, entry.tag)}  # fmt: skip


def read_model_source(path: str | Path, weights_only: bool = True) -> dict[str, Any]:
    """What a ``.ckpt``, a pretrained directory or a weights name says about its model, without building it.

    Returns ``{"class_path", "hparams", "card", "pretrained"}``; ``pretrained`` is the export's
    directory (``None`` for a ``.ckpt``: Lightning loads those itself); a weights name (see
    :func:`weights_source`) adds ``"weights"``.
    """
    import yaml

    from zoo.pretrained import CONFIG_NAME, WEIGHTS_NAME, _class_path_of

    path = Path(path)
    if not path.exists():
        found = weights_source(str(path))
        if found is not None:
            return found
        raise UserError(
            f"--ckpt_path {path}: no such file or directory; give a .ckpt (a run keeps them in <run>/checkpoints/), "
            "a pretrained directory (<run>/pretrained) or a weights name (resnet50, resnet50.IMAGENET1K_V1: "
            "python -m zoo --pretrained lists them)"
        )
    if path.is_file() and path.suffix == ".ckpt":
        ckpt = load_checkpoint(path, weights_only=weights_only)
        hparams = {k: v for k, v in ckpt.get("hyper_parameters", {}).items() if k != "_instantiator"}
        class_path = hparams.pop("_class_path", None) or _class_path_of(ckpt)
        return {"class_path": class_path, "hparams": hparams, "pretrained": None,
                "card": dict(ckpt.get("zoo", {}).get("data_card", {}) or {})}
    directory = path if path.is_dir() else path.parent
    config = directory / CONFIG_NAME
    if not config.is_file() or not (directory / WEIGHTS_NAME).is_file():
        raise UserError(
            f"--ckpt_path {path}: neither a .ckpt file nor a pretrained directory ({CONFIG_NAME} + {WEIGHTS_NAME}, "
            "as fit exports to <run>/pretrained)"
        )
    exported = yaml.safe_load(config.read_text()) or {}
    return {"class_path": exported["class_path"], "hparams": dict(exported.get("init_args") or {}),
            "card": dict(exported.get("data") or {}), "pretrained": str(directory)}


def datamodule_of(class_path: str, card: dict[str, Any]) -> str | None:
    """The DataModule class that reads a model's inputs: the one its card names, else its registry recipe's."""
    if card.get("datamodule"):
        return str(card["datamodule"])
    import yaml

    from zoo.registry import _REGISTRY

    for entry in _REGISTRY.values():  # a card of an older zoo: the data of the model's own recipe
        recipe = Path(__file__).resolve().parent.parent / str(entry.config or "")
        if entry.class_path == class_path and recipe.is_file():
            data = (yaml.safe_load(recipe.read_text()) or {}).get("data") or {}
            if data.get("class_path"):
                return str(data["class_path"])
    return None


def _runs_folder(trainer: Namespace) -> Path:
    """Where the runs of this trainer configuration keep their ``<version>/checkpoints`` folders."""
    root = Path(trainer.get("default_root_dir") or ".")
    logger = trainer.get("logger")
    logger = logger[0] if isinstance(logger, list) and logger else logger
    if logger is False:
        return root  # no logger: <root>/checkpoints
    if not isinstance(logger, Namespace):
        return root / "lightning_logs"  # Lightning's default logger
    args = logger.get("init_args") or Namespace()
    save_dir = Path(args.get("save_dir") or root)
    if logger.class_path.endswith("WandbLogger"):
        return save_dir / (args.get("project") or "lightning_logs")
    return save_dir / (args.get("name") or "lightning_logs")


class LoggerSaveConfigCallback(SaveConfigCallback):
    """``config.yaml`` in the log directory, and the whole resolved config in every logger's run config."""

    def save_config(self, trainer: Trainer, pl_module: Any, stage: str) -> None:
        from lightning.pytorch.loggers import WandbLogger

        config = self.config.clone()
        config.pop("config", None)  # the list of --config files: paths, not settings
        identity = getattr(trainer, "zoo_run_identity", None)
        for logger in trainer.loggers:
            params: dict[str, Any] = {"cli": config.as_dict()}
            if identity and not isinstance(logger, WandbLogger):  # W&B holds them as the run's own name and tags
                params["run"] = {"name": identity["name"], "group": identity["group"],
                                 "tags": ", ".join(identity["tags"])}
            logger.log_hyperparams(params)


class ZooCLI(LightningCLI):
    """LightningCLI over every zoo model and datamodule (subclass mode: ``--model ResNet``)."""

    def __init__(self, args: Any = None, run: bool = True, **kwargs: Any) -> None:
        import callbacks  # noqa: F401 - register the zoo's callbacks as choices
        import datamodules  # noqa: F401 - register every datamodule
        import zoo  # noqa: F401 - register every model
        import zoo.loggers  # noqa: F401
        from zoo.console import quiet_library_noise

        quiet_library_noise()
        self._identity: dict[str, Any] = {}
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault("save_config_callback", LoggerSaveConfigCallback)
        kwargs.setdefault("parser_class", ZooArgumentParser)  # the shared model options' defaults in --help
        # the command line, to print the one that resumes a stopped run
        self._command = [str(a) for a in args] if isinstance(args, (list, tuple)) else sys.argv[1:]
        super().__init__(
            ZooModule,
            ZooDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            auto_configure_optimizers=False,  # optimisation is the model's: --model.optimizer sgd
            args=args,
            run=run,
            **kwargs,
        )

    def add_arguments_to_parser(self, parser: Any) -> None:
        parser.add_class_arguments(Budget, "budget", instantiate=False, sub_configs=True)
        parser.add_argument(
            "--test_after_fit", type=bool, default=False, help="after fit, test the best checkpoint (fit only)"
        )
        parser.add_argument(
            "--init_from",
            type=str | None,
            default=None,
            help="start from the weights of a pretrained directory, .safetensors or .ckpt (matching tensors only); "
            "to resume a run instead, use --ckpt_path",
        )

    def before_fit(self) -> None:
        self._fit_started = time.perf_counter()
        source = self._get(self.config, "init_from")
        if source:
            from lightning.pytorch.utilities import rank_zero_info

            from zoo.pretrained import init_weights

            weights_only = self._get(self.config_init, "weights_only") is not False
            report = init_weights(self.model, source, weights_only=weights_only)
            rank_zero_info(
                f"Initialised from {source}: {len(report['loaded'])} tensors loaded, "
                f"{len(report['reinitialised']) + len(report['missing'])} new or re-initialised "
                f"({', '.join((report['reinitialised'] + report['missing'])[:6])}), "
                f"{len(report['unused'])} unused"
            )

    def after_fit(self) -> None:
        from callbacks.summary import fit_facts, fit_summary

        facts = fit_facts(self.trainer)  # before a test restores the best checkpoint's callback states
        tested = None
        if self._get(self.config, "test_after_fit"):
            best = getattr(self.trainer.checkpoint_callback, "best_model_path", "")
            results = self.trainer.test(
                self.model, datamodule=self.datamodule, ckpt_path=best or None, weights_only=True
            )
            tested = results[0] if results else None
        if not self.trainer.fast_dev_run:
            from lightning.pytorch.utilities import rank_zero_info

            wall = time.perf_counter() - getattr(self, "_fit_started", time.perf_counter())
            rank_zero_info(fit_summary(facts, tested, wall))

    # -- predict from a checkpoint or an export alone ---------------------------------------------
    def parse_arguments(self, parser: Any, args: Any) -> None:
        """``predict --ckpt_path X`` without ``--config`` / ``--model`` / ``--data``: take them from ``X``;
        ``--print_config`` with the values the data fills in (:mod:`zoo.print_config`); ``--help`` with a
        ``--config``: the options of the recipe's model and datamodule too (:mod:`zoo.help`)."""
        line = [str(a) for a in args] if isinstance(args, (list, tuple)) else sys.argv[1:] if args is None else None
        if line and {"-h", "--help"} & set(line) and _subcommand(line) in _SUBCOMMANDS and _option(line, "config"):
            from zoo.help import print_recipe_help

            print_recipe_help(parser, line)
            sys.exit(0)
        if line and "--print_config" in line and _subcommand(line) in ("fit", "validate", "test"):
            from zoo.print_config import print_config_with_data  # the values the data fills in, as comments

            print_config_with_data(parser, line)
            sys.exit(0)
        source = _option(line, "ckpt_path") if line and _subcommand(line) == "predict" else None
        if source is None or "://" in source or source in ("last", "best", "hpc", "registry"):
            return super().parse_arguments(parser, args)
        given = {a.split("=", 1)[0] for a in line if a.startswith("--")}  # --data.predict_path names no class
        found = read_model_source(source, weights_only=_option(line, "weights_only") not in ("false", "False"))
        extra: list[str] = []
        if not given & {"--config", "--model"}:  # the checkpoint's model (its hparams are parsed again below)
            extra += ["--model", json.dumps({"class_path": found["class_path"]})]
        data = datamodule_of(found["class_path"], found["card"])
        if not given & {"--config", "--data"} and data:
            extra += ["--data", json.dumps({"class_path": data})]
        at = line.index("predict") + 1
        self.config = parser.parse_args([*line[:at], *extra, *line[at:]])

    def before_predict(self) -> None:
        """A pretrained directory or a weights name as ``--ckpt_path``: loaded here (Lightning reads .ckpt only)."""
        source = getattr(self, "_predict_source", None)
        if source is None or (source["pretrained"] is None and "weights" not in source):
            return
        if "weights" in source:  # fetched (or read from the cache), verified and converted
            from zoo.weights import get_weights, load_weights

            name, tag = source["weights"]
            loaded = load_weights(name, get_weights(name, tag))
        else:
            from zoo.pretrained import load_pretrained

            loaded = load_pretrained(source["pretrained"])
        self.model.load_state_dict(loaded.state_dict())
        self.model.data_card = dict(source["card"])
        self.model.on_data_card(self.model.data_card)

    # -- loading a checkpoint's hyperparameters, safely ----------------------------------------
    def _parse_ckpt_path(self) -> None:
        """Like Lightning's, but honouring ``--weights_only``, naming the opt-in when pickle is needed, and
        resolving ``--ckpt_path last`` to the newest ``last.ckpt`` of the runs under the logger's folder."""
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        ckpt_path = self.config[subcommand].get("ckpt_path")
        if ckpt_path == "last":
            ckpt_path = self._find_last(self.config[subcommand])
            self.config[subcommand]["ckpt_path"] = ckpt_path
        if not ckpt_path or ckpt_path in ("best", "hpc", "registry"):
            return
        if subcommand == "predict" and "://" not in str(ckpt_path):
            return self._parse_predict_source(ckpt_path)
        if not Path(ckpt_path).is_file():
            if "://" in str(ckpt_path):  # a remote checkpoint (s3://, https://): Lightning's fsspec reads it
                return
            raise UserError(
                f"--ckpt_path {ckpt_path}: no such file; give the path of a .ckpt "
                "(a run keeps them in <run>/checkpoints/), or --ckpt_path last to resume the latest run"
            )
        weights_only = self.config[subcommand].get("weights_only") is not False
        ckpt = load_checkpoint(ckpt_path, weights_only=weights_only)
        self._ckpt_run_ids = ckpt.get("zoo", {}).get("run_ids", {})
        hparams = dict(ckpt.get("hyper_parameters", {}))
        hparams.pop("_instantiator", None)
        if "_class_path" in hparams:
            model = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams}
            self.config = self.parser.parse_object({subcommand: {"model": model}}, self.config)

    def _parse_predict_source(self, ckpt_path: str) -> None:
        """``predict``: the model (class and hparams) and the data card from a ``.ckpt`` or a pretrained directory.

        The checkpoint's hparams replace the config's model arguments, and its card replaces what the
        datamodule would fit on its training source (see ``before_instantiate_classes``). A pretrained
        directory is not handed to Lightning (it reads ``.ckpt`` files only): ``before_predict`` loads it.
        """
        weights_only = self.config.predict.get("weights_only") is not False
        self._predict_source = source = read_model_source(ckpt_path, weights_only=weights_only)
        model = {"class_path": source["class_path"], "dict_kwargs": source["hparams"]}
        self.config = self.parser.parse_object({"predict": {"model": model}}, self.config)
        if source["pretrained"] is not None or "weights" in source:
            self.config.predict.ckpt_path = None

    @staticmethod
    def _find_last(config: Namespace) -> str:
        """``--ckpt_path last``: the newest ``last.ckpt`` under this run's root and logger name, or an error."""
        from lightning.pytorch.utilities import rank_zero_info

        from callbacks.checkpoints import find_last_checkpoint

        root = _runs_folder(config.trainer)
        found = find_last_checkpoint(root)
        if found is None:
            raise UserError(
                f"--ckpt_path last: no last.ckpt under {root} (the runs of this root directory and logger); "
                "to start a new run, leave out --ckpt_path"
            )
        ckpt = torch.load(found, map_location="cpu", weights_only=True, mmap=True)
        where = f"epoch {ckpt.get('epoch')}, step {ckpt.get('global_step')}"
        rank_zero_info(f"--ckpt_path last: resuming {found} ({where})")
        return str(found)

    # -- data-aware arguments ------------------------------------------------------------------
    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        if self.subcommand == "predict" and getattr(self, "_predict_source", None) is not None:
            # the model's data arguments are the checkpoint's: the datamodule must not re-derive them from a
            # training source (it may be gone, or be a recipe's default dataset); its card comes from the checkpoint
            if config.get("data") is not None:
                adapt_data_to_model(config, strict=False)
            return
        data = link_data_args(config)
        self._identity = run_identity(config.model.class_path, data, config.get("config") or [])
        self._name_logger_runs(config)
        self._resume_logger_run(config)

    def _name_logger_runs(self, config: Namespace) -> None:
        """W&B runs get the recipe's name, group and tags (see :mod:`zoo.run_identity`) unless the config sets them."""
        loggers = config.trainer.get("logger")
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            if not isinstance(logger, Namespace) or not logger.class_path.endswith("WandbLogger"):
                continue
            args = logger.init_args
            args["name"] = args.get("name") or self._identity["name"]
            args["group"] = args.get("group") or self._identity["group"]
            args["tags"] = list(dict.fromkeys([*self._identity["tags"], *(args.get("tags") or [])]))

    def _resume_logger_run(self, config: Namespace) -> None:
        """Resuming a fit: continue the same W&B run (its id was saved in the checkpoint)."""
        run_id = getattr(self, "_ckpt_run_ids", {}).get("WandbLogger")
        logger = config.trainer.get("logger")
        if self.subcommand != "fit" or not run_id or not isinstance(logger, Namespace):
            return
        if logger.class_path.endswith("WandbLogger") and logger.init_args.get("id") is None:
            logger.init_args["id"] = run_id

    def after_instantiate_classes(self) -> None:
        source = getattr(self, "_predict_source", None)
        if self.subcommand == "predict" and source is not None and self.datamodule is not None and source["card"]:
            self.datamodule.load_state_dict({"card": source["card"]})  # the training preprocessing, for new inputs
        if self.subcommand:  # weights_only=None would let torch decide: the zoo always decides True
            kwargs = self.config_init[self.subcommand]
            if "weights_only" in kwargs and kwargs["weights_only"] is None:
                kwargs["weights_only"] = True

    # -- the trainer's callbacks ----------------------------------------------------------------
    def _default_callbacks(self, given: list[Callback], config: dict[str, Any]) -> list[Callback]:
        extra: list[Callback] = []
        wants_checkpoints = config.get("enable_checkpointing") is not False and not config.get("fast_dev_run")
        if wants_checkpoints and not any(isinstance(c, ModelCheckpoint) for c in given):
            from callbacks import ZooCheckpoint

            extra.append(ZooCheckpoint(monitor=self.model.monitor, mode=self.model.monitor_mode))
            if self.subcommand == "fit":
                from callbacks import ExportBest

                extra.append(ExportBest(command=self._command))
        from callbacks import BestMetric, ConfusionMatrix, GradScalerMonitor, NonFiniteGuard, StopOnSignal
        from zoo.tasks import Classifier

        tests = self.subcommand == "test" or (self.subcommand == "fit" and self._get(self.config, "test_after_fit"))
        if tests and isinstance(self.model, Classifier) and not any(isinstance(c, ConfusionMatrix) for c in given):
            extra.append(ConfusionMatrix())
        if self.subcommand == "fit" and not any(isinstance(c, NonFiniteGuard) for c in given):
            extra.append(NonFiniteGuard())
        if self.subcommand == "fit" and config.get("logger") is not False and not config.get("fast_dev_run"):
            from lightning.pytorch.callbacks import LearningRateMonitor

            if not any(isinstance(c, LearningRateMonitor) for c in given):  # lr-AdamW, lr-AdamW/pg1 ...
                extra.append(LearningRateMonitor())
        # in every subcommand: the checkpoints of a fit hold its state (Lightning warns when it has no owner)
        if not any(isinstance(c, BestMetric) for c in given):
            extra.append(BestMetric())
        if config.get("enable_progress_bar") is not False and not any(isinstance(c, ProgressBar) for c in given):
            from callbacks import EpochLines, ZooProgressBar

            # a terminal: Lightning's Rich bar, redrawn a few times a second instead of after every batch;
            # a file or a pipe: one line per epoch instead of a bar redrawn in place
            extra.append(ZooProgressBar() if sys.stdout.isatty() else EpochLines())
        if not any(isinstance(c, StopOnSignal) for c in given):
            extra.append(StopOnSignal(command=self._command))
        if self.subcommand == "fit" and GradScalerMonitor.applies(config) and not any(
            isinstance(c, GradScalerMonitor) for c in given
        ):  # float16 with a gradient scaler: count and report the steps it skips
            extra.append(GradScalerMonitor())
        if self.subcommand == "predict" and not any(isinstance(c, BasePredictionWriter) for c in given):
            from callbacks import PredictionWriter

            extra.append(PredictionWriter())
        return extra

    def _budget_callbacks(self, given: list[Callback], config: dict[str, Any]) -> list[Callback]:
        """``fit``: the budget (planned at setup, so first), its early stopping, and the health warnings."""
        if self.subcommand != "fit" or config.get("fast_dev_run"):
            return []
        from callbacks import TrainingBudget, TrainingHealth

        budget = Budget(**self._get(self.config, "budget").as_dict())
        max_steps = config.get("max_steps")
        max_steps = None if max_steps in (None, -1) else max_steps
        val_given = config.get("val_check_interval") is not None or config.get("check_val_every_n_epoch", 1) != 1
        extra: list[Callback] = [TrainingBudget(budget, config.get("max_epochs"), max_steps, val_given)]
        user_length = max_steps is not None or config.get("max_epochs") is not None
        if budget.stops_early(user_length) and not any(isinstance(c, EarlyStopping) for c in given):
            # patience is the budget's, in validations, set once the plan is known (TrainingBudget.setup)
            extra.append(EarlyStopping(monitor=self.model.monitor, mode=self.model.monitor_mode, patience=1))
        if not any(isinstance(c, TrainingHealth) for c in given):
            extra.append(TrainingHealth())
        return extra

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> Trainer:
        given = config.get("callbacks") or []
        given = given if isinstance(given, list) else [given]
        planned = self._budget_callbacks([*given, *callbacks], config)
        if planned and config.get("max_epochs") is None and config.get("max_steps") in (None, -1):
            config = {**config, "max_epochs": -1}  # the budget sets max_steps once it knows the data
        callbacks = [*planned, *callbacks, *self._default_callbacks([*given, *callbacks], config)]
        config = dict(config)
        plugins = config.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, list) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            from callbacks import AtomicCheckpointIO

            config["plugins"] = [*plugins, AtomicCheckpointIO()]  # a failed write keeps the previous file
        trainer = super()._instantiate_trainer(config, callbacks)
        from callbacks.dispatch import skip_unused_batch_hooks

        skip_unused_batch_hooks(trainer.callbacks)  # a no-op hook costs ~4 µs per callback per batch
        trainer.zoo_run_identity = self._identity  # for LoggerSaveConfigCallback
        return trainer


def cli_main(args: Any = None, run: bool = True) -> ZooCLI:
    """Entry point of ``train.py``; tests call it with ``args=[...]``.

    A :class:`~preprocessing.errors.UserError` (also from inside ``trainer.fit``, which re-raises after its
    teardown) ends as ``error: <message>`` on stderr and exit status 2; ``ZOO_DEBUG=1`` keeps the traceback.
    """
    from zoo.errors import exit_on_user_error

    with exit_on_user_error():
        return ZooCLI(args=args, run=run)
