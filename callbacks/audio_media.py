"""Audio classifiers: a few validation clips to listen to, with true and predicted labels and their log-mels.

The log-mel images are computed with the zoo's own frontend (``zoo.layers.audio.AudioFrontend``, the
features the 2-D CNN reads), whatever the model's representation is, so a waveform model's clips get
a picture too.
"""

from __future__ import annotations

from lightning.pytorch import LightningModule, Trainer
from torch import Tensor

from callbacks.media import ValidationMedia, figure_array, pyplot, send_audio, send_image

__all__ = ["AudioSamples"]


class AudioSamples(ValidationMedia):
    """The first ``num_clips`` validation clips (``val/audio``) and a figure of their log-mels (``val/log_mel``),
    each captioned ``true → predicted``.

    Args:
        num_clips: clips logged.
        every_n_epochs: log after every n-th validation.
        max_share: the most of the fit's wall time drawing may take (``1``: every due validation).
    """

    def __init__(self, num_clips: int = 4, every_n_epochs: int = 1, max_share: float = 0.02) -> None:
        super().__init__(every_n_epochs=every_n_epochs, pool=num_clips, max_share=max_share)
        self.num_clips = num_clips

    def draw(self, trainer: Trainer, pl_module: LightningModule, samples: tuple[Tensor, ...]) -> None:
        waves, targets = samples[0], samples[1]
        if waves.ndim != 2:  # (B, T) mono waveforms
            return
        from zoo.layers.audio import AudioFrontend

        card = pl_module.data_card or {}
        rate = int(card.get("sample_rate") or getattr(pl_module, "sample_rate", 16000))
        classes = card.get("classes") or []
        predicted = pl_module(waves).argmax(-1).tolist()
        captions = [
            f"{_name(classes, int(t))} → {_name(classes, p)}" for t, p in zip(targets.tolist(), predicted)
        ]
        send_audio(trainer, "val/audio", [w.float().cpu().numpy() for w in waves], rate, captions)
        mels = AudioFrontend("logmel", rate).to(waves.device).features(waves.float()).cpu()  # (B, n_mels, frames)
        plt = pyplot()
        figure, axes = plt.subplots(len(mels), 1, figsize=(6, 1.6 * len(mels)), squeeze=False)
        for ax, mel, caption in zip(axes[:, 0], mels, captions):
            ax.imshow(mel.numpy(), origin="lower", aspect="auto", cmap="magma")
            ax.set_title(caption, fontsize=8)
            ax.set_ylabel("mel band", fontsize=7)
        axes[-1, 0].set_xlabel("frame")
        send_image(trainer, "val/log_mel", figure_array(figure), caption=f"epoch {self.epoch}")


def _name(classes: list, i: int) -> str:
    return str(classes[i]) if 0 <= i < len(classes) else str(i)
