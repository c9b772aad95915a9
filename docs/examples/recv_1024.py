import json, socket
s = socket.create_connection(("127.0.0.1", 8089))
request = json.dumps({"method_name": "echo", "method_args": ["x" * 3000]}).encode() + b"\n"
s.sendall(request)
first = s.recv(1024)          # what the original lab did: one recv, assumed to be the whole reply
print(len(request), "bytes sent;", len(first), "bytes in the first recv(1024)")
try:
    json.loads(first)
except ValueError as e:
    print("json.loads failed:", e)
