using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;
using Google.Protobuf;

namespace EasyIm.UnitTests.Gateway;

public class ProtocolSnifferTests
{
    [Theory]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("POST /api/user/login HTTP/1.1\r\n")]
    [InlineData("PUT ")]
    [InlineData("DELETE /x")]
    [InlineData("HEAD /")]
    [InlineData("OPTIONS * HTTP/1.1")]
    [InlineData("PATCH /")]
    public void An_http_request_line_is_http(string start) =>
        Assert.Equal(SniffResult.Http, ProtocolSniffer.Sniff(Segments.Of(start)));

    [Theory]
    [InlineData("{\"msg_type\":4}")]
    [InlineData("{}")]
    [InlineData("{ \"a\":1}")]
    [InlineData("{\n")]
    [InlineData("{\r\n")]
    [InlineData("{\t")]
    public void A_brace_then_quote_brace_or_whitespace_is_json(string start) =>
        Assert.Equal(SniffResult.Json, ProtocolSniffer.Sniff(Segments.Of(start)));

    [Theory]
    [InlineData("G")]
    [InlineData("GE")]
    [InlineData("OPTIONS")]
    [InlineData("{")]
    [InlineData("")]
    public void A_prefix_that_could_still_be_either_needs_more(string start) =>
        Assert.Equal(SniffResult.NeedMore, ProtocolSniffer.Sniff(Segments.Of(start)));

    [Fact]
    public void A_delimited_protobuf_heartbeat_is_protobuf_even_when_its_length_reads_as_a_brace_or_letter()
    {
        foreach (var length in new[] { (int)'{', 'G', 'P' })
        {
            var msg = new Msg { FromUserId = "1", MsgType = Msg.Types.MsgType.Event };
            msg.Content = new string('x', length - msg.CalculateSize() - 2);
            using var stream = new MemoryStream();
            msg.WriteDelimitedTo(stream);
            var bytes = stream.ToArray();
            Assert.Equal(length, bytes[0]);

            Assert.Equal(SniffResult.Protobuf, ProtocolSniffer.Sniff(Segments.Of(bytes)));
        }
    }

    [Fact]
    public void Split_segments_are_read_as_one()
    {
        Assert.Equal(SniffResult.Http, ProtocolSniffer.Sniff(Segments.Of("GE", "T", " /")));
        Assert.Equal(SniffResult.Json, ProtocolSniffer.Sniff(Segments.Of("{", "\"")));
    }

    [Fact]
    public void Random_bytes_are_protobuf() =>
        Assert.Equal(SniffResult.Protobuf, ProtocolSniffer.Sniff(Segments.Of(new byte[] { 0x9C, 0x01, 0xFF })));
}
