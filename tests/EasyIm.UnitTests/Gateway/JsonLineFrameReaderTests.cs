using System.Buffers;
using System.Text;
using EasyIm.Gateway.Wire;

namespace EasyIm.UnitTests.Gateway;

public class JsonLineFrameReaderTests
{
    private readonly JsonLineFrameReader _reader = new(64);

    private List<string> ReadAll(ref ReadOnlySequence<byte> buffer)
    {
        var frames = new List<string>();
        while (_reader.TryParseFrame(ref buffer, out var frame))
            frames.Add(Segments.Text(frame));
        return frames;
    }

    [Fact]
    public void A_line_split_across_segments_is_one_frame()
    {
        var buffer = Segments.Of("{\"msg", "_type\":", "4}", "\n");

        Assert.Equal(["{\"msg_type\":4}"], ReadAll(ref buffer));
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void Several_lines_in_one_buffer_come_out_in_order_and_the_partial_one_waits()
    {
        var buffer = Segments.Of("{\"a\":1}\n{\"b\":2}\n{\"c\"");

        var frames = ReadAll(ref buffer);

        Assert.Equal(["{\"a\":1}", "{\"b\":2}"], frames);
        Assert.Equal("{\"c\"", Segments.Text(buffer));
    }

    [Fact]
    public void A_partial_line_is_not_a_frame()
    {
        var buffer = Segments.Of("{\"a\":", "1}");

        Assert.False(_reader.TryParseFrame(ref buffer, out _));
        Assert.Equal(7, buffer.Length);
    }

    [Fact]
    public void Crlf_endings_are_stripped_and_blank_lines_skipped()
    {
        var buffer = Segments.Of("\r\n\n  \r\n{\"a\":1}\r", "\n\n\t\n{\"b\":2}\n");

        Assert.Equal(["{\"a\":1}", "{\"b\":2}"], ReadAll(ref buffer));
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void A_line_over_the_limit_is_refused_before_its_newline_arrives()
    {
        var buffer = Segments.Of(new string('x', 40), new string('x', 40));

        var ex = Assert.Throws<FrameException>(() => _reader.TryParseFrame(ref buffer, out _));
        Assert.Contains("64", ex.Message);
    }

    [Fact]
    public void A_complete_line_over_the_limit_is_refused()
    {
        var buffer = Segments.Of(new string('x', 65) + "\n{}\n");

        Assert.Throws<FrameException>(() => _reader.TryParseFrame(ref buffer, out _));
    }

    [Fact]
    public void A_line_exactly_at_the_limit_is_accepted()
    {
        var line = "{\"content\":\"" + new string('x', 64 - 14) + "\"}";
        Assert.Equal(64, Encoding.UTF8.GetByteCount(line));
        var buffer = Segments.Chunked(Encoding.UTF8.GetBytes(line + "\n"), 7);

        Assert.Equal([line], ReadAll(ref buffer));
    }
}
