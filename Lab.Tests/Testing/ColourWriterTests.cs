using System.Diagnostics;
using Lab.Tests.Scenarios;
using Lab.Testing;

namespace Lab.Tests.Testing;

/// <summary>Verdicts are coloured on a terminal and plain everywhere else, so reports and parsers see the same text.</summary>
public class ColourWriterTests
{
    private const string Escape = "\u001b[";

    [Test]
    public void Verdict_words_get_colour_codes_and_the_text_between_them_is_unchanged()
    {
        string line = ColourWriter.Colourise("+ 0.63s  check  [ok]   registered; PASS; FAIL: x; SKIP; WARN  TcpServer; ERROR Registry; [FAIL] y");

        line.ShouldContain($"{Escape}32;1m[ok]{Escape}0m");
        line.ShouldContain($"{Escape}32;1mPASS{Escape}0m");
        line.ShouldContain($"{Escape}31;1mFAIL{Escape}0m: x");
        line.ShouldContain($"{Escape}31;1m[FAIL]{Escape}0m y");
        line.ShouldContain($"{Escape}33mSKIP{Escape}0m");
        line.ShouldContain($"{Escape}33mWARN{Escape}0m");
        line.ShouldContain($"{Escape}31;1mERROR{Escape}0m");
        StripColour(line).ShouldBe("+ 0.63s  check  [ok]   registered; PASS; FAIL: x; SKIP; WARN  TcpServer; ERROR Registry; [FAIL] y");
    }

    [Test]
    public void Words_that_only_contain_a_verdict_stay_plain()
    {
        ColourWriter.Colourise("PASSED FAILURES ERRORS no-FAIL SKIPPED WARNING").ShouldNotContain(Escape);
    }

    [TestCase(false, null, "xterm", true)]
    [TestCase(true, null, "xterm", false)]
    [TestCase(false, "1", "xterm", false)]
    [TestCase(false, "", "xterm", true)]
    [TestCase(false, null, "dumb", false)]
    public void Colour_only_on_a_terminal_without_NO_COLOR(bool redirected, string? noColor, string term, bool expected)
    {
        ColourWriter.ShouldColour(redirected, name => name switch { "NO_COLOR" => noColor, "TERM" => term, _ => null }).ShouldBe(expected);
    }

    [Test]
    public void Writer_colours_whole_lines_written_in_pieces()
    {
        var inner = new StringWriter { NewLine = "\n" };
        using (var writer = new ColourWriter(inner))
        {
            writer.Write("PA");
            writer.Write("SS  (1.5 s)\nnext ");
            writer.WriteLine("FAIL");
        }

        inner.ToString().ShouldBe($"{Escape}32;1mPASS{Escape}0m  (1.5 s)\nnext {Escape}31;1mFAIL{Escape}0m\n");
    }

    [Test]
    public void Progress_line_counts_steps_and_estimates_from_the_steps_done()
    {
        ProgressLine.Format(1, 4, "happy-path", TimeSpan.FromSeconds(0.2)).ShouldBe("[1/4] happy-path  elapsed 0:00, no estimate yet");
        ProgressLine.Format(3, 4, "server-killed", TimeSpan.FromSeconds(40)).ShouldBe("[3/4] server-killed  elapsed 0:40, about 0:40 left");
    }

    [Test]
    public async Task Runner_on_a_terminal_prints_progress_and_coloured_verdicts()
    {
        // util-linux's script gives the runner a pseudo-terminal, as a teaching assistant's shell would.
        if (!File.Exists("/usr/bin/script"))
        {
            Assert.Ignore("needs util-linux's script to run the runner on a pseudo-terminal");
        }

        var start = new ProcessStartInfo("/usr/bin/script")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        string report = Path.Combine(Path.GetTempPath(), $"rpclab-tty-{Guid.NewGuid():N}.md");
        string command = $"'{ScenarioTestSupport.Programs.DotnetHost}' '{ProgramTests.RunnerDll}' discovery --report '{report}'";
        foreach (string argument in new[] { "-q", "-e", "-f", "-c", command, "/dev/null" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("NO_COLOR");
        start.Environment["TERM"] = "xterm";
        using Process process = Process.Start(start)!;
        try
        {
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync(new CancellationTokenSource(ScenarioTestSupport.ScenarioTimeout).Token);
            string text = await output;

            process.ExitCode.ShouldBe(0, text);
            text.ShouldContain("[1/1] discovery  elapsed 0:00, no estimate yet");
            text.ShouldContain($"{Escape}32;1m[ok]{Escape}0m");
            text.ShouldContain($"{Escape}32;1mPASS{Escape}0m");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            File.Delete(report);
            File.Delete(Path.ChangeExtension(report, ".json"));
        }
    }

    private static string StripColour(string text) => System.Text.RegularExpressions.Regex.Replace(text, @"\u001b\[[0-9;]*m", "");
}
