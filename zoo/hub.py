"""Fetching pretrained exports from the web or the Hugging Face Hub, verified and cached.

Sources ``zoo.load_pretrained`` accepts besides local paths:

- ``https://host/path/`` — a folder holding ``config.yaml`` and ``model.safetensors`` (what
  ``save_pretrained`` writes; its ``README.md`` model card is for people and the Hub, never fetched, and
  exports without one load the same); ``https://host/file.ckpt`` — a Lightning checkpoint.
  Append ``#sha256=<hex>`` to pin the weights file (as pip does for packages).
- ``hf://org/repo`` or ``hf://org/repo@revision`` — the same two files in a Hub model repository,
  through ``huggingface_hub`` (its cache, ``HF_HUB_OFFLINE`` and tokens apply); or, in a repo without
  ``config.yaml``, a Hugging Face model's ``config.json`` and ``model.safetensors``, which
  ``load_pretrained`` converts by its ``model_type`` (:func:`zoo.pretrained.load_hf_folder`).

Official weights in their source's own format (:mod:`zoo.weights`) come through :func:`_download` too,
verified against the hash prefix the source publishes in the file name (torchvision's ``-11ad3fa6.pth``).

Integrity: ``config.yaml`` records the SHA-256 of ``model.safetensors`` (``weights_sha256``); every
download is checked against it and against a pinned hash, and a mismatch is an error that removes
nothing but the bad download. Files land in ``$ZOO_CACHE`` (default ``~/.cache/zoo``) by atomic
rename: an interrupted download never leaves a half file that a later run would trust.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urldefrag, urlparse

from preprocessing.errors import UserError

__all__ = ["is_remote", "fetch", "sha256_of", "cache_dir"]

_CHUNK = 1 << 20


def cache_dir() -> Path:
    return Path(os.environ.get("ZOO_CACHE", Path.home() / ".cache" / "zoo"))


def is_remote(source: str | Path) -> bool:
    return isinstance(source, str) and source.split("://", 1)[0] in ("http", "https", "hf")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download(url: str, target: Path, expected_sha256: str | None, hash_prefix: bool = False) -> Path:
    """``url`` → ``target`` (kept if already there with the right hash), verified, atomically renamed.

    Args:
        hash_prefix: ``expected_sha256`` is the first digits of the hash (as torchvision publishes
            them in its file names, and as ``torch.hub`` checks them).
    """

    def matches(got: str) -> bool:
        return got.startswith(expected_sha256) if hash_prefix else got == expected_sha256

    if hash_prefix and (not expected_sha256 or len(expected_sha256) < 8):
        raise ValueError(f"{url}: a hash prefix needs at least 8 hex digits, got {expected_sha256!r}")
    if target.is_file() and (expected_sha256 is None or matches(sha256_of(target))):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310
            shutil.copyfileobj(response, out, _CHUNK)
        if expected_sha256 is not None:
            got = sha256_of(Path(tmp))
            if not matches(got):
                raise UserError(f"{url}: SHA-256 mismatch (expected {expected_sha256}, downloaded {got})")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _weights_sha(config_path: Path) -> str | None:
    import yaml

    return (yaml.safe_load(config_path.read_text()) or {}).get("weights_sha256")


def fetch(source: str) -> Path:
    """A local path for a remote ``source``: the folder of a pretrained export, or a ``.ckpt`` file."""
    url, fragment = urldefrag(source)
    pinned = fragment.split("=", 1)[1] if fragment.startswith("sha256=") else None
    if url.startswith("hf://"):
        return _fetch_hub(url[len("hf://") :], pinned)
    parsed = urlparse(url)
    folder = cache_dir() / hashlib.sha256(url.encode()).hexdigest()[:16]
    if parsed.path.endswith(".ckpt"):
        return _download(url, folder / Path(parsed.path).name, pinned)
    base = url if url.endswith("/") else url + "/"
    config = folder / "config.yaml"
    try:  # the small config is fetched every time: it says which weights are current
        _download(base + "config.yaml", folder / ".config.fresh", None)
        os.replace(folder / ".config.fresh", config)
    except OSError as err:  # offline: the cached copy, if any, still names verified weights
        if not config.is_file():
            raise
        import warnings

        warnings.warn(f"{url}: unreachable ({err}); using the cached copy", stacklevel=3)
    recorded = _weights_sha(config)
    if pinned and recorded and pinned != recorded:
        raise UserError(f"{url}: config.yaml records weights {recorded}, but {pinned} was pinned")
    _download(base + "model.safetensors", folder / "model.safetensors", pinned or recorded)
    return folder


def _fetch_hub(repo: str, pinned: str | None) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    repo_id, _, revision = repo.partition("@")
    try:
        config = Path(hf_hub_download(repo_id, "config.yaml", revision=revision or None))
    except EntryNotFoundError:  # no zoo export (or not cached offline): a Hugging Face model repo, config.json
        return _fetch_hf_format(repo, pinned)
    weights = Path(hf_hub_download(repo_id, "model.safetensors", revision=revision or None))
    expected = pinned or _weights_sha(config)
    if expected and sha256_of(weights) != expected:
        raise UserError(f"hf://{repo}: model.safetensors does not match its SHA-256 {expected}")
    if weights.parent != config.parent:
        raise UserError(f"hf://{repo}: config.yaml and model.safetensors are not in the same snapshot")
    return config.parent


def _fetch_hf_format(repo: str, pinned: str | None) -> Path:
    """The snapshot folder of a Hugging Face-format repo (``config.json`` + ``model.safetensors``)."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    repo_id, _, revision = repo.partition("@")
    try:
        files = [Path(hf_hub_download(repo_id, name, revision=revision or None))
                 for name in ("config.json", "model.safetensors")]  # fmt: skip
    except EntryNotFoundError as err:  # offline and not cached, or a repo without these files
        cached = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
        raise UserError(
            f"hf://{repo}: neither a zoo export (config.yaml) nor a Hugging Face model (config.json + "
            f"model.safetensors) could be fetched or found in the cache ({type(err).__name__}). Offline, place "
            f"the repo's files under {cached}/snapshots/<commit>/ (with refs/main naming <commit>), or download "
            f"them from https://huggingface.co/{repo_id} into a folder and pass the folder to load_pretrained"
        ) from None
    config, weights = files
    if pinned and sha256_of(weights) != pinned:
        raise UserError(f"hf://{repo}: model.safetensors does not match the pinned SHA-256 {pinned}")
    if weights.parent != config.parent:
        raise UserError(f"hf://{repo}: config.json and model.safetensors are not in the same snapshot")
    return config.parent
