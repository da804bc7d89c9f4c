using System.Buffers;

namespace EasyIm.Gateway.Wire;

/// <summary>
/// Newline-delimited JSON, as <c>nc</c> sends it: one JSON <c>Msg</c> per line, <c>\r\n</c> or
/// <c>\n</c>. Blank lines are skipped (a terminal's stray Enter is not an error).
/// </summary>
public sealed class JsonLineFrameReader(int maxFrameBytes) : IFrameReader
{
    public bool TryParseFrame(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> frame)
    {
        while (true)
        {
            var newline = buffer.PositionOf((byte)'\n');
            if (newline is null)
            {
                if (buffer.Length > maxFrameBytes)
                    throw new FrameException($"a JSON line longer than {maxFrameBytes} bytes");
                frame = default;
                return false;
            }

            var line = buffer.Slice(0, newline.Value);
            buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
            if (line.Length > maxFrameBytes)
                throw new FrameException($"a JSON line longer than {maxFrameBytes} bytes");
            if (IsBlank(line))
                continue;
            frame = TrimTrailingCarriageReturn(line);
            return true;
        }
    }

    private static bool IsBlank(ReadOnlySequence<byte> line)
    {
        foreach (var segment in line)
        {
            foreach (var b in segment.Span)
            {
                if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r'))
                    return false;
            }
        }
        return true;
    }

    private static ReadOnlySequence<byte> TrimTrailingCarriageReturn(ReadOnlySequence<byte> line)
    {
        if (line.Length > 0)
        {
            var last = line.Slice(line.Length - 1);
            if (last.FirstSpan[0] == (byte)'\r')
                return line.Slice(0, line.Length - 1);
        }
        return line;
    }
}
