blocks = []
while True:
    blocks.append(bytearray(200 * 1024 * 1024))
