using Lab.Scenarios.Harness;
using Lab.Scenarios.Scenarios;

namespace Lab.Tests.Scenarios;

public class ClientOutputTests
{
    private static OutputLine Out(string text) => new(DateTimeOffset.UtcNow, IsError: false, text);

    [Test]
    public void Call_lines_give_method_arguments_result_and_server_also_with_a_trailing_verdict()
    {
        OutputLine[] lines =
        [
            Out("add(1, 2) = 13  [server 127.0.0.1:8089]"),
            Out("hi(\"bob\") = \"hi bob, welcome\"  [server [::1]:9000]  expected \"hi bob, welcome\": ok"),
            Out("divide(1, 0) failed: MethodFailed: Division by zero error!  [server 127.0.0.1:8089]"),
            Out("2026-11-25 19:30:01.123 INFO  RegistryClient: Server cache updated"),
        ];

        IReadOnlyList<PrintedCall> calls = ClientOutput.Calls(lines);

        calls.ShouldBe([
            new PrintedCall("add", "1, 2", "13", "127.0.0.1:8089"),
            new PrintedCall("hi", "\"bob\"", "\"hi bob, welcome\"", "[::1]:9000"),
        ]);
    }

    [Test]
    public void Summary_reads_the_totals_and_one_line_per_server()
    {
        OutputLine[] lines =
        [
            Out("[  1s] 10 succeeded, 0 failed"),
            Out("Summary: 43 succeeded, 1 failed"),
            Out("  127.0.0.1:8089: 22 succeeded, 0 failed"),
            Out("  [::1]:8090: 21 succeeded, 1 failed"),
        ];

        PrintedSummary summary = ClientOutput.Summary(lines).ShouldNotBeNull();

        summary.Succeeded.ShouldBe(43);
        summary.Failed.ShouldBe(1);
        summary.PerServer["127.0.0.1:8089"].ShouldBe((22L, 0L));
        summary.PerServer["[::1]:8090"].ShouldBe((21L, 1L));
    }

    [Test]
    public void No_summary_line_gives_null()
    {
        ClientOutput.Summary([Out("add(1, 2) = 13  [server 127.0.0.1:8089]")]).ShouldBeNull();
    }

    [Test]
    public void Progress_lines_are_read_in_order()
    {
        OutputLine[] lines = [Out("[  1s] 1234 succeeded, 0 failed"), Out("noise"), Out("[ 12s] 99999 succeeded, 2 failed")];

        ClientOutput.Progress(lines).ShouldBe([(1234L, 0L), (99999L, 2L)]);
    }
}
