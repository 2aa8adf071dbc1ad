"""Text and sequence models: recurrent and convolutional classifiers, encoder-decoders, language models,
transformers, and transfer from Hugging Face encoders. Importing the package registers every family."""

from zoo.text import bert, gpt, hf, rnn, rnn_lm, seq2seq_rnn, t5, tcn, transformer  # noqa: F401
