using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Text;
using EasyIm.Gateway.Proxies;

namespace EasyIm.UnitTests.Gateway;

public class ProxyProtocolTests
{
    private static readonly byte[] V2Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static ProxyHeaderStatus Parse(ReadOnlySequence<byte> buffer, out ProxyHeader header, out string rest)
    {
        var status = ProxyProtocol.TryParse(ref buffer, out header, out _);
        rest = Segments.Text(buffer);
        return status;
    }

    /// <summary>A v2 header: command (0 LOCAL, 1 PROXY), family/protocol byte, the address block and any TLVs.</summary>
    private static byte[] V2(int command, byte familyProtocol, byte[] block, int version = 2)
    {
        var header = new byte[16 + block.Length];
        V2Signature.CopyTo(header, 0);
        header[12] = (byte)(version << 4 | command);
        header[13] = familyProtocol;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)block.Length);
        block.CopyTo(header, 16);
        return header;
    }

    private static byte[] Inet4Block(string source, string destination, ushort sourcePort, ushort destinationPort, int tlvBytes = 0)
    {
        var block = new byte[12 + tlvBytes];
        IPAddress.Parse(source).GetAddressBytes().CopyTo(block, 0);
        IPAddress.Parse(destination).GetAddressBytes().CopyTo(block, 4);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(8), sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(10), destinationPort);
        return block;
    }

    [Fact]
    public void A_v1_tcp4_line_gives_the_client_and_leaves_the_bytes_after_it()
    {
        Assert.Equal(ProxyHeaderStatus.Done, Parse(Segments.Of("PROXY TCP4 203.0.113.7 10.0.0.2 51234 8888\r\nGET / HTTP/1.1\r\n"), out var header, out var rest));

        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51234), header.Source);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.0.0.2"), 8888), header.Destination);
        Assert.Equal(1, header.Version);
        Assert.Equal("GET / HTTP/1.1\r\n", rest);
    }

    [Fact]
    public void A_v1_tcp6_line_gives_the_client()
    {
        Assert.Equal(ProxyHeaderStatus.Done, Parse(Segments.Of("PROXY TCP6 2001:db8::7 2001:db8::1 40000 8889\r\n{"), out var header, out var rest));

        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::7"), 40000), header.Source);
        Assert.Equal("{", rest);
    }

    [Fact]
    public void A_v1_unknown_line_is_read_and_leaves_the_proxys_own_address()
    {
        Assert.Equal(ProxyHeaderStatus.Done, Parse(Segments.Of("PROXY UNKNOWN\r\nrest"), out var header, out var rest));

        Assert.Null(header.Source);
        Assert.Equal("rest", rest);
    }

    [Fact]
    public void A_v1_line_split_across_segments_anywhere_is_read_the_same()
    {
        var bytes = Encoding.ASCII.GetBytes("PROXY TCP4 198.51.100.9 10.0.0.2 1 65535\r\nafter");
        for (var size = 1; size < bytes.Length; size++)
        {
            Assert.Equal(ProxyHeaderStatus.Done, Parse(Segments.Chunked(bytes, size), out var header, out var rest));
            Assert.Equal(new IPEndPoint(IPAddress.Parse("198.51.100.9"), 1), header.Source);
            Assert.Equal("after", rest);
        }
    }

    [Fact]
    public void Every_prefix_of_a_header_needs_more_and_consumes_nothing()
    {
        var v1 = Encoding.ASCII.GetBytes("PROXY TCP4 198.51.100.9 10.0.0.2 1 2\r\n");
        var v2 = V2(1, 0x11, Inet4Block("198.51.100.9", "10.0.0.2", 1, 2));
        foreach (var whole in new[] { v1, v2 })
        {
            for (var length = 0; length < whole.Length; length++)
            {
                var buffer = Segments.Chunked(whole[..length], 3);
                Assert.Equal(ProxyHeaderStatus.NeedMore, ProxyProtocol.TryParse(ref buffer, out _, out _));
                Assert.Equal(length, buffer.Length);
            }
        }
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("{\"msg_type\":4}\n")]
    [InlineData("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n")]
    [InlineData("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 10.1 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 0x0a.1.2.3 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n")]
    [InlineData("PROXY TCP6 1.2.3.4 2001:db8::1 1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n")]
    [InlineData("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n")]
    [InlineData("PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n")]
    public void Garbage_or_a_malformed_v1_line_is_invalid(string start)
    {
        var buffer = Segments.Of(start);

        Assert.Equal(ProxyHeaderStatus.Invalid, ProxyProtocol.TryParse(ref buffer, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void A_v1_line_without_its_end_within_107_bytes_is_invalid_without_waiting_for_more()
    {
        var endless = Segments.Of("PROXY TCP4 " + new string('1', 200));
        Assert.Equal(ProxyHeaderStatus.Invalid, ProxyProtocol.TryParse(ref endless, out _, out _));

        var longLine = Segments.Of("PROXY UNKNOWN " + new string('x', 100) + "\r\n");
        Assert.Equal(ProxyHeaderStatus.Invalid, ProxyProtocol.TryParse(ref longLine, out _, out _));
    }

    [Fact]
    public void A_v2_inet_header_gives_the_client_and_skips_its_tlvs()
    {
        var header = V2(1, 0x11, Inet4Block("203.0.113.50", "10.0.0.2", 40001, 8888, tlvBytes: 20));

        Assert.Equal(ProxyHeaderStatus.Done, Parse(Segments.Of(header, "after"u8.ToArray()), out var parsed, out var rest));

        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.50"), 40001), parsed.Source);
        Assert.Equal(2, parsed.Version);
        Assert.Equal("after", rest);
    }

    [Fact]
    public void A_v2_inet6_header_gives_the_client()
    {
        var block = new byte[36];
        IPAddress.Parse("2001:db8::42").GetAddressBytes().CopyTo(block, 0);
        IPAddress.Parse("2001:db8::1").GetAddressBytes().CopyTo(block, 16);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(32), 50000);
        BinaryPrimitives.WriteUInt16BigEndian(block.AsSpan(34), 8889);

        Assert.Equal(ProxyHeaderStatus.Done, Parse(Segments.Of(V2(1, 0x21, block)), out var parsed, out _));

        Assert.Equal(new IPEndPoint(IPAddress.Parse("2001:db8::42"), 50000), parsed.Source);
    }

    [Fact]
    public void A_v2_header_split_across_segments_anywhere_is_read_the_same()
    {
        var bytes = V2(1, 0x11, Inet4Block("192.0.2.1", "10.0.0.2", 1234, 8888, tlvBytes: 7)).Concat("x"u8.ToArray()).ToArray();
        for (var size = 1; size < bytes.Length; size++)
        {
            Assert.Equal(ProxyHeaderStatus.Done, Parse(Segments.Chunked(bytes, size), out var parsed, out var rest));
            Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.1"), 1234), parsed.Source);
            Assert.Equal("x", rest);
        }
    }

    [Fact]
    public void A_v2_local_command_is_read_and_names_no_client()
    {
        Assert.Equal(ProxyHeaderStatus.Done, Parse(Segments.Of(V2(0, 0x00, [])), out var parsed, out _));

        Assert.Null(parsed.Source);
    }

    [Theory]
    [InlineData(2, 0x11, 12)]  // unknown command
    [InlineData(1, 0x41, 12)]  // unknown family
    [InlineData(1, 0x14, 12)]  // unknown protocol
    [InlineData(1, 0x11, 8)]   // address block too short for IPv4
    [InlineData(1, 0x21, 12)]  // too short for IPv6
    public void A_malformed_v2_header_is_invalid(int command, byte familyProtocol, int blockLength)
    {
        var buffer = Segments.Of(V2(command, familyProtocol, new byte[blockLength]));

        Assert.Equal(ProxyHeaderStatus.Invalid, ProxyProtocol.TryParse(ref buffer, out _, out _));
    }

    [Fact]
    public void A_v2_header_of_another_version_is_invalid()
    {
        var buffer = Segments.Of(V2(1, 0x11, new byte[12], version: 1));

        Assert.Equal(ProxyHeaderStatus.Invalid, ProxyProtocol.TryParse(ref buffer, out _, out _));
    }

    [Fact]
    public void An_oversized_v2_header_is_invalid_from_its_length_alone_before_its_body_arrives()
    {
        var header = V2(1, 0x11, new byte[ProxyProtocol.MaxV2Bytes]);
        var onlyTheFixedPart = Segments.Of(header[..16]);

        Assert.Equal(ProxyHeaderStatus.Invalid, ProxyProtocol.TryParse(ref onlyTheFixedPart, out _, out var error));
        Assert.Contains("more than", error);
    }
}
