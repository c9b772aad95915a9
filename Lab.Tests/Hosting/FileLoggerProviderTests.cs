using Lab.Hosting;
using Lab.Protocol.Settings;
using Microsoft.Extensions.Logging;

namespace Lab.Tests.Hosting;

/// <summary>The optional log file of <c>[logging] file</c>: the same lines as the console, appended.</summary>
[Parallelizable(ParallelScope.All)]
public class FileLoggerProviderTests
{
    [Test]
    public void Lines_are_appended_to_the_file_in_the_lab_format_creating_its_folder()
    {
        string directory = Path.Combine(Path.GetTempPath(), "rpclab-log-" + Guid.NewGuid().ToString("N"));
        string path = Path.Combine(directory, "nested", "registry.log");
        try
        {
            using (var provider = new FileLoggerProvider(path))
            {
                provider.CreateLogger("Lab.Registry.RegistryService").LogInformation("Registered {Instance}", "json://127.0.0.1:8080");
            }

            using (ILoggerFactory factory = LabLogging.CreateFactory(new LogSettings { Level = LogLevel.Warning, File = path }))
            {
                ILogger logger = factory.CreateLogger("Lab.Registry.HealthChecker");
                logger.LogInformation("below the level: not written");
                logger.LogWarning("second line");
            }

            string[] lines = File.ReadAllLines(path);
            lines.Length.ShouldBe(2);
            lines[0].ShouldEndWith(" INFO  RegistryService: Registered json://127.0.0.1:8080");
            lines[1].ShouldEndWith(" WARN  HealthChecker: second line");
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
