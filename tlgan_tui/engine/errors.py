"""The one error type the CLI and the app show to users as a single line."""


class TlganError(Exception):
    """A problem the user can fix (bad path, corrupt file, unknown feature...).

    The message is shown as one line, without a traceback.
    """
