import socket
s = socket.create_connection(("127.0.0.1", 8089))
s.sendall(b'{"method_name": "all_your_methods"}\n')
print(s.makefile().readline(), end="")
