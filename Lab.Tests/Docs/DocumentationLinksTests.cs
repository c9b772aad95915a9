namespace Lab.Tests.Docs;

/// <summary>
/// The tutorial in docs/ and the root README point at code, tests, scenarios and each other's
/// headings. These tests fail, listing every broken reference with its file and line, as soon as a
/// file is renamed or a heading reworded without the docs following.
/// </summary>
[TestFixture]
public sealed class DocumentationLinksTests
{
    private string _fakeRepository = "";

    [SetUp]
    public void CreateFakeRepository()
    {
        // A tiny repository of our own for the synthetic cases: they must not depend on the real docs.
        _fakeRepository = Path.Combine(Path.GetTempPath(), $"rpclab-docs-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(_fakeRepository, "docs"));
        Directory.CreateDirectory(Path.Combine(_fakeRepository, "Lab.Server"));
        File.WriteAllText(Path.Combine(_fakeRepository, "Lab.Server", "TcpServer.cs"), "// the real file\n");
        File.WriteAllText(Path.Combine(_fakeRepository, "README.md"), "# RpcLab\n");
        File.WriteAllText(Path.Combine(_fakeRepository, "docs", "02-message-format.md"),
            "# 2. The message format\n\n## Why JSON?\n\n## TCP is a byte stream: the sticky packet lesson\n");
    }

    [TearDown]
    public void DeleteFakeRepository() => Directory.Delete(_fakeRepository, recursive: true);

    [Test]
    public void Every_link_and_file_path_in_the_docs_and_the_root_readme_resolves()
    {
        string root = DocumentationFiles.RepositoryRoot();
        IReadOnlyList<string> files = DocumentationFiles.MarkdownFiles(root);
        var checker = new MarkdownLinkChecker(root);

        List<BrokenLink> broken = [.. files.SelectMany(checker.CheckFile)];

        // Guard against a vacuous pass: the tutorial exists and the scan really found its links.
        files.ShouldContain("docs/README.md");
        checker.ReferencesChecked.ShouldBeGreaterThan(200);
        // The count, not the list, is asserted: the message below lists each broken reference on its own line.
        broken.Count.ShouldBe(0, Describe(broken));
    }

    [Test]
    public void A_broken_link_a_missing_code_path_and_an_unknown_anchor_are_each_reported_with_file_and_line()
    {
        const string markdown = """
            # Chapter

            The server is [TcpServer](../Lab.Server/TcpServer.cs), not [TcpServr](../Lab.Server/TcpServr.cs).
            See `Lab.Server/TcpServer.cs` and `Lab.Server/RpcServer.cs`.
            Framing is explained in [chapter 2](02-message-format.md#why-json), not [here](02-message-format.md#why-xml).
            Back to [the top](#chapter) or [nowhere](#no-such-heading).
            """;
        var checker = new MarkdownLinkChecker(_fakeRepository);

        IReadOnlyList<BrokenLink> broken = checker.Check("docs/03-server.md", markdown);

        broken.Select(link => link.ToString()).ShouldBe(
        [
            "docs/03-server.md:3: [TcpServr](../Lab.Server/TcpServr.cs) -> no such file or folder: Lab.Server/TcpServr.cs",
            "docs/03-server.md:4: `Lab.Server/RpcServer.cs` -> no such file or folder: Lab.Server/RpcServer.cs",
            "docs/03-server.md:5: [here](02-message-format.md#why-xml) -> no heading with anchor #why-xml in docs/02-message-format.md",
            "docs/03-server.md:6: [nowhere](#no-such-heading) -> no heading with anchor #no-such-heading in docs/03-server.md",
        ]);
        checker.ReferencesChecked.ShouldBe(8);
    }

    [Test]
    public void The_failure_message_lists_every_broken_link_with_file_and_line()
    {
        BrokenLink[] broken =
        [
            new("docs/01-overview.md", 7, "[x](missing.md)", "no such file or folder: docs/missing.md"),
            new("README.md", 12, "`Lab.Nowhere/A.cs`", "no such file or folder: Lab.Nowhere/A.cs"),
        ];

        string message = Describe(broken);

        message.ShouldContain("2 broken references");
        message.ShouldContain("docs/01-overview.md:7: [x](missing.md) -> no such file or folder: docs/missing.md");
        message.ShouldContain("README.md:12: `Lab.Nowhere/A.cs` -> no such file or folder: Lab.Nowhere/A.cs");
    }

    [Test]
    public void Fenced_code_external_urls_and_plain_code_spans_are_not_references()
    {
        const string markdown = """
            Run it:

            ```bash
            dotnet run --project Lab.Nowhere -- [x](missing.md) `Lab.Nowhere/Program.cs`
            ```

            See [the .NET docs](https://learn.microsoft.com/dotnet/) and `RpcClient.CallAsync`, `-p 8089`, `[client] call_timeout`.
            A link shown as code: `[x](missing.md)`.
            """;
        var checker = new MarkdownLinkChecker(_fakeRepository);

        checker.Check("docs/guide.md", markdown).ShouldBeEmpty();
        checker.ReferencesChecked.ShouldBe(0);
    }

    [Test]
    public void A_path_differing_only_in_letter_case_is_broken()
    {
        var checker = new MarkdownLinkChecker(_fakeRepository);

        IReadOnlyList<BrokenLink> broken = checker.Check("docs/guide.md", "[server](../lab.server/tcpserver.cs)\n");

        broken.Single().Problem.ShouldBe("no such file or folder: lab.server/tcpserver.cs");
    }

    [Test]
    public void A_link_leaving_the_repository_is_broken()
    {
        var checker = new MarkdownLinkChecker(_fakeRepository);

        IReadOnlyList<BrokenLink> broken = checker.Check("docs/guide.md", "[secrets](../../etc/passwd)\n");

        broken.Single().Problem.ShouldBe("points outside the repository: ../../etc/passwd");
    }

    [Test]
    public void Links_to_folders_root_files_and_headings_of_the_same_file_resolve()
    {
        const string markdown = """
            # Guide

            The [server folder](../Lab.Server/), the [README](../README.md#rpclab), the
            [sticky packets](02-message-format.md#tcp-is-a-byte-stream-the-sticky-packet-lesson) and [the top](#guide).
            """;
        var checker = new MarkdownLinkChecker(_fakeRepository);

        checker.Check("docs/guide.md", markdown).ShouldBeEmpty();
        checker.ReferencesChecked.ShouldBe(4);
    }

    [Test]
    public void An_explicit_html_anchor_is_a_link_target_and_one_shown_as_code_is_not()
    {
        const string markdown = """
            # Requirements

            <a id="req-3"></a>
            ## 3. The wire protocol

            - <a id="req-3-2"></a>**3.2** Framing. An example anchor: `<a id="req-9"></a>`.
            """;

        MarkdownLinkChecker.Anchors(markdown).Order(StringComparer.Ordinal)
            .ShouldBe(["3-the-wire-protocol", "req-3", "req-3-2", "requirements"]);
    }

    [TestCase("Why JSON?", "why-json")]
    [TestCase("2. The message format", "2-the-message-format")]
    [TestCase("TCP is a byte stream: the sticky packet lesson", "tcp-is-a-byte-stream-the-sticky-packet-lesson")]
    [TestCase("Active stop: Ctrl+C or SIGTERM", "active-stop-ctrlc-or-sigterm")]
    [TestCase("RegistryClient: register, heartbeat, unregister", "registryclient-register-heartbeat-unregister")]
    [TestCase("The `all_your_methods` call", "the-all_your_methods-call")]
    [TestCase("See [the code](../Lab.Server/TcpServer.cs)", "see-the-code")]
    [TestCase("粘包 (sticky packets)", "粘包-sticky-packets")]
    public void Heading_anchors_follow_the_code_hosts_rules(string heading, string anchor) =>
        MarkdownLinkChecker.Slug(heading).ShouldBe(anchor);

    [Test]
    public void Repeated_headings_get_numbered_anchors_and_headings_in_code_blocks_none()
    {
        const string markdown = """
            ## Example
            ## Example
            ```text
            ## Not a heading
            ```
            """;

        MarkdownLinkChecker.Anchors(markdown).Order(StringComparer.Ordinal).ShouldBe(["example", "example-1"]);
    }

    private static string Describe(IReadOnlyCollection<BrokenLink> broken) =>
        $"{broken.Count} broken references in the documentation:{Environment.NewLine}"
        + string.Join(Environment.NewLine, broken.Select(link => "  " + link));
}
