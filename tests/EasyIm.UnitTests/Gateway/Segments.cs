using System.Buffers;
using System.Text;

namespace EasyIm.UnitTests.Gateway;

/// <summary>Builds ReadOnlySequences split into several segments, as a socket delivers bytes.</summary>
internal static class Segments
{
    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }

    public static ReadOnlySequence<byte> Of(params byte[][] parts)
    {
        if (parts.Length == 0)
            return ReadOnlySequence<byte>.Empty;
        var first = new Segment(parts[0], null);
        var last = first;
        foreach (var part in parts.Skip(1))
            last = new Segment(part, last);
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    public static ReadOnlySequence<byte> Of(params string[] parts) => Of([.. parts.Select(Encoding.UTF8.GetBytes)]);

    /// <summary>The bytes split into segments of <paramref name="size"/> bytes each.</summary>
    public static ReadOnlySequence<byte> Chunked(byte[] bytes, int size) => Of([.. bytes.Chunk(size)]);

    public static string Text(ReadOnlySequence<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
