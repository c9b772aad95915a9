import socket
s = socket.create_connection(("127.0.0.1", 8089))
s.sendall(b'this is not json\n')
print(s.makefile().readline(), end="")
print("then:", repr(s.recv(100)))
