"""Tools of the book: building, executing, checking and releasing it (``python -m tools.<name>``)."""
