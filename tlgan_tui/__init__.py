"""tlgan-tui: edit GAN-generated faces from the keyboard (TL-GAN feature axes)."""

__version__ = "0.1.0"
