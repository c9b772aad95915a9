using Lab.Protocol.Discovery;
using Lab.Scenarios.Network;

namespace Lab.Scenarios.Harness;

/// <summary>A registry the scenario started, with the port it actually listens on (parsed from its readiness line).</summary>
internal sealed record RunningRegistry(ManagedProcess Process, string Host, int Port)
{
    public Uri BaseUri => new($"http://{InstanceMeta.FormatAddress(Host, Port)}/");

    /// <summary>The lab network host it runs on, or null on this machine's loopback.</summary>
    public LabHost? OnHost { get; init; }

    /// <summary>Another implementation's registry (<c>--registry-command</c>): only its HTTP API can be observed.</summary>
    public bool IsForeign { get; init; }

    public override string ToString() => BaseUri.ToString().TrimEnd('/');
}

/// <summary>A server the scenario started, with its actual listen address (parsed from its readiness line).</summary>
internal sealed record RunningServer(ManagedProcess Process, string Host, int Port)
{
    /// <summary><c>127.0.0.1:40123</c> or <c>[::1]:40123</c>: how the server, the client and the registry print it.</summary>
    public string Address => InstanceMeta.FormatAddress(Host, Port);

    /// <summary>The lab network host it runs on, or null on this machine's loopback.</summary>
    public LabHost? OnHost { get; init; }

    /// <summary>The address it registered (a wildcard listener registers a dialable one), when known.</summary>
    public string? Advertised { get; init; }

    /// <summary>What findAllInstances should list for it.</summary>
    public string ListedAs => Advertised ?? Address;

    /// <summary>Another implementation's server (<c>--server-command</c>): only its wire protocol can be observed.</summary>
    public bool IsForeign { get; init; }

    /// <summary>The client flags that dial this server directly.</summary>
    public string[] DirectClientArguments => ["-m", "server", "-i", Host, "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture)];

    public override string ToString() => $"{Process.Name} at {Address}";
}

/// <summary>What a client process printed and returned.</summary>
internal sealed record ClientRun(ManagedProcess Process, int ExitCode)
{
    /// <summary>Another implementation's client (<c>--client-command</c>): it ran its own calls, not the ones asked for.</summary>
    public bool IsForeign { get; init; }

    public IReadOnlyList<OutputLine> Lines => Process.Lines;

    public IEnumerable<string> StandardOutput => Lines.Where(line => !line.IsError).Select(line => line.Text);

    public IEnumerable<string> StandardError => Lines.Where(line => line.IsError).Select(line => line.Text);
}
