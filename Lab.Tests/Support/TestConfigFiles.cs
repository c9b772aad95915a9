namespace Lab.Tests.Support;

/// <summary>
/// The configuration files a test writes for the code under test (short timings, the test's own
/// registry port), each under a unique temporary name; <see cref="Dispose"/> deletes them all, so no
/// test leaves files behind and parallel tests never share one.
/// <code>
/// using var configFiles = new TestConfigFiles();
/// string path = configFiles.Write("server", "[server]\nread_timeout = 0.5\n");
/// </code>
/// </summary>
public sealed class TestConfigFiles : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<string> _paths = [];

    /// <summary>Writes <paramref name="ini"/> to a new file named after <paramref name="purpose"/>; returns its path.</summary>
    public string Write(string purpose, string ini)
    {
        string path = Path.Combine(Path.GetTempPath(), $"rpclab-{purpose}-test-{Guid.NewGuid():N}.ini");
        lock (_gate)
        {
            _paths.Add(path);
        }

        File.WriteAllText(path, ini);
        return path;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (string path in _paths)
            {
                File.Delete(path);
            }

            _paths.Clear();
        }
    }
}
