"""Tools for the people who write the course material, apart from the grading path.

``notebooks`` makes the kit's notebooks from their scripts, ``catalog`` is the extractor Babel reads the
code's messages with (``pybabel extract|update|compile``), and ``bundle`` packs the kit
as a Gradescope autograder.  Nothing that grades a submission imports them.
"""
