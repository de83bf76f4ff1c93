import subprocess

subprocess.run(["sh", "-c", "echo hacked"])
