using Lab.Protocol.Settings;

namespace Lab.Hosting;

/// <summary>Fills the settings records of <c>Lab.Protocol/Settings</c> from the merged configuration, one
/// method per <c>config.ini</c> section. A key that is absent keeps the record's documented default;
/// a value that cannot be used throws a <see cref="ConfigurationException"/> naming the file, section
/// and key.</summary>
/// <example><code>
/// LabConfiguration configuration = LabConfiguration.Load(explicitPath: null);
/// ServerSettings server = SettingsReader.ReadServer(configuration);
/// </code></example>
public static class SettingsReader
{
    /// <summary><c>[server]</c>, over the defaults of <see cref="ServerSettings"/>.</summary>
    public static ServerSettings ReadServer(LabConfiguration configuration)
    {
        ConfigSection section = configuration.Section(ServerSettings.SectionName);
        var defaults = new ServerSettings();
        return new ServerSettings
        {
            Host = section.GetString("host", defaults.Host),
            Port = section.GetInt("port", defaults.Port, 0, 65535),
            AdvertiseHost = section.GetString("advertise_host", defaults.AdvertiseHost),
            HeartbeatInterval = section.GetSeconds("heartbeat_interval", defaults.HeartbeatInterval.TotalSeconds),
            RegistryTimeout = section.GetSeconds("registry_timeout", defaults.RegistryTimeout.TotalSeconds),
            ReadTimeout = section.GetSeconds("read_timeout", defaults.ReadTimeout.TotalSeconds),
            WriteTimeout = section.GetSeconds("write_timeout", defaults.WriteTimeout.TotalSeconds),
            MethodTimeout = section.GetSeconds("method_timeout", defaults.MethodTimeout.TotalSeconds),
            DrainTimeout = section.GetSeconds("drain_timeout", defaults.DrainTimeout.TotalSeconds),
            MaxMessageSize = section.GetInt("max_message_size", defaults.MaxMessageSize, 64, 256 * 1024 * 1024),
            MaxConcurrentCalls = section.GetInt("max_concurrent_calls", defaults.MaxConcurrentCalls, 1, 4096),
            MaxConnections = section.GetInt("max_connections", defaults.MaxConnections, 1, 1_000_000),
            IdleTimeout = section.GetSeconds("idle_timeout", defaults.IdleTimeout.TotalSeconds),
        };
    }

    /// <summary><c>[client]</c>, over the defaults of <see cref="ClientSettings"/>.</summary>
    public static ClientSettings ReadClient(LabConfiguration configuration)
    {
        ConfigSection section = configuration.Section(ClientSettings.SectionName);
        var defaults = new ClientSettings();
        return new ClientSettings
        {
            Mode = section.GetEnum("mode", defaults.Mode),
            Host = section.GetString("host", defaults.Host),
            Port = section.GetInt("port", defaults.Port, 0, 65535),
            PollInterval = section.GetSeconds("poll_interval", defaults.PollInterval.TotalSeconds),
            RegistryTimeout = section.GetSeconds("registry_timeout", defaults.RegistryTimeout.TotalSeconds),
            ConnectTimeout = section.GetSeconds("connect_timeout", defaults.ConnectTimeout.TotalSeconds),
            WriteTimeout = section.GetSeconds("write_timeout", defaults.WriteTimeout.TotalSeconds),
            CallTimeout = section.GetSeconds("call_timeout", defaults.CallTimeout.TotalSeconds),
            ReadTimeout = section.GetSeconds("read_timeout", defaults.ReadTimeout.TotalSeconds),
            CallDeadline = section.GetSeconds("call_deadline", defaults.CallDeadline.TotalSeconds),
            MaxAttempts = section.GetInt("max_attempts", defaults.MaxAttempts, 1, 1000),
            MaxRegistryResponseSize = section.GetInt("max_registry_response_size", defaults.MaxRegistryResponseSize, 1024, 256 * 1024 * 1024),
            LoadBalance = section.GetEnum("load_balance", defaults.LoadBalance),
            MaxMessageSize = section.GetInt("max_message_size", defaults.MaxMessageSize, 64, 256 * 1024 * 1024),
            MaxIdleConnectionsPerServer = section.GetInt("max_idle_connections_per_server", defaults.MaxIdleConnectionsPerServer, 0, 10_000),
            SilentAfter = section.GetSeconds("silent_after", defaults.SilentAfter.TotalSeconds),
            ProbeTimeout = section.GetSeconds("probe_timeout", defaults.ProbeTimeout.TotalSeconds),
            UnreachableBan = section.GetSeconds("unreachable_ban", defaults.UnreachableBan.TotalSeconds),
        };
    }

    /// <summary><c>[registry]</c>, over the defaults of <see cref="RegistrySettings"/>.</summary>
    public static RegistrySettings ReadRegistry(LabConfiguration configuration)
    {
        ConfigSection section = configuration.Section(RegistrySettings.SectionName);
        var defaults = new RegistrySettings();
        return new RegistrySettings
        {
            Host = section.GetString("host", defaults.Host),
            Port = section.GetInt("port", defaults.Port, 0, 65535),
            HealthCheckInterval = section.GetSeconds("health_check_interval", defaults.HealthCheckInterval.TotalSeconds),
            HeartbeatTimeout = section.GetSeconds("heartbeat_timeout", defaults.HeartbeatTimeout.TotalSeconds),
            SelfPreservationPercent = section.GetInt("self_preservation_percent", defaults.SelfPreservationPercent, 0, 100),
            SelfPreservationLimit = section.GetSeconds("self_preservation_limit", defaults.SelfPreservationLimit.TotalSeconds, allowZero: true),
            MaxBodySize = section.GetInt("max_body_size", defaults.MaxBodySize, 256, 16 * 1024 * 1024),
            MaxInstances = section.GetInt("max_instances", defaults.MaxInstances, 1, 1_000_000),
            MaxParametersSize = section.GetInt("max_parameters_size", defaults.MaxParametersSize, 2, 16 * 1024 * 1024),
            Token = section.GetString("token", defaults.Token),
            Backend = section.GetEnum("backend", defaults.Backend),
            EtcdEndpoints = section.GetString("etcd_endpoints", defaults.EtcdEndpoints),
            EtcdPrefix = section.GetString("etcd_prefix", defaults.EtcdPrefix).TrimEnd('/'),
        };
    }

    /// <summary><c>[logging]</c>, over the defaults of <see cref="LogSettings"/>.</summary>
    public static LogSettings ReadLogging(LabConfiguration configuration)
    {
        ConfigSection section = configuration.Section(LogSettings.SectionName);
        var defaults = new LogSettings();
        return new LogSettings
        {
            Level = section.GetEnum("level", defaults.Level),
            File = section.GetString("file", defaults.File),
        };
    }
}
