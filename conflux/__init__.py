"""Conflux."""
