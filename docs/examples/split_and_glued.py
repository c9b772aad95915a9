import socket, time
s = socket.create_connection(("127.0.0.1", 8089))
replies = s.makefile()
# Two requests in ONE write, no newline between them: TCP may deliver them in one read.
s.sendall(b'{"method_name": "add", "method_args": [1, 2]}{"method_name": "hi", "method_args": ["bob"]}')
print(replies.readline(), end="")
print(replies.readline(), end="")
# One request cut in THREE writes, with pauses: the server waits for the end of the object.
for piece in [b'{"method_name": "mul', b'tiply", "method_args"', b': [6, 7]}\n']:
    s.sendall(piece)
    time.sleep(0.3)
print(replies.readline(), end="")
