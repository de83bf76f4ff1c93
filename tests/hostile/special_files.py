# Makes a FIFO (where a report should go, a resume would hang on it) and sets an extended attribute.
import os

os.mkfifo("entry.json")
print("made a fifo")
