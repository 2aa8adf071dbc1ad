"""Running exported ONNX files with onnxruntime (CPU): sessions, and greedy generation outside PyTorch.

    from zoo.exporting import runtime
    probs = runtime.run(runtime.session("resnet.onnx"), images=pixels)["probabilities"]
    ids = runtime.greedy_causal("gpt.onnx", prompt_ids, max_new_tokens=20)
    ids = runtime.greedy_seq2seq("t5_encoder.onnx", "t5_decoder.onnx", source_ids)

The loops follow the models' own ``generate`` at ``temperature=0`` step for step (the same
caches, the same sliding window, padding after EOS), so they give the same tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.exporting.onnx import read_metadata

__all__ = ["greedy_causal", "greedy_seq2seq", "run", "session"]


def session(path: str | Path) -> Any:
    """An onnxruntime ``InferenceSession`` of ``path`` on the CPU."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess: Any, **inputs: np.ndarray) -> dict[str, np.ndarray]:
    """The outputs of ``sess`` for named ``inputs``, by name."""
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, inputs), strict=True))


def _empty_cache(meta: dict[str, Any], batch: int) -> np.ndarray:
    c = meta["cache"]
    return np.zeros((c["layers"], batch, c["heads"], 0, c["head_dim"]), dtype=np.float32)


def greedy_causal(path: str | Path, ids: np.ndarray, max_new_tokens: int) -> np.ndarray:
    """Continue ``ids (B, T)`` greedily by ``max_new_tokens`` with a causal LM's step graph → ``(B, T + n)``."""
    meta, sess = read_metadata(path), session(path)
    ids = np.asarray(ids, dtype=np.int64)
    window = int(meta["max_seq_len"])
    if meta["cache"]["kind"] == "recurrent_state":  # the state carries everything read so far
        c = meta["cache"]
        state = {n: np.zeros((c["layers"], ids.shape[0], c["hidden_size"]), np.float32) for n in c["names"]}
        for t in range(ids.shape[1]):  # the prompt, one token a step (the graph reads one)
            out = run(sess, input_ids=ids[:, t : t + 1], **state)
            state = {n: out[n.replace("state", "next_state")] for n in c["names"]}
        for _ in range(max_new_tokens):
            token = out["logits"][:, -1].argmax(-1)[:, None].astype(np.int64)
            ids = np.concatenate([ids, token], axis=1)
            out = run(sess, input_ids=token, **state)
            state = {n: out[n.replace("state", "next_state")] for n in c["names"]}
        return ids
    empty = _empty_cache(meta, ids.shape[0])
    out = run(sess, input_ids=ids[:, -window:], past_keys=empty, past_values=empty)
    for step in range(max_new_tokens):
        ids = np.concatenate([ids, out["logits"][:, -1].argmax(-1)[:, None].astype(np.int64)], axis=1)
        if step == max_new_tokens - 1:
            break
        if out["present_keys"].shape[3] < window:  # one position of work
            out = run(sess, input_ids=ids[:, -1:], past_keys=out["present_keys"], past_values=out["present_values"])
        else:  # the window is full and slides: re-read it whole
            out = run(sess, input_ids=ids[:, -window:], past_keys=empty, past_values=empty)
    return ids


def greedy_seq2seq(
    encoder: str | Path, decoder: str | Path, source: np.ndarray, max_new_tokens: int | None = None
) -> np.ndarray:
    """Greedy targets ``(B, 1 + n)`` for ``source (B, S)``: BOS first, padding after EOS (as ``Seq2Seq.generate``)."""
    meta = read_metadata(decoder)
    enc, dec = session(encoder), session(decoder)
    source = np.asarray(source, dtype=np.int64)
    if meta.get("source_length"):  # an encoder of a fixed length (recurrent): pad the sources to it
        width = int(meta["source_length"]) - source.shape[1]
        source = np.pad(source, ((0, 0), (0, width)), constant_values=meta["pad_token_id"])
    bos, eos, pad = meta["bos_token_id"], meta["eos_token_id"], meta["pad_token_id"]
    steps = max_new_tokens or meta["max_seq_len"]
    memory = run(enc, input_ids=source)
    batch = source.shape[0]
    if meta["cache"]["kind"] == "keys_values":  # T5: the positions its decoder has (as T5.generate)
        steps = min(steps, meta["max_seq_len"])
        cache = {"past_keys": _empty_cache(meta, batch), "past_values": _empty_cache(meta, batch)}
        fixed = {"cross_keys": memory["cross_keys"], "cross_values": memory["cross_values"]}
    else:
        cache, fixed = {"state": memory["state"]}, {"annotations": memory["annotations"]}
    out = np.full((batch, 1), bos, dtype=np.int64)
    done = np.zeros(batch, dtype=bool)
    for _ in range(steps):
        result = run(dec, input_ids=out[:, -1:], source_ids=source, **fixed, **cache)
        cache = {k: result[k.replace("past", "present").replace("state", "next_state")] for k in cache}
        nxt = np.where(done, pad, result["logits"].argmax(-1)).astype(np.int64)
        out = np.concatenate([out, nxt[:, None]], axis=1)
        done |= nxt == eos
        if done.all():
            break
    return out
