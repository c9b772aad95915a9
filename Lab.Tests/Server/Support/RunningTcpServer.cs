using System.Net;
using Lab.Protocol.Settings;
using Lab.Server;
using Microsoft.Extensions.Logging;
using Lab.Server.Demo;

namespace Lab.Tests.Server.Support;

/// <summary>A started <see cref="TcpServer"/> with the demo methods, on a free loopback port, recording its log.</summary>
internal sealed class RunningTcpServer : IAsyncDisposable
{
    private readonly ILoggerFactory _loggerFactory;

    public RunningTcpServer(ServerSettings? settings = null, Action<ServerStub>? register = null)
    {
        Settings = settings ?? TestSettings.Server();
        _loggerFactory = Log.CreateFactory();
        Stub = new ServerStub(Settings.MethodTimeout, _loggerFactory.CreateLogger<ServerStub>(), Settings.MaxConcurrentCalls);
        new DemoMethods().RegisterAll(Stub);
        register?.Invoke(Stub);
        Server = new TcpServer(Stub, Settings, _loggerFactory);
        Server.Start();
    }

    public LogRecorder Log { get; } = new();

    public ServerSettings Settings { get; }

    public ServerStub Stub { get; }

    public TcpServer Server { get; }

    public IPEndPoint EndPoint => Server.LocalEndPoint;

    public Task<RawRpcConnection> ConnectAsync(int? receiveBufferSize = null) => RawRpcConnection.ConnectAsync(EndPoint, receiveBufferSize);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        _loggerFactory.Dispose();
    }
}
