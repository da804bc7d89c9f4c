using System.Buffers;

namespace EasyIm.Gateway.Wire;

/// <summary>
/// Protobuf frames each prefixed with its length as a base-128 varint: what Google.Protobuf's
/// <c>WriteDelimitedTo</c> writes and <c>ParseDelimitedFrom</c> reads.
/// </summary>
public sealed class VarintFrameReader(int maxFrameBytes) : IFrameReader
{
    /// <summary>A 32-bit length never needs more than five varint bytes.</summary>
    private const int MaxPrefixBytes = 5;

    public bool TryParseFrame(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame)
    {
        frame = default;
        var reader = new SequenceReader<byte>(buffer);
        ulong length = 0;
        var shift = 0;
        for (var i = 0; ; i++)
        {
            if (i == MaxPrefixBytes)
                throw new FrameException("a length prefix longer than 5 bytes is not a varint length");
            if (!reader.TryRead(out var b))
                return false;
            length |= (ulong)(b & 0x7F) << shift;
            shift += 7;
            // Refuse a length over the limit as soon as it shows, before waiting for its body.
            if (length > (ulong)maxFrameBytes)
                throw new FrameException($"a frame of {((b & 0x80) == 0 ? "" : "more than ")}{length} bytes is over the limit of {maxFrameBytes}");
            if ((b & 0x80) == 0)
                break;
        }

        if (reader.Remaining < (long)length)
            return false;
        frame = buffer.Slice(reader.Position, (long)length);
        buffer = buffer.Slice(frame.End);
        return true;
    }
}
