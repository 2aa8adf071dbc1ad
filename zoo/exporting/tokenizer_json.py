"""A zoo tokenizer as a Hugging Face ``tokenizer.json``, the file every runtime's tokenizers library reads.

Byte-level BPE and pretrained tokenizers already are Hugging Face tokenizers: their own JSON. The
character and word vocabularies (:mod:`preprocessing.tokenizers`) become a ``WordLevel`` model with the
same ids and a pre-tokenizer that splits as they do (each character; ``\\w+|[^\\w\\s]`` after an
optional lowercasing), so ``Tokenizer.from_file("tokenizer.json").encode(text).ids`` equals
``tokenizer.encode(text)``.
"""

from __future__ import annotations

from preprocessing.tokenizers import CharTokenizer, HFTokenizer, Tokenizer, WordTokenizer

__all__ = ["tokenizer_json"]


def tokenizer_json(tokenizer: Tokenizer) -> str:
    """The ``tokenizer.json`` text of ``tokenizer`` (no special tokens added on encode, as the zoo encodes)."""
    from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers
    from tokenizers import Tokenizer as Backend

    if isinstance(tokenizer, HFTokenizer):
        return tokenizer.backend.to_str()
    if not isinstance(tokenizer, (CharTokenizer, WordTokenizer)):
        raise TypeError(f"no tokenizer.json conversion for {type(tokenizer).__name__}")
    vocab = {piece: i for i, piece in enumerate(tokenizer.vocab)}
    unk = tokenizer.vocab[tokenizer.specials["unk"]]
    backend = Backend(models.WordLevel(vocab, unk_token=unk))
    if isinstance(tokenizer, CharTokenizer):
        backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
        backend.decoder = decoders.Fuse()
    else:
        if tokenizer.lowercase:
            backend.normalizer = normalizers.Lowercase()
        backend.pre_tokenizer = pre_tokenizers.Sequence(
            [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(r"\w+|[^\w\s]"), behavior="isolated")]
        )
    return backend.to_str()
