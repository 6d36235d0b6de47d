"""The Textual app: a thin layer over the engine (never imported by it).

Importing this package does not import Textual, so the CLI can read the
choices below without paying for it.
"""

RENDERER_CHOICES = ("auto", "kitty", "sixel", "halfcell", "unicode")
