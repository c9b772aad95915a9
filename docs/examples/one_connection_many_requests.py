import socket
s = socket.create_connection(("127.0.0.1", 8089))
replies = s.makefile()
for request in [b'{"method_name": "divide", "method_args": [1, 0]}\n',
                b'{"method_name": "nosuch"}\n',
                b'{"method_name": "add", "method_args": ["one", 2]}\n',
                b'[1, 2, 3]\n',
                b'{"method_args": [1, 2]}\n',
                b'{"method_name": "add", "method_args": [1, 2]}\n']:
    s.sendall(request)
    print(replies.readline(), end="")
