"""Tabular models."""
