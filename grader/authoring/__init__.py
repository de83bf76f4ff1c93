"""Tools for the people who write the course material, apart from the grading path.

``notebooks`` makes the kit's notebooks from their scripts, ``catalog`` keeps the translation catalog in
step with the code (``python -m grader.authoring.catalog extract|compile``), and ``bundle`` packs the kit
as a Gradescope autograder.  Nothing that grades a submission imports them.
"""
