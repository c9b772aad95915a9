using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Lab.Scenarios.Harness;

namespace Lab.Tests.Registry;

/// <summary>
/// Lab.Registry.http is documentation a student runs from an editor; every request in it is sent to a
/// real registry here and must get the status its title promises (<c>-> 400</c>), so the file cannot
/// drift from the routes.
/// </summary>
public partial class RegistryHttpFileTests
{
    private static string HttpFilePath => Path.Combine(LabPrograms.Locate().RepositoryRoot, "Lab.Registry", "Lab.Registry.http");

    [Test]
    public async Task Every_request_in_the_http_file_gets_the_status_its_title_names()
    {
        await using RunningRegistry registry = await RunningRegistry.StartAsync();
        HttpRequestBlock[] requests = [.. Parse(File.ReadAllText(HttpFilePath), registry.BaseUri.ToString().TrimEnd('/'))];

        requests.Length.ShouldBeGreaterThanOrEqualTo(10);
        var wrong = new List<string>();
        foreach (HttpRequestBlock block in requests)
        {
            using var request = new HttpRequestMessage(new HttpMethod(block.Method), block.Url);
            if (block.Body.Length > 0)
            {
                request.Content = new StringContent(block.Body, Encoding.UTF8, "application/json");
            }

            using HttpResponseMessage response = await registry.Http.SendAsync(request);
            if ((int)response.StatusCode != block.ExpectedStatus)
            {
                wrong.Add($"{block.Title}: got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        wrong.ShouldBeEmpty();
    }

    [Test]
    public void The_http_file_covers_every_route_and_bad_input()
    {
        HttpRequestBlock[] requests = [.. Parse(File.ReadAllText(HttpFilePath), "http://registry")];

        string[] routes = [.. requests.Select(block => $"{block.Method} {new Uri(block.Url).AbsolutePath}").Distinct()];
        routes.ShouldContain("POST /myRegistry/register");
        routes.ShouldContain("POST /myRegistry/unregister");
        routes.ShouldContain("GET /myRegistry/findAllInstances");
        routes.ShouldContain("GET /dashboard");
        routes.ShouldContain("GET /dashboard/state");
        requests.Count(block => block.ExpectedStatus == 400).ShouldBeGreaterThanOrEqualTo(5);
        requests.ShouldContain(block => block.ExpectedStatus == 404);
    }

    private sealed record HttpRequestBlock(string Title, int ExpectedStatus, string Method, string Url, string Body);

    // The editor format: "### title", a "METHOD URL" line, headers, a blank line, the body. {{registry}} is the variable.
    private static IEnumerable<HttpRequestBlock> Parse(string text, string registry)
    {
        foreach (string block in text.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n###").Skip(1))
        {
            string[] lines = block.Split('\n');
            string title = lines[0].Trim();
            Match expected = ExpectedStatus().Match(title);
            expected.Success.ShouldBeTrue($"the title \"{title}\" names no status (-> NNN)");
            string[] requestLine = lines[1].Split(' ', 2);
            int blank = Array.FindIndex(lines, 2, line => line.Trim().Length == 0);
            string body = blank < 0 ? "" : string.Join('\n', lines[(blank + 1)..]).Trim();
            yield return new HttpRequestBlock(
                title,
                int.Parse(expected.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
                requestLine[0],
                requestLine[1].Trim().Replace("{{registry}}", registry, StringComparison.Ordinal),
                body);
        }
    }

    [GeneratedRegex(@"-> (\d{3})")]
    private static partial Regex ExpectedStatus();
}
