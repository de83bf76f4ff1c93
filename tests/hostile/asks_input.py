epochs = int(input("how many epochs? "))
