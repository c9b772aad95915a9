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

    [Test]
    public void Longest_gap_and_phases_are_read_from_the_duration_summary()
    {
        OutputLine[] lines =
        [
            Out("Summary: 43 succeeded, 0 failed"),
            Out("  127.0.0.1:8089: 43 succeeded, 0 failed"),
            Out("Longest gap without a completed call: 0.42 s"),
            Out("Phase start (from 0.0 s): 30 calls, p50 0.41 ms, p99 3.20 ms, max 3.50 ms, longest gap 0.05 s"),
            Out("Phase link down (from 5.2 s): 13 calls, p50 0.50 ms, p99 1200.00 ms, max 1200.00 ms, longest gap 0.42 s"),
        ];

        ClientOutput.LongestGap(lines).ShouldBe(0.42);
        ClientOutput.Phases(lines).ShouldBe([
            new PrintedPhase("start", 0.0, 30, 0.41, 3.20, 3.50, 0.05),
            new PrintedPhase("link down", 5.2, 13, 0.50, 1200.00, 1200.00, 0.42),
        ]);
        ClientOutput.Phases(lines)[1].ToString().ShouldBe("link down: 13 calls, p50 0.50 ms, p99 1200.00 ms, max 1200.00 ms, longest gap 0.42 s");
        // The per-server block stops at the first line that is not a server line.
        ClientOutput.Summary(lines)!.PerServer.Keys.ShouldBe(["127.0.0.1:8089"]);
    }

    [Test]
    public void No_gap_line_gives_null()
    {
        ClientOutput.LongestGap([Out("Summary: 1 succeeded, 0 failed")]).ShouldBeNull();
    }
}
