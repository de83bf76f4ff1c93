"""backprop-grader: grade the backpropagation assignments of lecture 4 by observing autograd."""

__version__ = "0.1.0"
