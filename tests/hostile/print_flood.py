while True:
    print("flood " * 50)
