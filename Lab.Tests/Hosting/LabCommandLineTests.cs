using Lab.Hosting;
using Lab.Protocol;
using Lab.Protocol.Settings;

namespace Lab.Tests.Hosting;

/// <summary>The shared fatal-error rule: one clear line on standard error and a non-zero exit code.</summary>
[NonParallelizable]
public class LabCommandLineTests
{
    [Test]
    public async Task Normal_exit_code_passes_through()
    {
        (int code, string errors) = await RunAsync(() => Task.FromResult(0));

        code.ShouldBe(0);
        errors.ShouldBeEmpty();
    }

    [Test]
    public async Task Configuration_error_is_one_line_and_exit_code_2()
    {
        (int code, string errors) = await RunAsync(() => throw new ConfigurationException("config.ini: [registry] port = \"x\" is not a whole number"));

        code.ShouldBe(LabCommandLine.ConfigurationErrorExitCode);
        errors.ShouldBe("Lab.Test: configuration error: config.ini: [registry] port = \"x\" is not a whole number" + Environment.NewLine);
    }

    [Test]
    public async Task Any_other_fault_is_one_line_and_exit_code_1()
    {
        (int code, string errors) = await RunAsync(() => throw new IOException("address already in use"));

        code.ShouldBe(LabCommandLine.FatalErrorExitCode);
        errors.ShouldBe("Lab.Test: fatal: address already in use" + Environment.NewLine);
    }

    [Test]
    public void Config_option_is_named_config()
    {
        LabCommandLine.CreateConfigOption().Name.ShouldBe("--config");
    }

    // Console.Error is process-wide: these tests do not run in parallel with each other or anything else.
    private static async Task<(int Code, string Errors)> RunAsync(Func<Task<int>> body)
    {
        TextWriter original = Console.Error;
        using var errors = new StringWriter();
        Console.SetError(errors);
        try
        {
            int code = await LabCommandLine.RunFatalSafeAsync("Lab.Test", body);
            return (code, errors.ToString());
        }
        finally
        {
            Console.SetError(original);
        }
    }
}
