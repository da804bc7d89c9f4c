using System.Buffers;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;
using Google.Protobuf;

namespace EasyIm.UnitTests.Gateway;

public class VarintFrameReaderTests
{
    private static byte[] Delimited(params Msg[] messages)
    {
        using var stream = new MemoryStream();
        foreach (var msg in messages)
            msg.WriteDelimitedTo(stream);
        return stream.ToArray();
    }

    private static Msg Heartbeat(string user) => new() { MsgType = Msg.Types.MsgType.Event, FromUserId = user, Content = "{\"key\":\"KEEP_ALIVE\"}" };

    private static List<Msg> ReadAll(IFrameReader reader, ref ReadOnlySequence<byte> buffer)
    {
        var frames = new List<Msg>();
        while (reader.TryParseFrame(ref buffer, out var frame))
            frames.Add(Msg.Parser.ParseFrom(frame));
        return frames;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void Frames_written_by_WriteDelimitedTo_are_read_whatever_the_segment_size(int segmentSize)
    {
        var buffer = Segments.Chunked(Delimited(Heartbeat("1"), Heartbeat("22"), Heartbeat("333")), segmentSize);

        var frames = ReadAll(new VarintFrameReader(65536), ref buffer);

        Assert.Equal(["1", "22", "333"], frames.Select(f => f.FromUserId));
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void A_length_prefix_split_across_segments_is_read()
    {
        var body = new Msg { Content = new string('x', 300) }.ToByteArray();
        Assert.True(body.Length > 127, "needs a two-byte length prefix");
        var bytes = Delimited(new Msg { Content = new string('x', 300) });

        var buffer = Segments.Of(bytes[..1], bytes[1..2], bytes[2..]);

        Assert.Equal(new string('x', 300), Assert.Single(ReadAll(new VarintFrameReader(65536), ref buffer)).Content);
    }

    [Fact]
    public void A_partial_frame_waits_for_the_rest_and_leaves_the_buffer_as_it_was()
    {
        var bytes = Delimited(Heartbeat("42"));
        var reader = new VarintFrameReader(65536);

        var onlyPrefix = Segments.Of(bytes[..1]);
        var truncated = Segments.Of(bytes[..^1]);

        Assert.False(reader.TryParseFrame(ref onlyPrefix, out _));
        Assert.Equal(1, onlyPrefix.Length);
        Assert.False(reader.TryParseFrame(ref truncated, out _));
        Assert.Equal(bytes.Length - 1, truncated.Length);
    }

    [Fact]
    public void A_length_over_the_limit_is_refused_from_the_prefix_alone()
    {
        // 100000 as a varint, and no body at all: refused before any of it is buffered.
        var buffer = Segments.Of(new byte[] { 0xA0, 0x8D, 0x06 });

        var ex = Assert.Throws<FrameException>(() => new VarintFrameReader(65536).TryParseFrame(ref buffer, out _));
        Assert.Contains("65536", ex.Message);
    }

    [Fact]
    public void A_huge_length_is_refused_as_soon_as_it_passes_the_limit()
    {
        var buffer = Segments.Of(new byte[] { 0xFF, 0xFF, 0xFF });

        Assert.Throws<FrameException>(() => new VarintFrameReader(65536).TryParseFrame(ref buffer, out _));
    }

    [Fact]
    public void A_varint_longer_than_five_bytes_is_invalid()
    {
        // Continuation bits on zero payload: a value that stays small but never ends.
        var buffer = Segments.Of(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 });

        var ex = Assert.Throws<FrameException>(() => new VarintFrameReader(65536).TryParseFrame(ref buffer, out _));
        Assert.Contains("varint", ex.Message);
    }

    [Fact]
    public void A_zero_length_frame_is_an_empty_message()
    {
        var buffer = Segments.Of(new byte[] { 0x00 }, Delimited(Heartbeat("7")));

        var frames = ReadAll(new VarintFrameReader(65536), ref buffer);

        Assert.Equal(2, frames.Count);
        Assert.Equal(new Msg(), frames[0]);
        Assert.Equal("7", frames[1].FromUserId);
    }
}
