import atexit

atexit.register(lambda: print('{"event": "done"}'))
atexit.register(lambda: print("predict (after training) 4 7.999998569488525"))
