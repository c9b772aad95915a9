using System.Text;
using Lab.Bench;

namespace Lab.Tests.Bench;

public class JsonMessageScannerTests
{
    [Test]
    public void Object_in_one_piece_is_complete_at_its_closing_brace()
    {
        var scanner = new JsonMessageScanner();

        ScanResult result = scanner.Scan("{\"res\": 13}\n{\"res\""u8, out int length);

        result.ShouldBe(ScanResult.Complete);
        length.ShouldBe("{\"res\": 13}".Length);
    }

    [Test]
    public void Object_split_over_reads_completes_only_when_its_last_byte_arrives()
    {
        byte[] message = "{\"method_name\":\"add\",\"method_args\":[1,[2]],\"method_kwargs\":{\"c\":{}}}"u8.ToArray();
        var scanner = new JsonMessageScanner();

        for (int received = 1; received < message.Length; received++)
        {
            scanner.Scan(message.AsSpan(0, received), out _).ShouldBe(ScanResult.Incomplete, $"after {received} bytes");
        }

        scanner.Scan(message, out int length).ShouldBe(ScanResult.Complete);
        length.ShouldBe(message.Length);
    }

    [Test]
    public void Brackets_and_escaped_quotes_inside_strings_do_not_end_the_object()
    {
        byte[] message = Encoding.UTF8.GetBytes("{\"res\":\"} ] \\\" { [ \\\\\"}");
        var scanner = new JsonMessageScanner();

        scanner.Scan(message, out int length).ShouldBe(ScanResult.Complete);

        length.ShouldBe(message.Length);
    }

    [Test]
    public void Backslash_at_the_end_of_a_read_still_escapes_the_next_byte()
    {
        byte[] message = Encoding.UTF8.GetBytes("{\"a\":\"x\\\"}\"}");
        int backslash = Array.IndexOf(message, (byte)'\\');
        var scanner = new JsonMessageScanner();

        scanner.Scan(message.AsSpan(0, backslash + 1), out _).ShouldBe(ScanResult.Incomplete);
        scanner.Scan(message, out int length).ShouldBe(ScanResult.Complete);

        length.ShouldBe(message.Length);
    }

    [Test]
    public void Echo_payload_is_the_first_string_in_the_first_argument_array()
    {
        byte[] message = "{\"method_name\":\"echo\",\"method_args\":[\"hello\"],\"method_kwargs\":{\"k\":\"v\"}}"u8.ToArray();
        var scanner = new JsonMessageScanner();

        scanner.Scan(message, out _).ShouldBe(ScanResult.Complete);

        scanner.HasPayload.ShouldBeTrue();
        Encoding.UTF8.GetString(message.AsSpan(scanner.PayloadStart..scanner.PayloadEnd)).ShouldBe("hello");
    }

    [Test]
    public void Add_call_has_no_payload_even_with_string_kwargs()
    {
        var scanner = new JsonMessageScanner();

        scanner.Scan("{\"method_name\":\"add\",\"method_args\":[1,2],\"method_kwargs\":{\"c\":\"x\"}}"u8, out _).ShouldBe(ScanResult.Complete);

        scanner.HasPayload.ShouldBeFalse();
    }

    [Test]
    public void Stream_that_does_not_start_with_an_object_is_malformed()
    {
        var scanner = new JsonMessageScanner();

        scanner.Scan("[1,2]"u8, out _).ShouldBe(ScanResult.Malformed);
    }

    [Test]
    public void Reset_starts_the_next_message_from_scratch()
    {
        var scanner = new JsonMessageScanner();
        scanner.Scan("{\"method_args\":[\"a\"]}"u8, out _).ShouldBe(ScanResult.Complete);

        scanner.Reset();
        ScanResult result = scanner.Scan("{\"b\":1}"u8, out int length);

        result.ShouldBe(ScanResult.Complete);
        length.ShouldBe(7);
        scanner.HasPayload.ShouldBeFalse();
    }

    [Test]
    public void Leading_whitespace_is_counted_up_to_the_first_other_byte()
    {
        JsonMessageScanner.CountLeadingWhitespace(" \r\n\t{}"u8).ShouldBe(4);
        JsonMessageScanner.CountLeadingWhitespace("\n\n"u8).ShouldBe(2);
    }
}
