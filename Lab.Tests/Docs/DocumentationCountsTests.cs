using System.Collections;
using System.Globalization;
using System.Text.RegularExpressions;
using Lab.Protocol.Messages;
using Lab.Scenarios;
using Lab.Scenarios.Scenarios;
using Lab.Server;
using Lab.Server.Demo;

namespace Lab.Tests.Docs;

/// <summary>
/// Counts the prose states ("seven error codes", "all 40 scenarios", "registers 14 methods") are
/// checked against the code they count, wherever a page says them, in digits or in words: a new error
/// code, scenario or method fails this test until the pages say the new number.
/// </summary>
[TestFixture]
public sealed partial class DocumentationCountsTests
{
    private static readonly string[] NumberWords =
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"];

    [Test]
    public async Task Every_count_the_pages_state_is_the_count_in_the_code()
    {
        IReadOnlyList<(Regex Phrase, int Count, string What)> rules = await RulesAsync();
        string root = DocumentationFiles.RepositoryRoot();
        List<string> wrong = [];
        int checkedCounts = 0;
        foreach (string path in DocumentationFiles.MarkdownFiles(root))
        {
            string[] lines = Prose(File.ReadAllText(Path.Combine(root, path)));
            for (int index = 0; index < lines.Length; index++)
            {
                foreach ((Regex phrase, int count, string what) in rules)
                {
                    foreach (Match match in phrase.Matches(lines[index]))
                    {
                        checkedCounts++;
                        if (ParseNumber(match.Groups["n"].Value) is { } stated && stated != count)
                        {
                            wrong.Add($"{path}:{index + 1}: \"{match.Value}\" says {stated}, but there are {count} {what}");
                        }
                    }
                }
            }
        }

        wrong.ShouldBeEmpty();
        checkedCounts.ShouldBeGreaterThan(5, "the pages state these counts; a vacuous pass would check none");
    }

    [TestCase("the seven error codes", 7)]
    [TestCase("all 40 scenarios", 40)]
    [TestCase("all forty scenarios", 40)]
    public void A_count_reads_in_digits_or_in_words(string text, int count) =>
        ParseNumber(NumberInPhrase().Match(text).Groups["n"].Value).ShouldBe(count);

    // The counts, each from the code, with the phrases that state them.
    private static async Task<IReadOnlyList<(Regex, int, string)>> RulesAsync()
    {
        var stub = new ServerStub(TimeSpan.FromSeconds(1));
        new DemoMethods().RegisterAll(stub);
        CallResult listed = await stub.DispatchAsync(new RpcRequest(RpcRequest.DiscoveryMethodName, [], new Dictionary<string, System.Text.Json.JsonElement>()));
        int methods = ((IEnumerable)listed.Value!).Cast<object>().Count();
        int scenarios = ScenarioCatalog.All.Count;
        string rubricPath = Path.Combine(DocumentationFiles.RepositoryRoot(), "Lab.Scenarios", "rubric.ini");
        int rubric = Rubric.Load(rubricPath, ScenarioCatalog.All.Select(scenario => scenario.Name)).Points.Count;
        const string N = @"(?<n>\d+|[a-z]+)";
        return
        [
            (new Regex($@"\b{N} error codes\b"), Enum.GetValues<RpcErrorCode>().Length, "error codes (RpcErrorCode)"),
            (new Regex($@"\ball {N} scenarios\b|\b{N} scenarios in all\b|\bof the {N} scenarios\b"), scenarios, "scenarios in ScenarioCatalog"),
            (new Regex($@"\b{N} of the \w+ scenarios, the ones the lab's requirements name"), rubric, "scenarios in rubric.ini"),
            (new Regex($@"\bregisters {N} methods\b"), methods, "methods the server registers"),
            (new Regex($@"\b{N} (?:lab |demo )?methods listed\b|\bthe {N} demo methods\b|\ball {N} demo methods\b"), DemoOracle.TenDemoMethods.Count, "demo methods of the lab"),
            (new Regex($@"\b{N} scenarios that stop or freeze a program\b"), ScenarioCatalog.All.Count(scenario => scenario.NeedsPosixSignals), "scenarios that need POSIX signals"),
            (new Regex($@"\b{N} namespace scenarios\b"), ScenarioCatalog.All.Count(scenario => scenario.NeedsNetwork), "scenarios on the namespace network"),
            (new Regex($@"\b{N} (?:`etcd-\*` |etcd )scenarios\b"), ScenarioCatalog.All.Count(scenario => scenario.Name.StartsWith("etcd-", StringComparison.Ordinal)), "etcd scenarios"),
        ];
    }

    private static int? ParseNumber(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int number) ? number
        : Array.IndexOf(NumberWords, text.ToLowerInvariant()) is var index and >= 0 ? index
        : text.ToLowerInvariant() switch { "thirty" => 30, "forty" => 40, "fifty" => 50, _ => null };

    // The page's lines with code blocks blanked out (output may legitimately contain other counts).
    private static string[] Prose(string markdown)
    {
        string[] lines = markdown.ReplaceLineEndings("\n").Split('\n');
        bool inFence = false;
        for (int index = 0; index < lines.Length; index++)
        {
            bool fence = lines[index].TrimStart().StartsWith("```", StringComparison.Ordinal);
            if (fence || inFence)
            {
                lines[index] = "";
            }

            inFence ^= fence;
        }

        return lines;
    }

    [GeneratedRegex(@"(?<n>\d+|[a-z]+) (?:error codes|scenarios)")]
    private static partial Regex NumberInPhrase();
}
