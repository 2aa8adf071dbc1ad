"""Text and sequence models: recurrent networks, attention encoders/decoders, language models."""
