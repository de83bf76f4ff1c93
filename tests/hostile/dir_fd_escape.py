# Opens a folder outside its own (allowed to read: /proc/self) and opens other files relative to it, where
# the audit hook's path rules do not look.
import os

base = os.open("/proc/self", os.O_RDONLY | os.O_DIRECTORY)
fd = os.open("root/etc/hostname", os.O_RDONLY, dir_fd=base)
print("read through dir_fd:", os.read(fd, 100))
