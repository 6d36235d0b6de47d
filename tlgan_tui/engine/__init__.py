"""The engine: generators, extractors, sampling, axes, editing, export.

Nothing under this package imports Textual; the app and the CLI sit on top.
"""
