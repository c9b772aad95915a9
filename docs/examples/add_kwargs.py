import socket
s = socket.create_connection(("127.0.0.1", 8089))
s.sendall(b'{"method_name": "add", "method_args": [1, 2], "method_kwargs": {"c": 5}}\n')
print(s.makefile().readline(), end="")
