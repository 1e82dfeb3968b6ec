"""One base error: every failure Newsdesk explains in one line instead of a traceback."""


class NewsdeskError(Exception):
    """A failure with a message that names the file, setting or address and what to do."""
