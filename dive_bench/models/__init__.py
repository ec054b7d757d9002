"""Architectures and presets we define or configure ourselves."""
