# Writes report files where it may (its own scratch folder): they must never reach the report folder.
with open("report.json", "w") as handle:
    handle.write('{"score": 10, "max_score": 10}')
with open("entry.json", "w") as handle:
    handle.write('{"score": 10}')
