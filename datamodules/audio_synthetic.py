"""The embedded audio task: DTMF key tones in noise, generated in memory from a seed (no files, no network).

**Classes.** The 16 keys of a DTMF telephone keypad (ITU-T Q.23): ``1 2 3 A / 4 5 6 B / 7 8 9 C /
star 0 hash D``. Each key is the sum of one low-group tone (697, 770, 852, 941 Hz: its row) and
one high-group tone (1209, 1336, 1477, 1633 Hz: its column).

**Nuisance factors** (each drawn independently per clip):

- *onset and duration*: one key press of 40–250 ms (Q.24's shortest valid digit is 40 ms)
  anywhere in the central second of a 1.2 s clip, with 5 ms raised-cosine ramps;
- *frequency deviation*: each tone off by up to ±2 % (Q.24 requires tolerance of ±1.5 %);
- *twist*: the high tone −6 to +6 dB relative to the low one;
- *noise*: Gaussian noise with a random spectral slope (white to brown, 1/f^β with β in [0, 2])
  at a signal-to-noise ratio of −10 to +10 dB measured while the key sounds;
- *distractor*: in half of the clips a single interfering tone (300–3400 Hz, at least 4 % away
  from every DTMF frequency, 50–500 ms, −6 to +6 dB relative to the key) somewhere in the clip;
- *gain*: the mixture is scaled to an RMS level of −35 to −15 dBFS.

**Why it is not trivial.** Each frequency is shared by four keys, so a key is identified only by
the *pair* present *at the same time*; the key may fill as little as 3 % of the clip, at SNRs
down to −10 dB; rows are only 73–89 Hz apart, so the ±2 % drift and the 31 Hz bins of a 32 ms
window blur neighbours; the distractor is a tone just like the key's. A clip-level summary
(logistic regression on mean MFCCs, ``benchmarks/audio_learning.py``) is far from solving it,
while models that look at time-frequency structure do.

Deterministic: the same ``seed`` gives the same clips, labels and order on every machine.
"""

from __future__ import annotations

import numpy as np

from preprocessing.errors import UserError

__all__ = ["DTMF_CLASSES", "DTMF_HIGH", "DTMF_LOW", "DTMF_RATE", "DTMF_SECONDS", "dtmf_clips", "dtmf_frequencies"]

DTMF_LOW = (697.0, 770.0, 852.0, 941.0)
DTMF_HIGH = (1209.0, 1336.0, 1477.0, 1633.0)
# keypad order, row by row: class k uses DTMF_LOW[k // 4] and DTMF_HIGH[k % 4]
DTMF_CLASSES = ("1", "2", "3", "A", "4", "5", "6", "B", "7", "8", "9", "C", "star", "0", "hash", "D")
DTMF_RATE = 8000  # telephone band: the tones sit well below the 4 kHz Nyquist frequency
DTMF_SECONDS = 1.2  # stored clip length; models read 1 s crops, and every key lies in the central second
_CHUNK = 256  # clips synthesised at a time (bounded memory)
_MAX_EVENT = 0.25  # longest key press or distractor, seconds
_RAMP = 0.005  # raised-cosine on/off ramps, seconds


def dtmf_frequencies(label: int) -> tuple[float, float]:
    """The (low, high) nominal frequencies in Hz of class ``label``."""
    return DTMF_LOW[label // 4], DTMF_HIGH[label % 4]


def _add_events(out: np.ndarray, onset: np.ndarray, duration: np.ndarray, freqs: np.ndarray, amps: np.ndarray,
                phases: np.ndarray, sr: int) -> None:
    """Add one event per row of ``out (m, L + _window(sr))``: sines ``freqs/amps/phases (m, k)`` (NaN
    frequency: none) on ``[onset, onset + duration)`` seconds with raised-cosine ramps.

    Only the samples of a fixed window from the onset are computed (float32, phases reduced per
    row in float64 so they stay exact); the ``_window`` extra columns of ``out`` take what runs past the end.
    """
    window = _window(sr)
    first = np.floor(onset * sr).astype(np.int64)  # (m,) first sample of each window
    start = first / sr
    k = (np.arange(window) / sr).astype(np.float32)  # (W,) seconds from the window start
    rel = (onset - start).astype(np.float32)[:, None]
    rise = np.clip((k - rel) / _RAMP, 0, 1) * np.clip(rel + duration.astype(np.float32)[:, None] - k, 0, _RAMP) / _RAMP
    envelope = 0.5 - 0.5 * np.cos(np.float32(np.pi) * rise)  # (m, W)
    f = np.nan_to_num(freqs)
    phase0 = np.mod(2 * np.pi * f * start[:, None] + phases, 2 * np.pi).astype(np.float32)  # (m, k) at the window start
    sines = np.sin((2 * np.pi * f).astype(np.float32)[:, :, None] * k + phase0[:, :, None])  # (m, k, W)
    gains = np.where(np.isnan(freqs), 0.0, amps).astype(np.float32)
    event = np.einsum("mk,mkw->mw", gains, sines) * envelope
    out[np.arange(len(out))[:, None], first[:, None] + np.arange(window)] += event


def _window(sr: int) -> int:
    return int(np.ceil((_MAX_EVENT + 2 * _RAMP) * sr)) + 2


def _distractor_frequencies(rng: np.random.Generator, n: int) -> np.ndarray:
    """``(n, 2)`` frequencies of distractor events, none of which is a valid key.

    Half are single tones (the second frequency is NaN: silent), 60 % of them at a DTMF frequency;
    half are same-group pairs (two row tones or two column tones), which sound like a key but are not.
    """
    low, high = np.array(DTMF_LOW), np.array(DTMF_HIGH)
    keypad_tone = np.concatenate([low, high])[rng.integers(0, 8, n)]
    single = np.where(rng.random(n) < 0.6, keypad_tone, rng.uniform(300, 3400, n))
    group = np.where(rng.random(n)[:, None] < 0.5, low, high)  # (n, 4)
    pick = np.argsort(rng.random((n, 4)), axis=1)[:, :2]  # two different tones of the group
    pair = np.take_along_axis(group, pick, 1)
    out = np.where((rng.random(n) < 0.5)[:, None], np.stack([single, np.full(n, np.nan)], 1), pair)
    return out * (1 + rng.uniform(-0.02, 0.02, (n, 2)))


def _slot(rng: np.random.Generator, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An event of 40–250 ms inside each ``[start, end)`` gap: ``(onset, duration)``; duration 0 if it does not fit."""
    room = end - start
    duration = np.minimum(rng.uniform(0.04, _MAX_EVENT, len(start)), room)
    duration = np.where(room >= 0.04, duration, 0.0)
    return start + rng.uniform(0, 1, len(start)) * (room - duration), duration


def dtmf_clips(num_clips: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``num_clips`` clips of the DTMF task at ``DTMF_RATE`` Hz, ``DTMF_SECONDS`` long.

    Returns:
        ``(waves float32 (N, L), labels int64 (N,))``, classes balanced (``num_clips / 16`` each,
        in shuffled order).
    """
    if num_clips < len(DTMF_CLASSES):
        raise UserError(f"the DTMF task needs at least {len(DTMF_CLASSES)} clips (one per key), got {num_clips}")
    rng = np.random.default_rng(seed)
    n, sr = num_clips, DTMF_RATE
    length = round(DTMF_SECONDS * sr)
    labels = rng.permutation(np.arange(n) % len(DTMF_CLASSES))
    # the key press: duration, onset inside [0.2, 1.0] s, drifted frequencies, twist, phases
    duration = rng.uniform(0.04, _MAX_EVENT, n)
    onset = 0.2 + rng.uniform(0, 1, n) * (0.8 - duration)
    f_low = np.asarray(DTMF_LOW)[labels // 4] * (1 + rng.uniform(-0.02, 0.02, n))
    f_high = np.asarray(DTMF_HIGH)[labels % 4] * (1 + rng.uniform(-0.02, 0.02, n))
    a_high = 10 ** (rng.uniform(-6, 6, n) / 20)  # relative to a low tone of amplitude 1
    phases = rng.uniform(0, 2 * np.pi, (n, 3, 2))  # (clip, event, tone)
    # noise and distractors, relative to the key's power while it sounds
    snr_db = rng.uniform(-10, 10, n)
    slope = rng.uniform(0, 2, n)
    # up to two single tones, one before and one after the key (30 ms apart from it): never a second key
    guard = 0.03
    before = _slot(rng, np.zeros(n), onset - guard)
    after = _slot(rng, onset + duration + guard, np.full(n, DTMF_SECONDS))
    dist_onset = np.stack([before[0], after[0]], 1)  # (N, 2)
    dist_duration = np.stack([before[1], after[1]], 1) * (rng.random((n, 2)) < 0.7)  # each present with p=0.7
    f_dist = _distractor_frequencies(rng, 2 * n).reshape(n, 2, 2)  # (clip, slot, tone)
    dist_gain = 10 ** (rng.uniform(-6, 6, (n, 2)) / 20)
    rms_db = rng.uniform(-35, -15, n)

    log_freqs = np.log(np.maximum(np.fft.rfftfreq(length, 1 / sr), 50.0) / 1000.0)  # noise shaping: f^(-β/2)
    waves = np.empty((n, length), dtype=np.float32)
    for lo in range(0, n, _CHUNK):
        s = slice(lo, min(lo + _CHUNK, n))
        m = s.stop - s.start
        power = (1 + a_high[s] ** 2) / 2  # mean power of the key's two sines while it sounds
        # coloured noise: white noise shaped to a 1/f^β power spectrum, then scaled to the SNR
        spectrum = np.fft.rfft(rng.standard_normal((m, length), dtype=np.float32), axis=1)
        spectrum *= np.exp(log_freqs * (-slope[s, None] / 2)).astype(np.float32)
        noise = np.fft.irfft(spectrum, n=length, axis=1)
        mix = np.zeros((m, length + _window(sr)), dtype=np.float32)  # room for events that run past the end
        mix[:, :length] = noise * np.sqrt(power / 10 ** (snr_db[s] / 10) / noise.var(1))[:, None]
        key_amps = np.stack([np.ones(m), a_high[s]], 1)
        _add_events(mix, onset[s], duration[s], np.stack([f_low[s], f_high[s]], 1), key_amps, phases[s, 0], sr)
        for j in range(2):  # each distractor tone has the key's mean power times dist_gain
            amps = np.repeat((np.sqrt(power) * dist_gain[s, j])[:, None], 2, 1)
            _add_events(mix, dist_onset[s, j], dist_duration[s, j], f_dist[s, j], amps, phases[s, 1 + j], sr)
        mix = mix[:, :length]
        mix *= (10 ** (rms_db[s] / 20) / np.sqrt((mix**2).mean(1)))[:, None]
        waves[s] = np.clip(mix, -1, 1)
    return waves, labels.astype(np.int64)
