import json, socket, threading, time
def call(results, i):
    s = socket.create_connection(("127.0.0.1", 8089))
    s.sendall(json.dumps({"method_name": "rendezvous", "method_args": ["demo", 10]}).encode() + b"\n")
    results[i] = s.makefile().readline().strip()
results = [None] * 10
started = time.time()
threads = [threading.Thread(target=call, args=(results, i)) for i in range(10)]
for t in threads: t.start()
for t in threads: t.join()
print(results)
print(f"10 calls, all answered in {time.time() - started:.2f} s")
