"""Text and sequence models: recurrent and convolutional classifiers, encoder-decoders, transfer, transformers."""
