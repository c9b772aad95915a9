using dotnet_etcd;
using Etcdserverpb;
using Grpc.Core;
using Lab.Protocol.Settings;
using Lab.Protocol.Discovery;
using Microsoft.Extensions.Logging;
using Mvccpb;
using IServiceDiscovery = Lab.Client.IServiceDiscovery;
using InstanceCache = Lab.Client.InstanceCache;

namespace Lab.Discovery.Etcd;

/// <summary>
/// The client side of discovery on etcd (<c>[registry] backend = etcd</c>): what the built-in
/// RegistryClient does by polling every <c>poll_interval</c>, done with a watch — etcd pushes each
/// change the moment it is committed.
/// </summary>
/// <remarks>
/// <para>
/// One range read of <c>{etcd_prefix}/services/json/</c> gives the list and the store's revision; the
/// watch then starts at the revision after it, so no change between the read and the watch is
/// missed. Each event updates the <see cref="InstanceCache"/>. A broken watch (member killed, quorum
/// lost, history compacted) is replaced by a fresh read and a new watch, with a capped backoff while
/// etcd cannot answer; the cache is kept meanwhile, exactly as with the built-in registry.
/// </para>
/// <para>
/// Concurrency: <see cref="_gate"/> guards <see cref="_known"/> and <see cref="_revision"/>; the watch
/// loop is owned by this object, started by <see cref="StartAsync"/>, stopped by <see cref="StopAsync"/>.
/// </para>
/// </remarks>
public sealed class EtcdDiscovery : IServiceDiscovery
{
    // A watch that loses its leader is cancelled by etcd instead of going silent (WithRequireLeader).
    private static readonly Metadata RequireLeader = new() { { "hasleader", "true" } };

    private readonly RegistrySettings _registry;
    private readonly ClientSettings _settings;
    private readonly ILogger<EtcdDiscovery> _logger;
    private readonly TimeProvider _time;
    private readonly EtcdClient _etcd;
    private readonly InstanceCache _cache;
    private readonly string _prefix;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private Dictionary<string, InstanceMeta> _known = [];
    private long _revision;
    private Task? _watchLoop;
    private int _disposed;

    public EtcdDiscovery(RegistrySettings registry, ClientSettings settings, ILogger<EtcdDiscovery> logger, TimeProvider? timeProvider = null)
    {
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _settings = settings ?? throw new ArgumentNullException(nameof(settings));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _time = timeProvider ?? TimeProvider.System;
        // The same bound on what discovery reads as the built-in registry's (max_registry_response_size).
        _etcd = EtcdConnection.Connect(registry, settings.MaxRegistryResponseSize);
        _prefix = EtcdConnection.ServicesPrefix(registry, InstanceMeta.JsonProtocol);
        RegistryAddress = EtcdConnection.Describe(registry);
        _cache = new InstanceCache(RegistryAddress, registry.HeartbeatTimeout, settings.UnreachableBan, logger, _time);
    }

    /// <inheritdoc/>
    public string RegistryAddress { get; }

    /// <inheritdoc/>
    public IReadOnlyList<InstanceMeta> Instances => _cache.Instances;

    /// <inheritdoc/>
    public bool RegistryDown => _cache.RegistryDown;

    /// <inheritdoc/>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_watchLoop is not null)
        {
            throw new InvalidOperationException("the etcd discovery is already started");
        }

        bool read = await RefreshAsync(cancellationToken).ConfigureAwait(false);
        _watchLoop = WatchLoopAsync(read, _stopping.Token);
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        if (_watchLoop is not null)
        {
            await _watchLoop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One range read: replaces the cache and sets the revision the next watch starts after.</summary>
    public async Task<bool> RefreshAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            RangeResponse range = await EtcdConnection.WithDeadlineAsync("range read", _registry, _settings.RegistryTimeout,
                token => _etcd.GetAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8(_prefix), RangeEnd = EtcdConnection.RangeEnd(_prefix) },
                    cancellationToken: token), cancellationToken).ConfigureAwait(false);
            var known = new Dictionary<string, InstanceMeta>();
            foreach (KeyValue kv in range.Kvs)
            {
                if (Parse(kv) is { } instance)
                {
                    known[kv.Key.ToStringUtf8()] = instance;
                }
            }

            lock (_gate)
            {
                (_known, _revision) = (known, range.Header.Revision);
                _cache.Replace(known.Values, emptyIsFinal: true);
            }

            return true;
        }
        catch (Exception ex) when (ex is RpcException or TimeoutException or IOException or InvalidOperationException && !cancellationToken.IsCancellationRequested)
        {
            if (!_cache.ReportOutage(ex.Message, _settings.PollInterval))
            {
                _logger.LogDebug("etcd read failed: {Reason}", ex.Message);
            }

            return false;
        }
    }

    /// <inheritdoc/>
    public bool Remove(InstanceMeta instance) => _cache.Remove(instance);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await StopAsync().ConfigureAwait(false);
        }
        finally
        {
            _etcd.Dispose();
            _stopping.Dispose();
        }
    }

    // Watch; when the watch breaks, read afresh and watch again. Any failure is retried (capped backoff
    // while reads fail); only stopping ends the loop.
    private async Task WatchLoopAsync(bool haveFreshRead, CancellationToken stoppingToken)
    {
        TimeSpan firstRetry = TimeSpan.FromMilliseconds(250);
        TimeSpan retryDelay = firstRetry;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (haveFreshRead || await RefreshAsync(stoppingToken).ConfigureAwait(false))
                {
                    retryDelay = firstRetry;
                    await WatchAsync(stoppingToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                _logger.LogInformation("etcd watch ended ({Reason}); reading the list again and watching anew", ex.Message);
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                break;   // stopping cancels the stream: the loop's normal end
            }

            haveFreshRead = false;
            try
            {
                await Task.Delay(retryDelay, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, _settings.PollInterval.Ticks));
        }

        _logger.LogDebug("etcd watch stopped");
    }

    private async Task WatchAsync(CancellationToken stoppingToken)
    {
        long startRevision;
        lock (_gate)
        {
            startRevision = _revision + 1;
        }

        using AsyncDuplexStreamingCall<WatchRequest, WatchResponse> watch =
            _etcd.GetConnection().WatchClient.Watch(RequireLeader, cancellationToken: stoppingToken);
        var create = new WatchCreateRequest
        {
            Key = Google.Protobuf.ByteString.CopyFromUtf8(_prefix),
            RangeEnd = EtcdConnection.RangeEnd(_prefix),
            StartRevision = startRevision,
        };
        // Creating the watch has a deadline like every call; the stream then lives as long as it is healthy.
        bool created = await EtcdConnection.WithDeadlineAsync("watch create", _registry, _settings.RegistryTimeout, async token =>
        {
            await watch.RequestStream.WriteAsync(new WatchRequest { CreateRequest = create }, token).ConfigureAwait(false);
            return await watch.ResponseStream.MoveNext(token).ConfigureAwait(false) && watch.ResponseStream.Current.Created;
        }, stoppingToken).ConfigureAwait(false);
        if (!created)
        {
            throw new IOException("etcd did not confirm the watch");
        }

        _logger.LogDebug("Watching {Prefix} from revision {Revision}", _prefix, startRevision);
        while (await watch.ResponseStream.MoveNext(stoppingToken).ConfigureAwait(false))
        {
            WatchResponse response = watch.ResponseStream.Current;
            if (response.Canceled)
            {
                throw new IOException(response.CompactRevision > 0
                    ? $"history compacted up to revision {response.CompactRevision}"
                    : $"cancelled by etcd: {response.CancelReason}");
            }

            Apply(response);
        }

        throw new IOException("etcd closed the watch stream");
    }

    private void Apply(WatchResponse response)
    {
        lock (_gate)
        {
            foreach (Event change in response.Events)
            {
                string key = change.Kv.Key.ToStringUtf8();
                if (change.Type == Event.Types.EventType.Put && Parse(change.Kv) is { } instance)
                {
                    _known[key] = instance;
                }
                else if (change.Type == Event.Types.EventType.Delete)
                {
                    _known.Remove(key);
                }
            }

            _revision = Math.Max(_revision, response.Header.Revision);
            if (response.Events.Count > 0)
            {
                _cache.Replace(_known.Values, emptyIsFinal: true);
            }
        }
    }

    // A value we cannot read is skipped, not fatal, so one bad key cannot hide every good server. Every way a
    // value can be unreadable (not JSON, "\ud800", bytes that are not UTF-8) is a FormatException here; one
    // that escaped as another exception used to fail the whole read, which kept no server at all.
    private InstanceMeta? Parse(KeyValue kv)
    {
        try
        {
            return InstanceMeta.Parse(kv.Value.Memory);
        }
        catch (FormatException ex)
        {
            _logger.LogWarning("Ignoring etcd key {Key}: {Reason}", kv.Key.ToStringUtf8(), ex.Message);
            return null;
        }
    }
}
