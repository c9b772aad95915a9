using System.Text.Json;
using Lab.Client;

namespace Lab.Tests.Client;

public class JsonValuesTests
{
    [TestCase("13", 13L)]
    [TestCase("2.5", 2.5)]
    [TestCase("\"text\"", "text")]
    [TestCase("true", true)]
    [TestCase("null", null)]
    public void Scalars_become_plain_dotnet_values(string json, object? expected)
    {
        using JsonDocument document = JsonDocument.Parse(json);

        JsonValues.ToNatural(document.RootElement).ShouldBe(expected);
    }

    [Test]
    public void A_whole_number_past_the_range_of_long_arrives_as_a_double()
    {
        using JsonDocument document = JsonDocument.Parse("18446744073709551616");

        JsonValues.ToNatural(document.RootElement).ShouldBe(18446744073709551616.0);
    }

    [Test]
    public void Arrays_and_objects_become_List_and_Dictionary_all_the_way_down()
    {
        using JsonDocument document = JsonDocument.Parse("""{"items": [1, {"deep": [true, null]}]}""");

        var root = JsonValues.ToNatural(document.RootElement).ShouldBeOfType<Dictionary<string, object?>>();

        List<object?> items = root["items"].ShouldBeOfType<List<object?>>();
        items[0].ShouldBe(1L);
        items[1].ShouldBeOfType<Dictionary<string, object?>>()["deep"].ShouldBeOfType<List<object?>>().ShouldBe([true, null]);
    }
}
