using System.Text.Json;
using Lab.Client;

namespace Lab.Tests.Client;

public class ServerMethodsTests
{
    [Test]
    public void Names_are_read_from_the_specs_method_descriptions()
    {
        using JsonDocument listed = JsonDocument.Parse(
            """[{"method_name": "add", "method_args": ["a", "b"], "method_kwargs": {"c": 10}}, {"method_name": "hi", "method_args": ["user"]}]""");

        ServerMethods.ReadNames(listed.RootElement).ShouldBe(["add", "hi"], ignoreOrder: true);
    }

    [Test]
    public void A_bare_list_of_names_is_accepted_and_a_non_list_is_refused()
    {
        using JsonDocument names = JsonDocument.Parse("""["add", "hi"]""");
        using JsonDocument notAList = JsonDocument.Parse("""{"method_name": "add"}""");

        ServerMethods.ReadNames(names.RootElement).ShouldBe(["add", "hi"], ignoreOrder: true);
        Should.Throw<JsonException>(() => ServerMethods.ReadNames(notAList.RootElement));
    }
}
