# Reads and writes the process's memory through ctypes, without loading any library: from_address,
# addressof and string_at raise only "ctypes.cdata", "ctypes.addressof" and "ctypes.string_at" events.
import ctypes

secret = b"grader key?"
address = id(secret)
print("read", ctypes.string_at(address, 16))  # refused while grading
print("object", ctypes.py_object.from_address(address))
