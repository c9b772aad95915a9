using System.Text.Json;
using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Lab.Protocol;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;

namespace Lab.Discovery.Etcd;

/// <summary>
/// The server side of discovery on etcd (<c>[registry] backend = etcd</c>): what the built-in
/// RegistryClient does with heartbeats, done with a lease. The server's key is attached to a lease of
/// <c>heartbeat_timeout</c> seconds, renewed every <c>heartbeat_interval</c>; when the server dies the
/// renewals stop and etcd itself deletes the key at lease expiry — no health checker needed.
/// </summary>
/// <remarks>
/// <para>
/// Etcd unreachable (or without a quorum): <see cref="KeepAliveLoopAsync"/> logs it once and retries with a
/// capped backoff while the server keeps serving, as the built-in RegistryClient's heartbeat loop does. A lease that expired meanwhile is granted anew and
/// the key written again, so the server reappears without a restart.
/// </para>
/// <para>Concurrency: <see cref="StartAsync"/> once, then <see cref="StopAsync"/>; the loop is the only other thread and the only one touching <see cref="_leaseId"/> until it has ended.</para>
/// <example>
/// <code>
/// await using var registration = new EtcdRegistration(registrySettings, serverSettings, logger);
/// await registration.StartAsync(instance);   // lease + key, then keep-alives in the background
/// await registration.StopAsync();            // key deleted, lease revoked
/// </code>
/// </example>
/// </remarks>
public sealed class EtcdRegistration : IServiceRegistration
{
    private readonly RegistrySettings _registry;
    private readonly ServerSettings _settings;
    private readonly ILogger<EtcdRegistration> _logger;
    private readonly TimeProvider _time;
    private readonly EtcdClient _etcd;
    private readonly CancellationTokenSource _stopping = new();
    private InstanceMeta? _instance;
    private Task? _keepAliveLoop;
    private long _leaseId;   // 0 = no lease yet, or it expired

    public EtcdRegistration(RegistrySettings registry, ServerSettings settings, ILogger<EtcdRegistration> logger, TimeProvider? timeProvider = null)
    {
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _time = timeProvider ?? TimeProvider.System;
        _etcd = EtcdConnection.Connect(registry);
        RegistryAddress = EtcdConnection.Describe(registry);
    }

    /// <inheritdoc/>
    public string RegistryAddress { get; }

    /// <summary>The lease's time to live: heartbeat_timeout, in whole seconds as etcd counts.</summary>
    public long LeaseTtlSeconds => Math.Max(1, (long)Math.Ceiling(_registry.HeartbeatTimeout.TotalSeconds));

    /// <inheritdoc/>
    public Task StartAsync(InstanceMeta instance, CancellationToken cancellationToken = default)
    {
        if (_instance is not null)
        {
            throw new InvalidOperationException("the etcd registration is already started");
        }

        _instance = instance ?? throw new ArgumentNullException(nameof(instance));
        _keepAliveLoop = KeepAliveLoopAsync(instance, _stopping.Token);
        return Task.CompletedTask;
    }

    /// <summary>Stops the keep-alives, then deletes the key and revokes the lease (each within registry_timeout). Never throws.</summary>
    public async Task<bool> StopAsync(CancellationToken cancellationToken = default)
    {
        if (_instance is null || _stopping.IsCancellationRequested)
        {
            return false;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        await _keepAliveLoop!.ConfigureAwait(false);
        try
        {
            // Deleting the key tells every watching client at once; revoking the lease would too, but
            // the delete alone works even if the lease is already gone.
            await CallAsync("delete", token => _etcd.DeleteAsync(new DeleteRangeRequest { Key = EtcdConnection.KeyOf(_registry, _instance) }, cancellationToken: token), cancellationToken).ConfigureAwait(false);
            if (_leaseId != 0)
            {
                await CallAsync("lease revoke", token => _etcd.LeaseRevokeAsync(new LeaseRevokeRequest { ID = _leaseId }, cancellationToken: token), cancellationToken).ConfigureAwait(false);
            }

            _logger.LogInformation("Unregistered from registry");
            return true;
        }
        catch (Exception ex) when (ex is RpcException or TimeoutException or OperationCanceledException)
        {
            _logger.LogInformation("Could not unregister from registry: {Reason}", ex.Message);
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        if (_keepAliveLoop is not null)
        {
            await _keepAliveLoop.ConfigureAwait(false);
        }

        _etcd.Dispose();
        _stopping.Dispose();
    }

    // The lease's keep-alive loop: write the key at once, then renew the lease every heartbeat_interval.
    // Any failure is an outage (etcd down, no quorum), logged once and retried with a capped backoff;
    // only the stop ends the loop, and StopAsync awaits it before deleting the key.
    private async Task KeepAliveLoopAsync(InstanceMeta instance, CancellationToken stoppingToken)
    {
        await Task.Yield();
        using var timer = new PeriodicTimer(_settings.HeartbeatInterval, _time);
        bool registeredOnce = false;
        bool inOutage = false;
        TimeSpan retryDelay = _settings.HeartbeatInterval / 4;
        try
        {
            while (true)
            {
                try
                {
                    await RenewAsync(instance, stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    if (!inOutage)
                        _logger.LogInformation("Registry unreachable at {Registry}: {Reason}; serving anyway and retrying", RegistryAddress, ex.Message);
                    else
                        _logger.LogDebug("Registry still unreachable: {Reason}", ex.Message);
                    inOutage = true;
                    await Task.Delay(retryDelay, _time, stoppingToken).ConfigureAwait(false);
                    retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, _settings.HeartbeatInterval.Ticks));
                    continue;
                }

                if (inOutage)
                    _logger.LogInformation("Registry reachable again; registered as {Instance}", instance);
                else if (!registeredOnce)
                    _logger.LogInformation("Registered with registry at {Registry} as {Instance}", RegistryAddress, instance);
                else
                    _logger.LogDebug("Heartbeat sent to {Registry}", RegistryAddress);
                (registeredOnce, inOutage, retryDelay) = (true, false, _settings.HeartbeatInterval / 4);
                await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped: the only way out. Stopping cancels a renewal in flight, however the client library
            // reports it (gRPC throws RpcException Cancelled, not OperationCanceledException).
        }
    }

    // One round of the keep-alive loop: renew the lease; without a live lease, grant one and write the key.
    private async Task RenewAsync(InstanceMeta instance, CancellationToken cancellationToken)
    {
        if (_leaseId != 0)
        {
            long ttl = await CallAsync("lease keep-alive", token => KeepAliveOnceAsync(_leaseId, token), cancellationToken).ConfigureAwait(false);
            if (ttl > 0)
            {
                return;
            }

            // The lease expired while etcd could not be reached: etcd has deleted the key. Start again.
            _logger.LogInformation("Lease {Lease:x} expired; granting a new one and writing the key again", _leaseId);
            _leaseId = 0;
        }

        LeaseGrantResponse lease = await CallAsync("lease grant",
            token => _etcd.LeaseGrantAsync(new LeaseGrantRequest { TTL = LeaseTtlSeconds }, cancellationToken: token), cancellationToken).ConfigureAwait(false);
        var put = new PutRequest
        {
            Key = EtcdConnection.KeyOf(_registry, instance),
            Value = ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes(instance, ProtocolJson.Options)),
            Lease = lease.ID,
        };
        await CallAsync("put", token => _etcd.PutAsync(put, cancellationToken: token), cancellationToken).ConfigureAwait(false);
        _leaseId = lease.ID;
        _logger.LogDebug("Key {Key} written with lease {Lease:x} (TTL {Ttl} s)", put.Key.ToStringUtf8(), lease.ID, LeaseTtlSeconds);
    }

    // LeaseKeepAlive is a stream; one request and its answer is one renewal. TTL 0 = the lease is gone.
    private async Task<long> KeepAliveOnceAsync(long leaseId, CancellationToken cancellationToken)
    {
        using AsyncDuplexStreamingCall<LeaseKeepAliveRequest, LeaseKeepAliveResponse> call =
            _etcd.GetConnection().LeaseClient.LeaseKeepAlive(cancellationToken: cancellationToken);
        await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = leaseId }, cancellationToken).ConfigureAwait(false);
        await call.RequestStream.CompleteAsync().ConfigureAwait(false);
        return await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false)
            ? call.ResponseStream.Current.TTL
            : throw new IOException("etcd closed the lease keep-alive stream without an answer");
    }

    private Task<T> CallAsync<T>(string what, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken) =>
        EtcdConnection.WithDeadlineAsync(what, _registry, _settings.RegistryTimeout, call, cancellationToken);
}
