"""Audio quality metrics for vocoders: multi-resolution STFT distance, PESQ and STOI.

PESQ and STOI come from the packages the field uses (``pesq``, ``pystoi``: the ``audio-metrics``
extra); this module only makes them safe to average over a validation set. The official HiFi-GAN
users hit two traps: PESQ raises on clips without speech (``NoUtterancesError``) and STOI returns
``1e-5`` when too few frames survive its silence removal, which silently drags a mean down.
Here such clips are skipped and counted, never averaged in, and never NaN.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch

METRIC_SAMPLE_RATE = 16000  # PESQ wide-band needs 16 kHz; STOI resamples to 10 kHz itself
# A clip whose reference RMS is below this (-80 dBFS) holds no speech to score.
SILENCE_RMS = 1e-4
# PESQ refuses buffers shorter than a quarter of a second.
PESQ_MIN_SECONDS = 0.25
# STOI needs 30 frames of 256 samples (hop 128) at 10 kHz after its silence removal:
# (30 - 1) * 128 + 256 = 3,968 samples = 0.397 s of speech. Shorter clips cannot be scored.
STOI_MIN_SECONDS = 0.4
_STOI_DEGENERATE = 1e-5  # what pystoi returns when it could not score a clip
_REASONS = ("silent", "silent_output", "short", "error")  # why a clip was skipped

DEFAULT_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))


def _stft_magnitude(x: torch.Tensor, n_fft: int, hop: int, win: int) -> torch.Tensor:
    """``(B, n_fft // 2 + 1, F)`` magnitude, floored so that its log is finite."""
    window = torch.hann_window(win, dtype=x.dtype, device=x.device)
    spec = torch.stft(x, n_fft, hop, win, window=window, center=True, return_complex=True)
    return (spec.real.square() + spec.imag.square()).clamp_min(1e-7).sqrt()


def _distance_same_length(ref: torch.Tensor, hyp: torch.Tensor, resolutions) -> torch.Tensor:
    """Per-item distance ``(B,)`` of equal-length, unpadded ``(B, T)`` pairs."""
    per_item = torch.zeros(ref.shape[0], dtype=ref.dtype, device=ref.device)
    for n_fft, hop, win in resolutions:
        if ref.shape[1] <= n_fft // 2:
            raise ValueError(
                f"multi_resolution_stft_distance: {ref.shape[1]} samples are too few for an "
                f"STFT of size {n_fft} (need more than {n_fft // 2}); use longer clips or "
                "smaller resolutions"
            )
        ref_mag = _stft_magnitude(ref, n_fft, hop, win)  # (B, K, F)
        hyp_mag = _stft_magnitude(hyp, n_fft, hop, win)
        convergence = torch.linalg.vector_norm(ref_mag - hyp_mag, dim=(1, 2)) / (
            torch.linalg.vector_norm(ref_mag, dim=(1, 2))
        )  # (B,)
        log_l1 = (ref_mag.log() - hyp_mag.log()).abs().mean(dim=(1, 2))  # (B,)
        per_item = per_item + convergence + log_l1
    return per_item / len(resolutions)


@torch.no_grad()
def multi_resolution_stft_distance(
    ref: torch.Tensor,
    hyp: torch.Tensor,
    lengths: torch.Tensor | None = None,
    resolutions: Sequence[tuple[int, int, int]] = DEFAULT_RESOLUTIONS,
) -> torch.Tensor:
    """Multi-resolution STFT distance (Parallel WaveGAN's auxiliary loss, used as a metric).

    For each resolution ``(n_fft, hop, win)``, with Hann-windowed centred STFT magnitudes
    ``R`` (reference) and ``H`` (generated): spectral convergence ``||R - H||_F / ||R||_F`` plus
    the mean absolute difference of log magnitudes ``mean |log R - log H|`` (magnitudes floored at
    ``sqrt(1e-7)``). The distance of one item is the mean of that sum over the resolutions; the
    result is the mean over items. 0 for identical signals.

    Args:
        ref: ``(B, T)`` reference waveforms.
        hyp: ``(B, T)`` generated waveforms.
        lengths: ``(B,)`` valid samples per item; padding beyond is ignored (each item is scored
            on its own valid part, so a padded batch gives exactly the unpadded result).
        resolutions: ``(n_fft, hop_length, win_length)`` triples.

    Returns:
        0-dim float32 tensor (float64 for float64 input) on the inputs' device.
    """
    if ref.shape != hyp.shape or ref.dim() != 2:
        raise ValueError(
            f"multi_resolution_stft_distance: ref and hyp must both be (B, T), got "
            f"{tuple(ref.shape)} and {tuple(hyp.shape)}"
        )
    dtype = torch.float64 if ref.dtype == torch.float64 else torch.float32
    with torch.autocast(device_type=ref.device.type, enabled=False):
        ref, hyp = ref.to(dtype), hyp.to(dtype)
        if lengths is None:
            return _distance_same_length(ref, hyp, resolutions).mean()
        lengths = [int(n) for n in lengths.tolist()]
        # Items of the same length are scored together; each group on its own valid samples.
        per_item = torch.zeros(ref.shape[0], dtype=dtype, device=ref.device)
        for length in sorted(set(lengths)):
            rows = torch.tensor([i for i, n in enumerate(lengths) if n == length])
            rows = rows.to(ref.device)
            per_item[rows] = _distance_same_length(
                ref[rows, :length], hyp[rows, :length], resolutions
            )
        return per_item.mean()


def _import_metric_packages():
    try:
        import pesq as pesq_package
        import pystoi
    except ImportError as err:
        raise ImportError(
            f"PESQ/STOI need the packages 'pesq' and 'pystoi' ({err}); install them with "
            "`pip install seqlab[audio-metrics]` (pesq compiles a C extension: needs gcc)"
        ) from err
    return pesq_package, pystoi


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0


def _to_metric_rate(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    from seqlab.audio.resample import resample

    wave = np.asarray(wave, dtype=np.float32).reshape(-1)  # (T,)
    return np.asarray(resample(wave, sample_rate, METRIC_SAMPLE_RATE), dtype=np.float64)


def speech_quality(
    refs: Sequence[np.ndarray], hyps: Sequence[np.ndarray], sample_rate: int
) -> dict[str, float | int]:
    """Mean wide-band PESQ and STOI over clip pairs, skipping clips that cannot be scored.

    Each pair is resampled to 16 kHz (``seqlab.audio.resample``) and cropped to the shorter of
    the two. A clip is skipped, and counted under its reason, when:

    - ``silent``: the reference RMS is below ``SILENCE_RMS`` (1e-4, -80 dBFS): nothing to score;
    - ``silent_output`` (PESQ only): the generated clip is silent, which pesq cannot score (it
      divides by zero); STOI scores it (0.0), so a vocoder that outputs silence still shows;
    - ``short``: shorter than ``PESQ_MIN_SECONDS`` (0.25 s) for PESQ or ``STOI_MIN_SECONDS``
      (0.4 s: 30 STOI frames at 10 kHz) for STOI;
    - ``error``: pesq raises (``NoUtterancesError``, ``PesqError``...), or a metric is not finite,
      or STOI returns its ``1e-5`` "could not score" value.

    Args:
        refs: ground-truth waveforms, each ``(T_i,)`` float in [-1, 1].
        hyps: generated waveforms, same count; lengths may differ from the references'.
        sample_rate: rate of both, in Hz.

    Returns:
        ``{"pesq": mean, "stoi": mean, "n": pairs, "pesq_skipped": k, "stoi_skipped": k}`` and
        the count per reason, ``"<metric>_skipped_<reason>"`` for the reasons above (all four
        for both metrics). ``pesq``/``stoi`` are absent when every clip was skipped (never NaN).

    Raises:
        ImportError: naming the ``audio-metrics`` extra when pesq or pystoi is missing.
        ValueError: when ``refs`` and ``hyps`` differ in count.
    """
    if len(refs) != len(hyps):
        raise ValueError(f"speech_quality: {len(refs)} references but {len(hyps)} hypotheses")
    pesq_package, pystoi = _import_metric_packages()
    scores: dict[str, list[float]] = {"pesq": [], "stoi": []}
    skipped = {(m, r): 0 for m in scores for r in _REASONS}
    minimum = {"pesq": PESQ_MIN_SECONDS, "stoi": STOI_MIN_SECONDS}
    for ref, hyp in zip(refs, hyps, strict=True):
        ref16 = _to_metric_rate(ref, sample_rate)
        hyp16 = _to_metric_rate(hyp, sample_rate)
        length = min(ref16.size, hyp16.size)
        ref16, hyp16 = ref16[:length], hyp16[:length]  # (T,) each
        silent, silent_output = _rms(ref16) < SILENCE_RMS, _rms(hyp16) < SILENCE_RMS
        for metric in scores:
            if silent:
                skipped[metric, "silent"] += 1
                continue
            if silent_output and metric == "pesq":
                skipped[metric, "silent_output"] += 1
                continue
            if length < minimum[metric] * METRIC_SAMPLE_RATE:
                skipped[metric, "short"] += 1
                continue
            try:
                with warnings.catch_warnings():  # counted below instead
                    warnings.simplefilter("ignore")
                    if metric == "pesq":
                        value = pesq_package.pesq(METRIC_SAMPLE_RATE, ref16, hyp16, "wb")
                    else:
                        value = pystoi.stoi(ref16, hyp16, METRIC_SAMPLE_RATE, extended=False)
            except (pesq_package.PesqError, ValueError, RuntimeError):
                skipped[metric, "error"] += 1
                continue
            value = float(value)
            if not math.isfinite(value) or (metric == "stoi" and value == _STOI_DEGENERATE):
                skipped[metric, "error"] += 1
                continue
            scores[metric].append(value)
    result: dict[str, float | int] = {"n": len(refs)}
    for metric, values in scores.items():
        if values:
            result[metric] = float(np.mean(values))
        result[f"{metric}_skipped"] = len(refs) - len(values)
        for reason in _REASONS:
            result[f"{metric}_skipped_{reason}"] = skipped[metric, reason]
    return result
