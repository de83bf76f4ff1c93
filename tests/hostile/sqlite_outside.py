# sqlite3 creates the database file itself, with no "open" audit event.
import sqlite3

connection = sqlite3.connect("/tmp/grader-sqlite-escape.db")
connection.execute("create table t (x)")
connection.commit()
print("wrote a database outside its folder")
