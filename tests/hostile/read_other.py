import glob

for path in glob.glob("/tmp/**/backprop_linear.py", recursive=True):
    print(open(path).read())
