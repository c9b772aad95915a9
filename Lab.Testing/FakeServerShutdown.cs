using System.Collections.Concurrent;
using System.Net.Sockets;

namespace Lab.Testing;

/// <summary>How every fake server in the kit stops, so none leaves a socket or a task behind.</summary>
public static class FakeServerShutdown
{
    /// <summary>
    /// Cancels <paramref name="stopping"/>, closes the listener and every open connection (calls in
    /// progress included), awaits the accept loop and every connection task, then disposes
    /// <paramref name="stopping"/>.
    /// </summary>
    public static async Task StopAsync(CancellationTokenSource stopping, Socket listener, ConcurrentDictionary<Socket, Task> connections, Task acceptLoop)
    {
        await stopping.CancelAsync();
        listener.Dispose();
        foreach (Socket socket in connections.Keys)
        {
            socket.Dispose();
        }

        await acceptLoop;
        await Task.WhenAll(connections.Values);
        stopping.Dispose();
    }
}
